"""Dense search over the live segments of a local index: each segment's FAISS index, searched as one."""

from __future__ import annotations

import numpy as np

from askbot.store import dense
from askbot.store.live_segments import EMPTY, top
from askbot.store.segment import Searchable


class SegmentedDense:
    """The vectors of every live passage of ``segments`` (tombstoned ones never come back)."""

    def __init__(self, segments: list[Searchable], dim: int) -> None:
        self.segments = segments
        self.dim = dim

    def search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (cosines, passage ids) for a query vector, among ``allowed`` when given."""
        scores, ids = [], []
        with dense.one_thread():
            found = [self._search_in(segment, vector, k, allowed) for segment in self.segments]
        for s, i in found:
            if len(i):
                scores.append(s)
                ids.append(i)
        if not ids:
            return EMPTY
        return top(np.concatenate(scores), np.concatenate(ids), k)

    @staticmethod
    def _search_in(
        segment: Searchable, vector: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One segment's top ``k`` live passages (among ``allowed`` when given)."""
        if allowed is None:
            s, i = dense.search(segment.dense, vector, k + len(segment.dead_pids))
            if len(segment.dead_pids):
                keep = ~np.isin(i, segment.dead_pids)
                s, i = s[keep], i[keep]
            return s, i
        here = segment.live(allowed)
        return dense.search(segment.dense, vector, k, here.tolist()) if len(here) else EMPTY

    def scores(self, vector: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Exact cosines of the query vector with the passages ``ids`` (0 for those not indexed)."""
        ids = np.asarray(ids, np.int64)
        out = np.zeros(len(ids), np.float32)
        order = np.argsort(ids, kind="stable")
        ordered = ids[order]
        for segment in self.segments:
            lo, hi = np.searchsorted(ordered, segment.pid_range)
            if hi <= lo:
                continue
            here = np.isin(ordered[lo:hi], segment.live(ordered[lo:hi]))
            if here.any():
                rows = order[lo:hi][here]
                out[rows] = dense.scores_of(segment.dense, vector, ids[rows])
        return out

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of every live passage."""
        ids, vectors = [], []
        for segment in self.segments:
            i, v = dense.vectors_of(segment.dense)
            keep = ~np.isin(i, segment.dead_pids)
            ids.append(i[keep])
            vectors.append(v[keep])
        if not ids:
            return np.empty(0, np.int64), np.empty((0, self.dim), np.float32)
        return np.concatenate(ids), np.concatenate(vectors)
