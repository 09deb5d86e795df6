"""Question -> ranked passages: dense (FAISS) and lexical (BM25) rankings, fused by score and language.

``hybrid`` takes the union of both top lists, looks up each candidate's exact score on the other side
too, turns each side into z-scores over the candidates and adds them, the lexical side weighted by the
question's script: BM25 of an English question's own words over Arabic passages returns noise, so a question
in another script is searched lexically by its words' translations (askbot.lexicon), weighed 0.2 against
dense's 1 (on the dev set English R@5 0.840 -> 0.854 over dense alone); Persian ones weigh BM25 lower.
Unlike reciprocal-rank fusion (``hybrid-rrf``, kept for comparison), a passage that stands far above the rest
on one side keeps that margin, as with short questions of rare words.
The weights were chosen on the XQuAD-ar dev yardstick (benchmarks/tune_fusion.py: z-scores with BM25
at 0.5 beat min-max and RRF on R@5 and MRR there; stemming beat no stemming and stem+surface forms).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from askbot.arabic import lexical_terms, script_of
from askbot.store.base import StoreReader
from askbot.types import Filters, Hit

__all__ = ["METHODS", "Filters", "fuse", "fuse_scores", "search"]

RRF_K = 60
LEXICAL_WEIGHT = {"ar": 0.5, "fa": 0.25}  # any other script: 0 (dense only), unless its words are translated:
# a question whose words were translated into the index's (askbot.lexicon) weighs its lexical side so. On the dev
# set's English questions, before reranking: hybrid R@5 0.840 -> 0.854, R@1 0.669 -> 0.699 (5 folds by article,
# every fold chose 0.2 of 0, 0.05 ... 0.4; docs/evaluation.md)
TRANSLATED_WEIGHT = 0.2
METHODS = ("dense", "bm25", "hybrid", "hybrid-rrf")


def fuse(
    dense_ids: np.ndarray,
    dense_scores: np.ndarray,
    lexical_ids: np.ndarray,
    lexical_scores: np.ndarray,
    lexical_weight: float,
) -> list[Hit]:
    """Weighted reciprocal-rank fusion; each hit keeps its raw dense and lexical scores."""
    fused: dict[int, float] = {}
    dense_of = {int(i): float(s) for i, s in zip(dense_ids, dense_scores, strict=True)}
    lexical_of = {int(i): float(s) for i, s in zip(lexical_ids, lexical_scores, strict=True)}
    for rank, pid in enumerate(dense_ids):
        fused[int(pid)] = fused.get(int(pid), 0.0) + 1.0 / (RRF_K + rank + 1)
    if lexical_weight > 0:
        for rank, pid in enumerate(lexical_ids):
            fused[int(pid)] = fused.get(int(pid), 0.0) + lexical_weight / (RRF_K + rank + 1)
    order = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
    return [Hit(pid, score, dense_of.get(pid), lexical_of.get(pid)) for pid, score in order]


def _zscores(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def fuse_scores(
    pids: np.ndarray, dense_scores: np.ndarray, lexical_scores: np.ndarray, lexical_weight: float
) -> list[Hit]:
    """Weighted sum of z-scored dense and lexical scores over candidates whose both scores are known."""
    if not len(pids):
        return []
    combined = _zscores(dense_scores) + lexical_weight * _zscores(lexical_scores)
    order = sorted(range(len(pids)), key=lambda i: (-combined[i], int(pids[i])))
    return [Hit(int(pids[i]), float(combined[i]), float(dense_scores[i]), float(lexical_scores[i])) for i in order]


def search(
    reader: StoreReader,
    question: str,
    query_vector: np.ndarray | None,
    k: int,
    filters: Filters | None = None,
    method: str = "hybrid",
    depth: int = 50,
    translated: Sequence[str] = (),
) -> list[Hit]:
    """The top ``k`` passages for a question by ``method`` (dense, bm25 or hybrid); ``translated``: the lexical
    terms of a question in another script than the passages' (askbot.lexicon), searched instead of its own."""
    if method not in METHODS:
        raise ValueError(f"unknown retrieval method {method!r}; choose one of {', '.join(METHODS)}")
    allowed = reader.allowed_ids(filters)
    depth = max(depth, k)
    empty = (np.empty(0, np.float32), np.empty(0, np.int64))
    use_dense = method != "bm25" and query_vector is not None
    d_scores, d_ids = (
        reader.dense_search(query_vector, depth, allowed) if use_dense and query_vector is not None else empty
    )
    if method == "dense":
        return [Hit(int(i), float(s), float(s), None) for s, i in zip(d_scores[:k], d_ids[:k], strict=True)]
    terms = list(translated) if translated else lexical_terms(question)
    l_scores, l_ids = reader.lexical_search(terms, depth, allowed)
    if method == "bm25":
        return [Hit(int(i), float(s), None, float(s)) for s, i in zip(l_scores[:k], l_ids[:k], strict=True)]
    weight = TRANSLATED_WEIGHT if translated else LEXICAL_WEIGHT.get(script_of(question), 0.0)
    if method == "hybrid-rrf":
        return fuse(d_ids, d_scores, l_ids, l_scores, weight)[:k]
    if not use_dense or query_vector is None:
        return [Hit(int(i), float(s), None, float(s)) for s, i in zip(l_scores[:k], l_ids[:k], strict=True)]
    candidates = np.unique(np.concatenate([d_ids, l_ids]) if weight > 0 else d_ids)
    known = dict(zip(d_ids.tolist(), d_scores.tolist(), strict=True))
    missing = np.asarray([p for p in candidates if p not in known], np.int64)
    known.update(zip(missing.tolist(), reader.dense_scores(query_vector, missing).tolist(), strict=True))
    cand_dense = np.asarray([known[p] for p in candidates.tolist()], np.float32)
    cand_lexical = reader.lexical_scores(terms, candidates, allowed)
    return fuse_scores(candidates, cand_dense, cand_lexical, weight)[:k]
