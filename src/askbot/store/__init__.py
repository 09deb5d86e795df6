"""vectors/ on disk: committed generations of (FAISS + SQLite + manifest) behind an atomic CURRENT pointer.

Layout::

    vectors/
      CURRENT            name of the committed generation, replaced atomically (os.replace)
      .writer.lock       flock'd by the one writer; holds its PID
      gen-000007/
        manifest.json    model, normalizer, counts, sizes and sha256 of the files below
        meta.sqlite      articles (full text) and passages (character offsets)
        dense.faiss      IndexIDMap2(IndexFlatIP) of passage vectors, ids = passage ids
        lexical.npz      BM25 term-frequency matrix (see askbot.store.lexical)

A writer copies the current generation into a new folder, changes it, writes its manifest, fsyncs,
then flips CURRENT. A crash at any moment leaves CURRENT naming a whole generation; readers never see
half a write and keep answering from their generation while a writer works.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from askbot.store.lock import IndexBusy, WriterLock
from askbot.store.manifest import IndexCorrupt, IndexMismatch, Manifest, write_atomic

__all__ = [
    "IndexBusy",
    "IndexCorrupt",
    "IndexMismatch",
    "Manifest",
    "WriterLock",
    "current_generation",
    "new_generation",
    "commit_generation",
    "sweep_generations",
]

CURRENT = "CURRENT"
KEEP_OLD = 1  # generations kept besides CURRENT, so readers that opened one a moment ago can finish


def current_generation(index_dir: Path) -> Path | None:
    """The committed generation folder, or None for an empty index."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorrupt(
            f"{index_dir / CURRENT} is unreadable ({exc}); run: askbot check --index {index_dir}"
        ) from exc
    path = index_dir / name
    if not name.startswith("gen-") or "/" in name or not path.is_dir():
        raise IndexCorrupt(
            f"{index_dir / CURRENT} names {name!r}, which is not a generation folder; "
            f"rebuild with: askbot index --rebuild --index {index_dir} PATH..."
        )
    return path


def _generation_number(path: Path) -> int:
    try:
        return int(path.name.removeprefix("gen-"))
    except ValueError:
        return -1


def new_generation(index_dir: Path) -> Path:
    """A fresh, empty generation folder numbered after every existing one (committed or abandoned)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    numbers = [_generation_number(p) for p in index_dir.glob("gen-*")]
    path = index_dir / f"gen-{max(numbers, default=0) + 1:06d}"
    path.mkdir()
    return path


def commit_generation(index_dir: Path, generation: Path) -> None:
    """Make ``generation`` the current one: fsync its files, then flip CURRENT atomically."""
    for path in sorted(generation.rglob("*"), key=lambda p: -len(p.parts)):  # files before their folders
        _fsync(path)
    _fsync(generation)
    write_atomic(index_dir / CURRENT, generation.name.encode("ascii"))
    _fsync(index_dir)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep_generations(index_dir: Path) -> None:
    """Remove abandoned and old generations (call only while holding the writer lock)."""
    current = current_generation(index_dir)
    if current is None:
        return
    older = sorted((p for p in index_dir.glob("gen-*") if p != current), key=_generation_number)
    keep = [p for p in older if _generation_number(p) < _generation_number(current)][-KEEP_OLD:]
    for path in older:
        if path not in keep:
            shutil.rmtree(path, ignore_errors=True)
