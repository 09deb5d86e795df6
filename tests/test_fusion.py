"""Fusion and sentence choice on tiny hand-checked rankings."""

import numpy as np
import pytest

from askbot.answer import best_sentence
from askbot.retrieval import RRF_K, fuse


def arr(*xs, dtype=np.int64):
    return np.asarray(xs, dtype=dtype)


def test_rrf_adds_reciprocal_ranks():
    hits = fuse(arr(1, 2, 3), arr(0.9, 0.8, 0.7, dtype=np.float32), arr(3, 1), arr(9.0, 5.0, dtype=np.float32), 1.0)
    by_pid = {h.passage_id: h for h in hits}
    assert by_pid[1].score == pytest.approx(1 / (RRF_K + 1) + 1 / (RRF_K + 2))
    assert by_pid[3].score == pytest.approx(1 / (RRF_K + 3) + 1 / (RRF_K + 1))
    assert by_pid[2].score == pytest.approx(1 / (RRF_K + 2))
    assert [h.passage_id for h in hits] == [1, 3, 2]
    assert by_pid[3].dense == pytest.approx(0.7) and by_pid[3].lexical == pytest.approx(9.0)
    assert by_pid[2].lexical is None


def test_zero_lexical_weight_keeps_dense_order():
    hits = fuse(arr(5, 6, 7), arr(0.9, 0.8, 0.7, dtype=np.float32), arr(7, 6), arr(3.0, 2.0, dtype=np.float32), 0.0)
    assert [h.passage_id for h in hits] == [5, 6, 7]


def test_best_sentence_prefers_rare_question_terms():
    text = "قال المسؤول إن الاجتماع كان مهما. ووقع الأعرجي وشمخاني المحضر الأمني المشترك. ثم غادر الوفد."
    weights = {"وقع": 1.0, "محضر": 3.0, "امني": 2.0}
    start, end, coverage = best_sentence(text, weights)
    assert text[start:end] == "ووقع الأعرجي وشمخاني المحضر الأمني المشترك."
    assert 0 < coverage <= 1
