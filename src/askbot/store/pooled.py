"""The small segments of a local index pooled in memory as one, so a question pays one FAISS search, one BM25
pass and one SQLite query for all of them instead of one of each per segment.

Every commit that adds articles writes a segment of its own: after a day of small adds a reader holds dozens of
segments of a few passages each beside the big ones, and their fixed per-query costs (~0.1 ms each: FAISS call,
vocabulary look-up, document frequencies, a filter query) add up to more than the few rows they search. The pool
holds only their live rows: vectors in one flat FAISS index (the same inner products, so the same scores), one
lexical index of their token rows with its frequency matrix (BM25 statistics stay summed over every segment by
:mod:`askbot.store.local_lexical`, so scores are those of a single index), and an in-memory SQLite table of what
the filters read. Passages and articles are still read from the segments' own files.
"""

from __future__ import annotations

import sqlite3

import numpy as np

from askbot.store import bm25, dense
from askbot.store.lexical import LexicalIndex
from askbot.store.segment import Searchable, Segment

# The smallest segments are pooled, up to this many live passages in all. Building the pool costs ~1-2 ms CPU per
# pooled segment when a reader opens (after every commit; mostly reading its vocabulary): 50-100 ms for 51 segments
# of 389 passages, against ~7 ms saved on every question (whole corpus: 39.2 -> 31.9 ms CPU per question).
POOL_MAX_PASSAGES = 10_000
_FILTER_SCHEMA = """
CREATE TABLE articles (id TEXT PRIMARY KEY, source TEXT NOT NULL, category TEXT NOT NULL, published TEXT NOT NULL);
CREATE TABLE passages (pid INTEGER PRIMARY KEY, article_id TEXT NOT NULL);
"""


def search_units(segments: list[Segment]) -> list[Searchable]:
    """What a search goes over: the bigger segments as they are, and the small ones pooled (when two or more)."""
    chosen: set[str] = set()
    total = 0
    for segment in sorted(segments, key=lambda s: (s.live_passages, s.name)):
        if total + segment.live_passages > POOL_MAX_PASSAGES:
            break
        chosen.add(segment.name)
        total += segment.live_passages
    if len(chosen) < 2:
        return list(segments)
    small = [s for s in segments if s.name in chosen]
    return [s for s in segments if s.name not in chosen] + [Pool(small)]


class Pool(Searchable):
    """The live rows of ``segments``, searched as one segment without tombstones."""

    def __init__(self, segments: list[Segment]) -> None:
        self.segments = segments
        rows = [s.live_rows if s.live_rows is not None else np.ones(len(s.pids), bool) for s in segments]
        self.lexical = LexicalIndex.merged([(s.lexical, live) for s, live in zip(segments, rows, strict=True)])
        self.pids = np.asarray(self.lexical.pids, np.int64)
        if len(self.pids):
            arrays = bm25.tf_matrix(self.lexical.tokens, self.lexical.offsets, len(self.lexical.vocab))
            self.lexical.matrix = bm25.ColumnMatrix(*arrays, num_docs=len(self.pids))
        self.live_rows = None
        self.dead_pids = np.empty(0, np.int64)
        self.live_passages = len(self.pids)
        self.pid_range = (int(self.pids[0]), int(self.pids[-1]) + 1) if len(self.pids) else (0, 0)
        self.dense = dense.empty(segments[0].dense.d)
        for segment, live in zip(segments, rows, strict=True):
            ids, vectors = dense.vectors_of(segment.dense)
            keep = np.isin(ids, segment.pids[live])
            dense.add(self.dense, vectors[keep], ids[keep])
        self.db = self._filter_table()
        self._owner = np.zeros(len(self.pids), np.int64)  # each row's segment, by its index in ``segments``
        for n, (segment, live) in enumerate(zip(segments, rows, strict=True)):
            self._owner[np.searchsorted(self.pids, segment.pids[live])] = n

    def holding(self, ids: np.ndarray) -> list[tuple[Segment, list[int]]]:
        """The pooled segments holding the live passages of ``ids`` (ascending), found in one bisection."""
        here = self.live_among_sorted(ids)
        owners = self._owner[np.searchsorted(self.pids, here)]
        return [(self.segments[n], here[owners == n].tolist()) for n in np.unique(owners).tolist()]

    def _filter_table(self) -> sqlite3.Connection:
        """What :func:`askbot.store.metadata.filtered_pids` reads of the live rows: article filters, passages."""
        db = sqlite3.connect(":memory:", check_same_thread=False)
        db.executescript(_FILTER_SCHEMA)
        for segment in self.segments:
            articles = segment.db.execute("SELECT id, source, category, published FROM articles").fetchall()
            live = [a for a in articles if a[0] not in segment.dead]
            db.executemany("INSERT OR IGNORE INTO articles VALUES (?,?,?,?)", live)
            passages = segment.db.execute("SELECT pid, article_id FROM passages").fetchall()
            db.executemany("INSERT INTO passages VALUES (?,?)", [p for p in passages if p[1] not in segment.dead])
        return db

    def close(self) -> None:
        self.db.close()
