"""One segment of a local index: an immutable folder of articles, passages, vectors and lexical terms.

Layout of ``seg-000012/`` (also that of a whole generation of the first local format, read as one segment)::

    manifest.json   counts, sizes and sha256 of the files below
    meta.sqlite     articles (full text) and passages (character offsets)
    dense.faiss     IndexIDMap2 of passage vectors, ids = passage ids (flat below dense.HNSW_MIN_VECTORS)
    lexical/        term ids per passage and their frequencies (askbot.store.lexical)

A segment is written once (:class:`SegmentBuilder`) and never changed: deleting an article from it is a
tombstone in the index's manifest, and :func:`merge` writes the live rows of several segments into one.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

from askbot.arabic import lexical_terms
from askbot.store import dense, fsync, metadata
from askbot.store.lexical import LexicalIndex
from askbot.store.manifest import FORMAT_VERSION, IndexCorrupt, Manifest
from askbot.types import Article, Passage

META, DENSE, LEXICAL = "meta.sqlite", "dense.faiss", "lexical"
# A smaller segment's lexical files are read whole, vocabulary included: mapping six tiny files costs more (~1.5 ms a
# segment at a cold open) than reading them, and what pools small segments reads their vocabularies anyway.
MMAP_MIN_PASSAGES = 10_000


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _tracked_files(folder: Path) -> list[Path]:
    files = [folder / META, folder / DENSE]
    files += sorted(p for p in (folder / LEXICAL).rglob("*") if p.is_file())
    return files


def fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), key=lambda p: -len(p.parts)):  # files before their folders
        fsync(path)
    fsync(folder)


_DENSE: dict[tuple[str, str], faiss.Index] = {}  # (folder, sha256 of dense.faiss) -> the loaded FAISS index


def _shared_dense(folder: Path, manifest: Manifest) -> faiss.Index:
    """A segment's FAISS index, loaded once per process: segments never change, so a reader re-opened after a
    small commit reuses the big segment's vectors instead of reading them again (0.6 s at 100k passages)."""
    digest = str(manifest.files.get(DENSE, {}).get("sha256", ""))
    key = (str(folder), digest)
    if not digest or key not in _DENSE:
        index = dense.load(folder / DENSE, manifest.dim)
        if not digest:
            return index
        _DENSE[key] = index
    return _DENSE[key]


def forget_unused(folders: set[str]) -> None:
    """Drop the loaded FAISS indexes of segments outside ``folders`` (those of the generation being opened)."""
    for key in [k for k in _DENSE if k[0] not in folders]:
        del _DENSE[key]


class Searchable:
    """What a search reads of a segment (or of several pooled, :mod:`askbot.store.pooled`): the passage ids of its
    rows (ascending), which rows are live (None: all), their vectors and lexical index, and their SQLite rows."""

    db: sqlite3.Connection
    dense: faiss.Index
    lexical: LexicalIndex
    pids: np.ndarray
    live_rows: np.ndarray | None
    dead_pids: np.ndarray
    pid_range: tuple[int, int]
    live_passages: int

    def live_among_sorted(self, ids: np.ndarray) -> np.ndarray:
        """:meth:`live` for ascending ``ids``: one bisection skips a segment none of them can be in."""
        lo, hi = np.searchsorted(ids, self.pid_range)
        return self.live(ids[lo:hi]) if hi > lo else ids[:0]

    def holding(self, ids: np.ndarray) -> list[tuple[Segment, list[int]]]:
        """The segments whose files hold the live passages of ``ids`` (ascending), each with its ids."""
        raise NotImplementedError

    def live(self, ids: np.ndarray) -> np.ndarray:
        """The ids of ``ids`` that are live passages of this segment."""
        ids = np.asarray(ids, np.int64)
        if not len(self.pids) or not len(ids):
            return ids[:0]
        rows = np.clip(np.searchsorted(self.pids, ids), 0, len(self.pids) - 1)
        here = self.pids[rows] == ids
        if self.live_rows is not None:
            here &= self.live_rows[rows]
        return ids[here]


class Segment(Searchable):
    """A committed segment, opened read-only; ``dead`` are its articles deleted since (tombstones).

    ``full=False`` opens only the manifest and SQLite (what a writer needs to know what is indexed where);
    ``lexical=False`` all but the lexical files (a re-tokenization does not read them: they may be of an old format).
    """

    def __init__(self, folder: Path, dead: Sequence[str] = (), full: bool = True, lexical: bool = True) -> None:
        self.folder = folder
        self.name = folder.name
        self.manifest = Manifest.load(folder)
        for name in (META, DENSE):
            if not (folder / name).is_file():
                raise IndexCorrupt(f"{folder / name} is missing")
        for name, info in self.manifest.files.items():  # stat only: a truncated file is refused before it is read
            try:
                size = (folder / name).stat().st_size
            except OSError as exc:
                raise IndexCorrupt(f"{folder / name} is missing ({exc})") from exc
            if size != info["bytes"]:
                expected = info["bytes"]
                raise IndexCorrupt(f"{folder / name} has {size} bytes, the manifest says {expected}: truncated")
        self.db = metadata.connect(folder / META, readonly=True)
        try:
            self.db.execute("SELECT 1 FROM articles LIMIT 1").fetchall()
            self.dead = frozenset(dead)
            self.dead_pids = np.asarray(sorted(metadata.pids_of_articles(self.db, sorted(self.dead))), np.int64)
        except (sqlite3.DatabaseError, ValueError) as exc:  # ValueError: a garbled schema text fails to decode
            raise IndexCorrupt(f"{folder / META} is not a readable SQLite database ({exc})") from exc
        self.live_passages = self.manifest.passages - len(self.dead_pids)
        if full:
            self.dense = _shared_dense(folder, self.manifest)
            mapped = self.manifest.passages >= MMAP_MIN_PASSAGES
            self.lexical = LexicalIndex.load(folder / LEXICAL, mmap=mapped) if lexical else LexicalIndex.empty()
            self.pids = np.asarray(self.lexical.pids, np.int64) if lexical else np.sort(dense.vectors_of(self.dense)[0])
            self.live_rows = ~np.isin(self.pids, self.dead_pids) if len(self.dead_pids) else None
            self.pid_range = (int(self.pids[0]), int(self.pids[-1]) + 1) if len(self.pids) else (0, 0)

    def holding(self, ids: np.ndarray) -> list[tuple[Segment, list[int]]]:
        here = self.live_among_sorted(ids).tolist()
        return [(self, here)] if here else []

    def verify(self, problems: list[str]) -> None:
        try:
            self._verify(problems)
        except (sqlite3.DatabaseError, ValueError) as exc:  # a damaged meta.sqlite fails queries, or decoding
            problems.append(f"{self.folder / META} is damaged ({exc})")

    def _verify(self, problems: list[str]) -> None:
        for name, info in self.manifest.files.items():
            path = self.folder / name
            if not path.is_file():
                problems.append(f"{path} is missing")
            elif path.stat().st_size != info["bytes"] or file_digest(path) != info["sha256"]:
                problems.append(f"{path} does not match its checksum in the manifest")
        articles, passages = metadata.counts(self.db)
        if (articles, passages) != (self.manifest.articles, self.manifest.passages):
            problems.append(
                f"{self.folder}: manifest counts {self.manifest.articles}/{self.manifest.passages} != "
                f"stored {articles}/{passages} (articles/passages)"
            )
        if self.dense.ntotal != passages:
            problems.append(f"{self.folder}: {self.dense.ntotal} vectors for {passages} passages")
        pids = np.asarray(metadata.all_pids(self.db), np.int64)
        if not np.array_equal(pids, np.sort(dense.vectors_of(self.dense)[0])):
            problems.append(f"{self.folder}: vector ids and passage ids differ (orphan vectors or passages)")
        if not np.array_equal(self.pids, pids):
            problems.append(f"{self.folder}: the lexical index does not cover exactly the stored passages")
        missing = self.dead - set(metadata.article_hashes(self.db))
        if missing:
            problems.append(f"{self.folder}: tombstones name articles it does not hold: {sorted(missing)[:5]}")
        (orphans,) = self.db.execute(
            "SELECT count(*) FROM passages p LEFT JOIN articles a ON a.id = p.article_id WHERE a.id IS NULL"
        ).fetchone()
        if orphans:
            problems.append(f"{self.folder}: {orphans} passages belong to no article")

    def close(self) -> None:
        self.db.close()
        lexical_vocab = getattr(getattr(self, "lexical", None), "vocab", None)
        if hasattr(lexical_vocab, "close"):
            lexical_vocab.close()  # type: ignore[union-attr]


class SegmentBuilder:
    """A new segment being written; ``finish()`` saves and fsyncs it (it is published by the index's manifest)."""

    def __init__(self, folder: Path, template: Manifest) -> None:
        self.folder = folder
        self.template = template
        folder.mkdir()
        self.db = metadata.connect(folder / META, readonly=False)
        self.dense = dense.empty(template.dim)
        self.lexical = LexicalIndex.empty()
        self.articles: set[str] = set()

    def put(
        self,
        article: Article,
        passages: Sequence[Passage],
        vectors: np.ndarray,
        terms: Sequence[Sequence[str]],
        pids: np.ndarray,
    ) -> None:
        metadata.put_article(self.db, article, passages, pids.tolist())
        dense.add(self.dense, vectors, pids)
        self.lexical.add(pids.tolist(), terms)
        self.articles.add(article.id)

    def delete(self, article_id: str) -> int:
        """Drop an article written here; returns how many passages went with it."""
        gone = metadata.delete_articles(self.db, [article_id])
        self.dense = dense.remove(self.dense, gone)
        self.lexical.remove(gone)
        self.articles.discard(article_id)
        return len(gone)

    def finish(self) -> Manifest:
        self.db.commit()
        articles, passages = metadata.counts(self.db)
        self.db.close()
        dense.save(self.dense, self.folder / DENSE)
        self.lexical.save(self.folder / LEXICAL)
        manifest = replace(
            self.template,
            format=FORMAT_VERSION,
            articles=articles,
            passages=passages,
            built=datetime.now(UTC).isoformat(timespec="seconds"),
            segments=[],
            segments_sha256="",
            files={
                str(p.relative_to(self.folder)): {"bytes": p.stat().st_size, "sha256": file_digest(p)}
                for p in _tracked_files(self.folder)
            },
        )
        manifest.save(self.folder)
        fsync_tree(self.folder)
        return manifest

    def abandon(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()


def merge(sources: Sequence[Segment], folder: Path, template: Manifest, retokenize: bool = False) -> Manifest:
    """Write the live articles of ``sources`` into one new segment in ``folder`` (``retokenize``: lexical terms
    anew from the passages' text, as after a change of text rules; else the stored term ids are carried over)."""
    builder = SegmentBuilder(folder, template)
    try:
        for source in sources:
            metadata.copy_articles(source.db, builder.db, exclude=source.dead)
            ids, vectors = dense.vectors_of(source.dense)
            keep = ~np.isin(ids, source.dead_pids)
            dense.add(builder.dense, vectors[keep], ids[keep])
        if retokenize:
            rows = builder.db.execute(
                'SELECT p.pid, substr(a.text, p.start + 1, p."end" - p.start) FROM passages p '
                "JOIN articles a ON a.id = p.article_id ORDER BY p.pid"
            )
            while batch := rows.fetchmany(1000):
                builder.lexical.add([pid for pid, _ in batch], [lexical_terms(text) for _, text in batch])
        else:
            parts = [
                (s.lexical, s.live_rows if s.live_rows is not None else np.ones(len(s.pids), bool)) for s in sources
            ]
            builder.lexical = LexicalIndex.merged(parts)
        return builder.finish()
    except BaseException:
        builder.abandon()
        raise
