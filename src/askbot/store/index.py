"""The local store: a reader over every live segment of the committed generation, and the one writer."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from askbot.arabic import lexical_terms
from askbot.store import (
    bm25,
    commit_generation,
    current_generation,
    dense,
    metadata,
    new_generation,
    new_segment,
    sweep_generations,
)
from askbot.store.base import article_status, facets_of
from askbot.store.lexical import TEXT_VERSION
from askbot.store.lock import WriterLock
from askbot.store.manifest import FORMAT_VERSION, IndexCorrupt, IndexMismatch, Manifest
from askbot.store.segment import Segment, SegmentBuilder, file_digest, forget_unused, merge
from askbot.types import Article, Filters, IndexInfo, Passage

__all__ = ["MAX_SEGMENTS", "IndexReader", "IndexWriter", "file_digest"]

# Past this many live segments a commit merges the smallest half into one. Each segment costs a warm question
# ~0.2 ms (a FAISS search, a BM25 pass, SQLite look-ups), so 64 small ones add ~10 ms; the big segments are left
# alone until ``askbot compact``, which keeps a merge's cost near the size of the recent writes.
MAX_SEGMENTS = 64
_EMPTY = (np.empty(0, np.float32), np.empty(0, np.int64))


def _segments_of(generation: Path, manifest: Manifest, full: bool, lexical: bool = True) -> list[Segment]:
    if manifest.format == 1:  # the first local format: the generation folder is the one segment
        return [Segment(generation, full=full, lexical=lexical)]
    opened: list[Segment] = []
    try:
        for ref in manifest.segments:
            folder = generation.parent / str(ref["name"])
            if not folder.is_dir() or "/" in str(ref["name"]):
                raise IndexCorrupt(f"{generation / 'manifest.json'} names segment {ref['name']!r}, which is missing")
            dead = [str(a) for a in ref["dead"]]  # type: ignore[attr-defined]
            opened.append(Segment(folder, dead=dead, full=full, lexical=lexical))
    except BaseException:
        for segment in opened:
            segment.close()
        raise
    return opened


def _top(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best (score, id), best first, ties by id: one order whichever segments the rows came from."""
    order = np.lexsort((ids, -scores))[:k]
    return scores[order].astype(np.float32), ids[order].astype(np.int64)


class IndexReader:
    """One committed generation, opened read-only: every live segment, searched as one index."""

    def __init__(self, generation: Path) -> None:
        self.generation = generation
        self.manifest = Manifest.load(generation)
        self.segments = _segments_of(generation, self.manifest, full=True)
        forget_unused({str(s.folder) for s in self.segments})
        # BM25 statistics of the live passages of all segments together (exactly a single index's)
        self._n = sum(s.live_passages for s in self.segments)
        lengths = sum(
            int(np.maximum(s.lexical.lengths, 1)[s.live_rows if s.live_rows is not None else slice(None)].sum())
            for s in self.segments
        )
        mean = lengths / self._n if self._n else 1.0
        legacy = self.manifest.format == 1  # its one segment holds BM25 weights, not frequencies
        self._norms = [None if legacy else bm25.norms(s.lexical.lengths, mean) for s in self.segments]
        self._home: dict[str, Segment] = {}  # article id -> the segment its live passages were last read from
        # the last query's BM25 scores; the memo holds the ``allowed`` array itself (compared with ``is``): keyed by
        # id() alone, a later array could reuse a freed one's id and be served another filter's scores
        self._lexical_memo: tuple[tuple[str, ...], np.ndarray | None, list[np.ndarray]] | None = None

    @classmethod
    def open(cls, index_dir: Path) -> IndexReader | None:
        generation = current_generation(index_dir)
        return cls(generation) if generation else None

    # ---- the store interface: what the rest of askbot may ask of an index -----------------------
    def info(self) -> IndexInfo:
        return self.describe(self.generation, self.manifest)

    @staticmethod
    def describe(generation: Path, m: Manifest) -> IndexInfo:
        return m.info(str(generation.parent), "local", generation.name, len(m.segments) if m.format != 1 else 1)

    def passages(self, ids: Sequence[int]) -> dict[int, Passage]:
        """The passages of ``ids`` that exist, with their text, keyed by passage id."""
        wanted = np.unique(np.asarray([int(i) for i in ids], np.int64))
        out: dict[int, Passage] = {}
        for segment in self.segments:
            here = segment.live_among_sorted(wanted).tolist()
            if not here:
                continue
            rows = metadata.get_passages(segment.db, here)
            texts = metadata.passage_texts(segment.db, list(rows))
            for pid, (article_id, ordinal, start, end) in rows.items():
                out[pid] = Passage(article_id, ordinal, start, end, texts[pid])
                self._home[article_id] = segment
        return out

    def passage_ids(self) -> np.ndarray:
        """Every indexed passage id, ascending."""
        parts = [s.pids if s.live_rows is None else s.pids[s.live_rows] for s in self.segments]
        return np.sort(np.concatenate(parts)) if parts else np.empty(0, np.int64)

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of every indexed passage: for benchmarks that reuse real vectors (local store only)."""
        ids, vectors = [], []
        for segment in self.segments:
            i, v = dense.vectors_of(segment.dense)
            keep = ~np.isin(i, segment.dead_pids)
            ids.append(i[keep])
            vectors.append(v[keep])
        if not ids:
            return np.empty(0, np.int64), np.empty((0, self.manifest.dim), np.float32)
        return np.concatenate(ids), np.concatenate(vectors)

    def articles(self, ids: Sequence[str]) -> dict[str, Article]:
        """The articles of ``ids`` that exist, keyed by id."""
        out: dict[str, Article] = {}
        for aid in dict.fromkeys(ids):
            home = self._home.get(aid)
            for segment in [home] if home is not None else reversed(self.segments):
                if aid not in segment.dead and (article := metadata.get_article(segment.db, aid)) is not None:
                    out[aid] = article
                    break
        return out

    def latest(self, limit: int) -> list[Article]:
        """The ``limit`` most recently published live articles (undated ones never), newest first."""
        found: dict[str, Article] = {}
        for segment in reversed(self.segments):  # newest segment first: its copy of an article is the live one
            for article in metadata.latest_articles(segment.db, limit + len(segment.dead)):
                if article.id not in segment.dead:
                    found.setdefault(article.id, article)
        return sorted(found.values(), key=lambda a: a.published, reverse=True)[:limit]

    def content_hashes(self) -> dict[str, str]:
        """Article id -> content hash of every indexed article (what ``add`` compares to skip unchanged ones)."""
        out: dict[str, str] = {}
        for segment in self.segments:
            try:
                hashes = metadata.article_hashes(segment.db)
            except (sqlite3.DatabaseError, ValueError) as exc:
                raise IndexCorrupt(
                    f"{segment.folder / 'meta.sqlite'} is an unreadable SQLite database ({exc})"
                ) from exc
            out.update((a, h) for a, h in hashes.items() if a not in segment.dead)
        return out

    def facets(self) -> dict[str, object]:
        """Sources and categories with their article counts, and the first and last publication dates."""
        return facets_of(
            (source, category, published)
            for segment in self.segments
            for aid, source, category, published in segment.db.execute(
                "SELECT id, source, category, published FROM articles"
            )
            if aid not in segment.dead
        )

    def allowed_ids(self, filters: Filters | None) -> np.ndarray | None:
        """Passage ids of the articles ``filters`` lets through; None when nothing is filtered."""
        if not filters:
            return None
        parts = [
            segment.live(np.sort(np.asarray(metadata.filtered_pids(segment.db, **vars(filters)), np.int64)))
            for segment in self.segments
        ]
        return np.sort(np.concatenate(parts)) if parts else np.empty(0, np.int64)

    def dense_search(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (cosines, passage ids) for a query vector, among ``allowed`` when given."""
        scores, ids = [], []
        with dense.one_thread():
            found = [self._dense_in(segment, vector, k, allowed) for segment in self.segments]
        for s, i in found:
            if len(i):
                scores.append(s)
                ids.append(i)
        if not ids:
            return _EMPTY
        return _top(np.concatenate(scores), np.concatenate(ids), k)

    @staticmethod
    def _dense_in(
        segment: Segment, vector: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One segment's top ``k`` live passages (among ``allowed`` when given)."""
        if allowed is None:
            s, i = dense.search(segment.dense, vector, k + len(segment.dead_pids))
            if len(segment.dead_pids):
                keep = ~np.isin(i, segment.dead_pids)
                s, i = s[keep], i[keep]
            return s, i
        here = segment.live(allowed)
        return dense.search(segment.dense, vector, k, here.tolist()) if len(here) else _EMPTY

    def dense_scores(self, vector: np.ndarray, ids: np.ndarray) -> np.ndarray:
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
        return {t: float(bm25.idf(self._n, d)) for t, d in df.items()}

    def _lexical_all(self, terms: Sequence[str], allowed: np.ndarray | None) -> list[np.ndarray]:
        """The BM25 score of every row of every segment (0 where dead or not allowed); memoized for one query."""
        key = tuple(terms)
        memo = self._lexical_memo
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
        self._lexical_memo = (key, allowed, out)
        return out

    def lexical_search(
        self, terms: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (BM25 scores, passage ids) with a positive score for lexical ``terms``."""
        if k <= 0:
            return _EMPTY
        scores, ids = [], []
        for segment, all_scores in zip(self.segments, self._lexical_all(terms, allowed), strict=True):
            positive = np.flatnonzero(all_scores > 0)
            if len(positive) > k:
                positive = positive[np.argpartition(-all_scores[positive], k - 1)[:k]]
            scores.append(all_scores[positive])
            ids.append(segment.pids[positive])
        if not ids:
            return _EMPTY
        return _top(np.concatenate(scores), np.concatenate(ids), k)

    def lexical_scores(self, terms: Sequence[str], ids: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
        """BM25 scores of the passages ``ids`` (0 for those without a query term)."""
        ids = np.asarray(ids, np.int64)
        out = np.zeros(len(ids), np.float32)
        for segment, all_scores in zip(self.segments, self._lexical_all(terms, allowed), strict=True):
            if not len(segment.pids):
                continue
            rows = np.clip(np.searchsorted(segment.pids, ids), 0, len(segment.pids) - 1)
            here = segment.pids[rows] == ids
            out[here] = all_scores[rows[here]]
        return out

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """BM25 idf of each lexical term over all live passages (unseen terms get the rarest-term idf)."""
        if self._n == 0:
            return dict.fromkeys(terms, 1.0)
        return self._idf(list(terms))

    def iter_articles(self) -> Iterator[tuple[Article, list[Passage], np.ndarray, list[list[str]]]]:
        """Every live article with its passages (by ordinal), their vectors and lexical terms: a copy to another
        backend needs no encoder. Segment by segment (one segment's vectors in memory at a time).

        Terms are re-derived from the passage texts by today's text rules (``lexical_terms``), which are the
        index's own only when its normalizer is the current ``TEXT_VERSION``: an older index is refused (relex it).
        """
        if self.manifest.normalizer_version != TEXT_VERSION:
            where = self.generation.parent
            raise IndexMismatch(
                f"the index in {where} has text rules v{self.manifest.normalizer_version} (this askbot has "
                f"v{TEXT_VERSION}); re-tokenize it first: askbot index --relex --index {where}"
            )
        for segment in self.segments:
            ids, vectors = dense.vectors_of(segment.dense)
            order = np.argsort(ids)
            ids, vectors = ids[order], vectors[order]
            live = [
                aid for (aid,) in segment.db.execute("SELECT id FROM articles ORDER BY id") if aid not in segment.dead
            ]
            for aid in live:
                article = metadata.get_article(segment.db, aid)
                if article is None:
                    continue
                rows = segment.db.execute(
                    'SELECT pid, ordinal, start, "end" FROM passages WHERE article_id = ? ORDER BY ordinal', (aid,)
                ).fetchall()
                pids = np.asarray([pid for pid, *_ in rows], np.int64)
                at = np.searchsorted(ids, pids)
                if len(pids) and (at.max() >= len(ids) or not np.array_equal(ids[at], pids)):
                    raise IndexCorrupt(f"{segment.folder}: passages of article {aid!r} have no stored vector")
                passages = [
                    Passage(aid, ordinal, start, end, article.text[start:end]) for _, ordinal, start, end in rows
                ]
                yield article, passages, vectors[at], [lexical_terms(p.text) for p in passages]

    def verify(self) -> list[str]:
        """Deep check: checksums, counts, every id resolvable. Returns the problems found."""
        problems: list[str] = []
        for segment in self.segments:
            segment.verify(problems)
        articles = len(self.content_hashes())
        passages = sum(s.live_passages for s in self.segments)
        if (articles, passages) != (self.manifest.articles, self.manifest.passages):
            problems.append(
                f"manifest counts {self.manifest.articles}/{self.manifest.passages} != "
                f"stored {articles}/{passages} (articles/passages)"
            )
        seen: set[str] = set()
        for segment in self.segments:
            live = {a for a in metadata.article_hashes(segment.db) if a not in segment.dead}
            if live & seen:
                problems.append(f"{segment.folder}: articles live in two segments: {sorted(live & seen)[:5]}")
            seen |= live
        return problems

    def close(self) -> None:
        for segment in self.segments:
            segment.close()


class IndexWriter:
    """The one writer: new articles go to one new segment, deletions become tombstones; ``commit()`` publishes
    them in a new generation atomically.

    Use as a context manager: the writer lock is held from entry to exit, and an exit without
    ``commit()`` (an error, a crash) abandons the new segment and leaves the index as it was.
    """

    max_segments = MAX_SEGMENTS

    def __init__(self, index_dir: Path, manifest: Manifest, rebuild: bool = False) -> None:
        self.index_dir = index_dir
        self.manifest = manifest
        self.rebuild = rebuild
        self._lock = WriterLock(index_dir)
        self._segments: list[Segment] = []
        self._new: SegmentBuilder | None = None

    def __enter__(self) -> IndexWriter:
        self._lock.__enter__()
        try:
            self._begin()
        except BaseException:
            self._close()
            self._lock.__exit__(None, None, None)
            raise
        return self

    def _begin(self) -> None:
        self._close()
        previous = None if self.rebuild else current_generation(self.index_dir)
        self._segments, self._dead, self._live = [], {}, {}
        self.hashes: dict[str, str] = {}
        self._where: dict[str, str] = {}  # article id -> segment name ("" for the new one)
        self._legacy: tuple[Path, Manifest] | None = None
        if previous is None:
            return
        old = Manifest.load(previous)
        self.manifest.next_passage_id = old.next_passage_id
        if old.format == 1:
            self._legacy = (previous, old)
        self._segments = _segments_of(previous, old, full=False)
        for segment in self._segments:
            self._dead[segment.name] = set(segment.dead)
            for aid, digest in metadata.article_hashes(segment.db).items():
                if aid not in segment.dead:
                    self.hashes[aid], self._where[aid] = digest, segment.name
        self._live = {s.name: s.live_passages for s in self._segments}

    def _migrate(self) -> None:
        """A first-format index: before its first change, its generation becomes one segment (a merge of it), in a
        commit of its own that readers see as the same index. Its BM25 weights cannot be summed with other
        segments' statistics; its token ids, vectors and SQLite rows are carried over as they are."""
        if self._legacy is None:
            return
        generation, old = self._legacy
        source = Segment(generation)
        try:
            folder = new_segment(self.index_dir)
            written = merge([source], folder, replace(self.manifest, next_passage_id=old.next_passage_id))
        finally:
            source.close()
        self._publish([{"name": folder.name, "dead": []}], written.articles, written.passages)
        self._begin()

    def _close(self) -> None:
        for segment in self._segments:
            segment.close()
        self._segments = []

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._close()
            if self._new is not None:
                self._new.abandon()
                shutil.rmtree(self._new.folder, ignore_errors=True)
                self._new = None
        finally:
            self._lock.__exit__(None, None, None)

    def status(self, article: Article) -> str:
        """'new', 'changed' or 'unchanged' relative to what is indexed."""
        return article_status(self.hashes, article)

    def upsert(
        self,
        article: Article,
        passages: Sequence[Passage],
        vectors: np.ndarray,
        terms: Sequence[Sequence[str]],
    ) -> None:
        """Insert or replace one article with its passages, their vectors and lexical terms."""
        self._migrate()
        if article.id in self.hashes:
            self.remove([article.id])
        if self._new is None:
            self._new = SegmentBuilder(new_segment(self.index_dir), self.manifest)
        start = self.manifest.next_passage_id
        pids = np.arange(start, start + len(passages), dtype=np.int64)
        self.manifest.next_passage_id = start + len(passages)
        self._new.put(article, passages, vectors, terms, pids)
        self.hashes[article.id], self._where[article.id] = article.content_hash, ""

    def remove(self, article_ids: Sequence[str]) -> list[str]:
        """Delete articles; returns the ids that were indexed."""
        present = [a for a in dict.fromkeys(article_ids) if a in self.hashes]
        if present:
            self._migrate()
        for aid in present:
            home = self._where.pop(aid)
            if home == "":
                assert self._new is not None
                self._new.delete(aid)
            else:
                self._dead[home].add(aid)
                segment = next(s for s in self._segments if s.name == home)
                self._live[home] -= len(metadata.pids_of_articles(segment.db, [aid]))
            del self.hashes[aid]
        return present

    def checkpoint(self) -> None:
        """Commit what is written so far and go on writing: an interrupted run resumes from here."""
        self.commit()
        self.rebuild = False
        self._begin()

    def relex(self) -> int:
        """Re-tokenize every stored passage into a new lexical index (text rules changed); vectors stay."""
        return self._merge_all(retokenize=True).passages

    def compact(self) -> IndexInfo:
        """Merge every live segment into one, dropping the tombstoned rows."""
        self._merge_all(retokenize=False)
        return self._info()

    def _merge_all(self, retokenize: bool) -> Manifest:
        if self._new is not None or any(self._dead.get(s.name) != set(s.dead) for s in self._segments):
            self.commit()  # what this writer changed goes in first
            self._begin()
        previous = current_generation(self.index_dir)
        if previous is None:
            return self.manifest
        sources = _segments_of(previous, Manifest.load(previous), full=True, lexical=not retokenize)
        try:
            folder = new_segment(self.index_dir)
            written = merge(sources, folder, self.manifest, retokenize=retokenize)
        finally:
            for source in sources:
                source.close()
        refs: list[dict[str, object]] = [{"name": folder.name, "dead": []}] if written.articles else []
        self._publish(refs, written.articles, written.passages)
        sweep_generations(self.index_dir)
        self._begin()
        return written

    def commit(self) -> IndexInfo:
        self._migrate()
        refs: list[dict[str, object]] = []
        for segment in self._segments:
            if self._live[segment.name] > 0 or len(self._dead[segment.name]) < segment.manifest.articles:
                refs.append({"name": segment.name, "dead": sorted(self._dead[segment.name])})
        passages = sum(self._live[str(r["name"])] for r in refs)
        if self._new is not None:
            if self._new.articles:
                written = self._new.finish()
                refs.append({"name": self._new.folder.name, "dead": []})
                passages += written.passages
            else:
                self._new.abandon()
                shutil.rmtree(self._new.folder, ignore_errors=True)
            self._new = None
        self._publish(refs, len(self.hashes), passages)
        if len(refs) > self.max_segments:
            self._merge_smallest()
        sweep_generations(self.index_dir)
        return self._info()

    def _publish(self, refs: list[dict[str, object]], articles: int, passages: int) -> None:
        generation = new_generation(self.index_dir)
        self.manifest = replace(
            self.manifest,
            format=FORMAT_VERSION,
            articles=articles,
            passages=passages,
            built=datetime.now(UTC).isoformat(timespec="seconds"),
            files={},
            segments=refs,
        )
        self.manifest.seal()
        self.manifest.save(generation)
        commit_generation(self.index_dir, generation)

    def _merge_smallest(self) -> None:
        """Too many segments: merge the smallest half (by live passages) into one; a commit of its own."""
        generation = current_generation(self.index_dir)
        assert generation is not None
        committed = Manifest.load(generation)
        sources = _segments_of(generation, committed, full=True)
        try:
            smallest = sorted(sources, key=lambda s: (s.live_passages, s.name))[: len(sources) // 2 + 1]
            folder = new_segment(self.index_dir)
            merge(smallest, folder, self.manifest)
            names = {s.name for s in smallest}
            refs = [r for r in committed.segments if r["name"] not in names] + [{"name": folder.name, "dead": []}]
        finally:
            for source in sources:
                source.close()
        self._publish(refs, committed.articles, committed.passages)

    def _info(self) -> IndexInfo:
        generation = current_generation(self.index_dir)
        assert generation is not None
        return IndexReader.describe(generation, self.manifest)
