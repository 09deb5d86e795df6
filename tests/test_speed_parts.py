"""The speed and scale parts: flat/HNSW by size, resumable indexing by checkpoints (the int8 engine: test_embedding)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from askbot.arabic import lexical_terms as tokenize
from askbot.store import dense
from askbot.store.bm25 import score_matrix
from askbot.store.lexical import LexicalIndex

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "seeds" / "ant-sample.jsonl"


def unit_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


# ---- dense: exact below the threshold, HNSW from it ----------------------------------------------------
@pytest.fixture()
def small_threshold(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(dense, "HNSW_MIN_VECTORS", 200)
    return 200


def test_small_index_is_saved_flat_and_large_one_as_hnsw(tmp_path: Path, small_threshold: int) -> None:
    vectors = unit_vectors(small_threshold)
    index = dense.empty(32)
    dense.add(index, vectors[:50], np.arange(50))
    dense.save(index, tmp_path / "small.faiss")
    assert not dense.is_hnsw(dense.load(tmp_path / "small.faiss", 32))
    dense.add(index, vectors[50:], np.arange(50, small_threshold))
    dense.save(index, tmp_path / "large.faiss")
    large = dense.load(tmp_path / "large.faiss", 32)
    assert dense.is_hnsw(large) and large.ntotal == small_threshold
    ids, stored = dense.vectors_of(large)
    np.testing.assert_array_equal(np.sort(ids), np.arange(small_threshold))
    np.testing.assert_allclose(stored[np.argsort(ids)], vectors, atol=1e-6)


def test_hnsw_finds_what_exact_search_finds(small_threshold: int) -> None:
    vectors = unit_vectors(2000)
    flat = dense.empty(32)
    dense.add(flat, vectors, np.arange(1000, 3000))
    graph = dense.rebuilt(flat, hnsw=True)
    queries = unit_vectors(50, seed=1)
    recall = np.mean(
        [
            len(set(dense.search(graph, q, 10)[1]) & set(dense.search(flat, q, 10)[1])) / 10
            for q in queries  # random queries: the hardest case for a graph
        ]
    )
    assert recall >= 0.95
    scores, ids = dense.search(graph, vectors[7], 1)
    assert ids[0] == 1007 and scores[0] == pytest.approx(1.0, abs=1e-5)


def test_hnsw_takes_additions_and_turns_flat_to_delete(small_threshold: int) -> None:
    vectors = unit_vectors(400)
    index = dense.rebuilt(_flat(vectors[:300]), hnsw=True)
    dense.add(index, vectors[300:], np.arange(300, 400))
    assert dense.is_hnsw(index) and dense.search(index, vectors[350], 1)[1][0] == 350
    index = dense.remove(index, [350, 5])
    assert not dense.is_hnsw(index) and index.ntotal == 398
    assert 350 not in dense.search(index, vectors[350], 5)[1]
    assert dense.is_hnsw(dense.by_scale(index))


def test_filtered_search_on_hnsw_is_exact_within_the_filter(small_threshold: int) -> None:
    vectors = unit_vectors(1000)
    graph = dense.rebuilt(_flat(vectors), hnsw=True)
    allowed = list(range(0, 1000, 97))
    query = unit_vectors(1, seed=3)[0]
    scores, ids = dense.search(graph, query, 3, allowed)
    expected = np.asarray(allowed)[np.argsort(-(vectors[allowed] @ query))[:3]]
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(scores, vectors[ids] @ query, atol=1e-5)
    np.testing.assert_allclose(dense.scores_of(graph, query, ids), scores, atol=1e-5)


def _flat(vectors: np.ndarray) -> object:
    index = dense.empty(vectors.shape[1])
    dense.add(index, vectors, np.arange(len(vectors)))
    return index


# ---- BM25: the numpy score matrix is bm25s's -------------------------------------------------------------
def test_numpy_score_matrix_matches_bm25s(tmp_path: Path) -> None:
    texts = [json.loads(line)["text"][:600] for line in itertools.islice(SAMPLE.open(encoding="utf-8"), 60)]
    lexical = LexicalIndex.empty()
    lexical.add(
        range(len(texts) + 2), [tokenize(t) for t in [*texts, "", "... ،"]]
    )  # two passages without a single token
    reference = lexical._build().scores
    data, indices, indptr = score_matrix(lexical.tokens, lexical.offsets, len(lexical.vocab))
    np.testing.assert_array_equal(indices, reference["indices"])
    np.testing.assert_array_equal(indptr, reference["indptr"])
    np.testing.assert_allclose(data, reference["data"], rtol=1e-5, atol=1e-6)
    lexical.save(tmp_path / "lexical")
    loaded = LexicalIndex.load(tmp_path / "lexical")
    question = " ".join(texts[5].split()[3:8])
    scores = loaded.own_scores(tokenize(question))  # from the saved frequencies, as a one-segment reader scores
    assert scores.max() > 0
    np.testing.assert_allclose(scores, reference_scores(reference, lexical, question), rtol=1e-5, atol=1e-6)


def reference_scores(reference: dict, lexical: LexicalIndex, question: str) -> np.ndarray:
    out = np.zeros(reference["num_docs"], np.float32)
    for token in set(tokenize(question)):
        t = lexical.vocab.get(token)
        if t is not None:
            start, end = reference["indptr"][t], reference["indptr"][t + 1]
            np.add.at(out, reference["indices"][start:end], reference["data"][start:end])
    return out


# ---- resumable indexing ----------------------------------------------------------------------------------
class Interrupted(Exception):
    pass


ARTICLES = 24  # 24 passages: a group of 16, then one of 8


def test_an_interrupted_add_resumes_from_its_last_checkpoint(tmp_path: Path) -> None:
    import askbot

    news = tmp_path / "news.jsonl"
    with SAMPLE.open(encoding="utf-8") as src:  # short articles, one passage each: what is tested is the bookkeeping
        records = [json.loads(line) for line in itertools.islice(src, 0, ARTICLES)]
    news.write_text(
        "".join(json.dumps(r | {"text": r["text"][:300]}, ensure_ascii=False) + "\n" for r in records),
        encoding="utf-8",
    )
    # groups of 16 passages, each one committed: two checkpoints at least
    kb = askbot.open(tmp_path / "vectors", batch_size=2, checkpoint_s=0.0)
    calls = []

    def stop_after_two_groups(done: int, total: int) -> None:
        if not done:
            return  # a bar's first frame (nothing embedded yet) is not a group
        calls.append(done)
        if len(calls) == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        kb.add([news], progress=stop_after_two_groups)
    first = askbot.open(tmp_path / "vectors").info()
    assert first.articles == calls[0] > 0  # the first group was committed, the second was not
    assert askbot.open(tmp_path / "vectors").check() == []

    resumed = askbot.open(tmp_path / "vectors", batch_size=2).add([news])
    assert len(resumed.unchanged) == first.articles and len(resumed.added) == ARTICLES - first.articles
    final = askbot.open(tmp_path / "vectors")
    assert final.info().articles == ARTICLES and final.check() == []
