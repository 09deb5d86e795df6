"""Question -> ranked passages: dense (FAISS) and lexical (BM25) rankings, fused by language.

Fusion is reciprocal-rank fusion (k=60) with a lexical weight chosen by the question's script: BM25
over Arabic passages can only help an Arabic question, and for an English one it returns noise
that plain RRF would mix in as equal evidence. So Latin-script questions use dense alone, Persian
ones (sharing script and many words with Arabic) weigh BM25 lower, Arabic ones weigh both equally.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from askbot.arabic import script_of
from askbot.store import dense, metadata
from askbot.store.index import IndexReader
from askbot.types import Hit

RRF_K = 60
LEXICAL_WEIGHT = {"ar": 1.0, "fa": 0.5}  # any other script: 0 (dense only)
METHODS = ("dense", "bm25", "hybrid")


@dataclass(frozen=True)
class Filters:
    """Restrict answers to some articles. Dates are ISO 8601 prefixes (2018, 2018-03, 2018-03-05)."""

    source: str | None = None
    category: str | None = None
    since: str | None = None
    until: str | None = None

    def __bool__(self) -> bool:
        return any((self.source, self.category, self.since, self.until))


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


def search(
    reader: IndexReader,
    question: str,
    query_vector: np.ndarray | None,
    k: int,
    filters: Filters | None = None,
    method: str = "hybrid",
    depth: int = 50,
) -> list[Hit]:
    """The top ``k`` passages for a question by ``method`` (dense, bm25 or hybrid)."""
    if method not in METHODS:
        raise ValueError(f"unknown retrieval method {method!r}; choose one of {', '.join(METHODS)}")
    allowed = metadata.filtered_pids(reader.db, **vars(filters)) if filters else None
    depth = max(depth, k)
    empty = (np.empty(0, np.float32), np.empty(0, np.int64))
    d_scores, d_ids = (
        dense.search(reader.dense, query_vector, depth, allowed)
        if method != "bm25" and query_vector is not None
        else empty
    )
    l_scores, l_ids = reader.lexical.search(question, depth, allowed) if method != "dense" else empty
    if method == "dense":
        return [Hit(int(i), float(s), float(s), None) for s, i in zip(d_scores[:k], d_ids[:k], strict=True)]
    if method == "bm25":
        return [Hit(int(i), float(s), None, float(s)) for s, i in zip(l_scores[:k], l_ids[:k], strict=True)]
    weight = LEXICAL_WEIGHT.get(script_of(question), 0.0)
    return fuse(d_ids, d_scores, l_ids, l_scores, weight)[:k]
