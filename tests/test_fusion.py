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
    text = (
        "قال المسؤول إن الاجتماع كان مهما. ووقع الأعرجي وشمخاني في بغداد أمس المحضر الأمني المشترك بين البلدين. "
        "ثم غادر الوفد."
    )
    weights = {"وقع": 1.0, "محضر": 3.0, "امن": 2.0}  # stemmed forms, as tokenize gives
    start, end, coverage = best_sentence(text, weights)
    assert text[start:end] == "ووقع الأعرجي وشمخاني في بغداد أمس المحضر الأمني المشترك بين البلدين."
    assert coverage == 1.0


def test_short_matching_sentence_is_marked_with_the_next():
    text = "ويعرف أيضا باسم البلاستوم. وقد اكتشف عام 1962 في مختبر صغير. ولا علاقة لهذا بذاك."
    start, end, _ = best_sentence(text, {"بلاستوم": 2.0, "اكتشف": 1.0})
    assert text[start:end] == "ويعرف أيضا باسم البلاستوم. وقد اكتشف عام 1962 في مختبر صغير."


def test_rules_without_words_are_never_marked():
    text = "------------\nThe talks ended in Baghdad on Sunday with a signed protocol."
    start, end, _ = best_sentence(text, {"x": 1.0})
    assert text[start:end].startswith("The talks")


def _excerpt(article_id: str, text: str):
    from askbot.types import Citation, Excerpt

    cite = Citation(
        title=article_id, source=article_id, published="", url="", article_id=article_id, start=0, end=len(text)
    )
    return Excerpt(text=text, sentence=text, sentence_start=0, sentence_end=len(text), score=1.0, citation=cite)


def test_same_story_in_two_outlets_shows_once_with_the_other_source():
    from askbot.answer import collapse_duplicates

    wire = "أعلنت وزارة الخارجية اليوم عن زيارة رسمية للرئيس إلى العاصمة لبحث التعاون الاقتصادي بين البلدين."
    scored = [
        (_excerpt("bbc-1", wire), 0.9),
        (_excerpt("bbc-1", wire + " وأضاف المتحدث."), 0.8),  # same article: kept as its own excerpt
        (_excerpt("cnn-7", wire.replace("اليوم", "الأحد")), 0.7),  # other outlet, same story: folded
        (_excerpt("sky-3", "فاز الفريق في المباراة النهائية بهدفين نظيفين."), 0.5),
    ]
    collapsed = collapse_duplicates(scored)
    assert [e.citation.article_id for e, _ in collapsed] == ["bbc-1", "bbc-1", "sky-3"]
    assert [c.article_id for c in collapsed[0][0].also_in] == ["cnn-7"]
    assert collapsed[2][0].also_in == ()
