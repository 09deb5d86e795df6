"""BM25 over the live segments of a local index, with the statistics of all of them summed: exactly the scores
one index of the same live passages gives."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from askbot.store import bm25
from askbot.store.live_segments import EMPTY, top
from askbot.store.segment import Searchable
from askbot.store.vocabulary import StoredVocabulary


class SegmentedLexical:
    """Lexical search and scores over ``segments``; ``legacy``: the one segment of a first-format index, whose
    lexical files hold BM25 weights rather than frequencies."""

    def __init__(self, segments: list[Searchable], legacy: bool) -> None:
        self.segments = segments
        self.n = sum(s.live_passages for s in segments)
        lengths = sum(
            int(np.maximum(s.lexical.lengths, 1)[s.live_rows if s.live_rows is not None else slice(None)].sum())
            for s in segments
        )
        mean = lengths / self.n if self.n else 1.0
        self._norms = [None if legacy else bm25.norms(s.lexical.lengths, mean) for s in segments]
        # the last query's BM25 scores; the memo holds the ``allowed`` array itself (compared with ``is``): keyed by
        # id() alone, a later array could reuse a freed one's id and be served another filter's scores
        self._memo: tuple[tuple[str, ...], np.ndarray | None, list[np.ndarray]] | None = None

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """BM25 idf of each lexical term over all live passages (unseen terms get the rarest-term idf)."""
        if self.n == 0:
            return dict.fromkeys(terms, 1.0)
        return self._idf(list(terms))

    def words(self, min_df: int = 1) -> list[str]:
        """The single-word terms held by at least ``min_df`` passages (counted before deletions: a passage removed
        since the last compaction may still count), sorted."""
        df: dict[str, int] = {}
        for segment in self.segments:
            lexical, matrix = segment.lexical, segment.lexical.matrix
            if matrix is None:
                continue
            counts = np.diff(matrix.indptr)
            vocab = lexical.vocab
            pairs = (
                vocab.words()
                if isinstance(vocab, StoredVocabulary)
                else [(t, i) for t, i in vocab.items() if "_" not in t]
            )
            for term, tid in pairs:
                if tid < len(counts):
                    df[term] = df.get(term, 0) + int(counts[tid])
        return sorted(t for t, n in df.items() if n >= min_df)

    def _idf(self, terms: Sequence[str], ids: list[list[tuple[str, int]]] | None = None) -> dict[str, float]:
        """idf over all live passages; ``ids``: each segment's term ids of ``terms``, when already looked up."""
        df = dict.fromkeys(terms, 0)
        for n, segment in enumerate(self.segments):
            matrix = segment.lexical.matrix
            if matrix is None:
                continue
            dead = None if segment.live_rows is None else ~segment.live_rows
            for term, tid in segment.lexical.term_ids(terms) if ids is None else ids[n]:
                df[term] += matrix.document_frequency(tid, dead)
        return {t: float(bm25.idf(self.n, d)) for t, d in df.items()}

    def _all(self, terms: Sequence[str], allowed: np.ndarray | None) -> list[np.ndarray]:
        """The BM25 score of every row of every segment (0 where dead or not allowed); memoized for one query."""
        key = tuple(terms)
        memo = self._memo
        if memo is not None and memo[0] == key and memo[1] is allowed:  # search then scores: one BM25 pass
            return memo[2]
        ids = [segment.lexical.term_ids(terms) for segment in self.segments]
        idf = self._idf(sorted(set(terms)), ids)
        out = []
        for segment, norm, term_ids in zip(self.segments, self._norms, ids, strict=True):
            scores = (
                segment.lexical.scores(term_ids, idf, norm) if term_ids else np.zeros(len(segment.pids), np.float32)
            )
            if segment.live_rows is not None:
                scores *= segment.live_rows
            if allowed is not None:
                scores *= np.isin(segment.pids, allowed)
            out.append(scores)
        self._memo = (key, allowed, out)
        return out

    def search(self, terms: Sequence[str], k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (BM25 scores, passage ids) with a positive score for lexical ``terms``."""
        if k <= 0:
            return EMPTY
        scores, ids = [], []
        for segment, all_scores in zip(self.segments, self._all(terms, allowed), strict=True):
            positive = np.flatnonzero(all_scores > 0)
            if len(positive) > k:
                positive = positive[np.argpartition(-all_scores[positive], k - 1)[:k]]
            scores.append(all_scores[positive])
            ids.append(segment.pids[positive])
        if not ids:
            return EMPTY
        return top(np.concatenate(scores), np.concatenate(ids), k)

    def scores(self, terms: Sequence[str], ids: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
        """BM25 scores of the passages ``ids`` (0 for those without a query term)."""
        ids = np.asarray(ids, np.int64)
        out = np.zeros(len(ids), np.float32)
        for segment, all_scores in zip(self.segments, self._all(terms, allowed), strict=True):
            if not len(segment.pids):
                continue
            rows = np.clip(np.searchsorted(segment.pids, ids), 0, len(segment.pids) - 1)
            here = segment.pids[rows] == ids
            out[here] = all_scores[rows[here]]
        return out
