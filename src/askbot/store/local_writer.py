"""The local store's one writer: new articles go to one new segment, deletions become tombstones."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from askbot.store import current_generation, metadata, new_segment, sweep_generations
from askbot.store import local_merges as merges
from askbot.store.base import article_statuses
from askbot.store.live_segments import MAX_SEGMENTS, Refs, close_all, describe, open_segments, publish
from askbot.store.lock import WriterLock
from askbot.store.manifest import Manifest
from askbot.store.segment import Segment, SegmentBuilder
from askbot.types import Article, IndexInfo, Passage


class IndexWriter:
    """The one writer: new articles go to one new segment, deletions become tombstones; ``commit()`` publishes
    them in a new generation atomically. Use as a context manager: the writer lock is held from entry to exit,
    and an exit without ``commit()`` (an error, a crash) abandons the new segment and leaves the index as it was.
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
        self._legacy: tuple[Path, Manifest] | None = None
        if previous is not None:
            old = Manifest.load(previous)
            self.manifest.next_passage_id = old.next_passage_id
            self._legacy = (previous, old) if old.format == 1 else None
            self._segments = open_segments(previous, old, full=False)
        self.hashes, self._where = _indexed(self._segments)  # article id -> hash, segment name ("" for the new one)
        self._dead = {s.name: set(s.dead) for s in self._segments}
        self._live = {s.name: s.live_passages for s in self._segments}

    def _migrate(self) -> None:
        """A first-format index becomes one segment before its first change (:func:`local_merges.migrate`)."""
        if self._legacy is not None:
            self.manifest = merges.migrate(self.index_dir, *self._legacy, self.manifest)
            self._begin()

    def _close(self) -> None:
        close_all(self._segments)
        self._segments = []

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._close()
            if self._new is not None:
                self._abandon_new()
        finally:
            self._lock.__exit__(None, None, None)

    def _abandon_new(self) -> None:
        assert self._new is not None
        self._new.abandon()
        shutil.rmtree(self._new.folder, ignore_errors=True)
        self._new = None

    def statuses(self, articles: Sequence[Article]) -> dict[str, str]:
        """Article id -> 'new', 'changed' or 'unchanged' relative to what is indexed."""
        return article_statuses(self.hashes, articles)

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
        merged = merges.merge_all(self.index_dir, self.manifest, retokenize)
        if merged is None:
            return self.manifest
        self.manifest, written = merged
        sweep_generations(self.index_dir)
        self._begin()
        return written

    def commit(self) -> IndexInfo:
        self._migrate()
        refs = _surviving(self._segments, self._dead, self._live)
        passages = sum(self._live[str(r["name"])] for r in refs)
        if self._new is not None:
            if self._new.articles:
                passages += self._new.finish().passages
                refs.append({"name": self._new.folder.name, "dead": []})
                self._new = None
            else:
                self._abandon_new()
        self.manifest = publish(self.index_dir, self.manifest, refs, len(self.hashes), passages)
        if len(refs) > self.max_segments:
            self.manifest = merges.merge_smallest(self.index_dir, self.manifest)
        sweep_generations(self.index_dir)
        return self._info()

    def _info(self) -> IndexInfo:
        generation = current_generation(self.index_dir)
        assert generation is not None
        return describe(generation, self.manifest)


def _indexed(segments: list[Segment]) -> tuple[dict[str, str], dict[str, str]]:
    """Of every live article of ``segments``: its content hash, and the name of the segment holding it."""
    hashes: dict[str, str] = {}
    where: dict[str, str] = {}
    for segment in segments:
        for aid, digest in metadata.article_hashes(segment.db).items():
            if aid not in segment.dead:
                hashes[aid], where[aid] = digest, segment.name
    return hashes, where


def _surviving(segments: list[Segment], dead: dict[str, set[str]], live: dict[str, int]) -> Refs:
    """The refs of the segments still holding a live article, each with its tombstones."""
    return [
        {"name": s.name, "dead": sorted(dead[s.name])}
        for s in segments
        if live[s.name] > 0 or len(dead[s.name]) < s.manifest.articles
    ]
