"""vectors/ on disk: immutable segments, and the committed index manifest naming the live ones behind CURRENT.

Layout::

    vectors/
      CURRENT            name of the committed generation, replaced atomically (os.replace)
      .writer.lock       flock'd by the one writer; holds its PID
      gen-000009/
        manifest.json    model, normalizer, counts; the live segments, each with its tombstones (deleted articles)
      seg-000004/        a segment (askbot.store.segment): manifest.json, meta.sqlite, dense.faiss, lexical/
      seg-000008/        ... one per commit that wrote articles, until merged

A commit writes only what is new: one segment of the articles it added (fsynced), then a generation folder
whose manifest names the live segments and the articles deleted from each, then flips CURRENT. A crash at any
moment leaves CURRENT naming a whole generation whose segments are all whole; readers never see half a write
and keep answering from their generation while a writer works. Merges (automatic past
``live_segments.MAX_SEGMENTS``, or ``askbot compact``) write one segment of the live rows of several and commit the
same way. An index of the first format (a generation folder holding the files of one segment) is read as one
segment; its first write migrates it (one merge of it into a segment).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from askbot.store.lock import IndexBusy, WriterLock
from askbot.store.manifest import MANIFEST, IndexCorrupt, IndexMismatch, Manifest, StoreUnavailable, write_atomic

__all__ = [
    "IndexBusy",
    "IndexCorrupt",
    "IndexMismatch",
    "Manifest",
    "StoreUnavailable",
    "WriterLock",
    "current_generation",
    "new_generation",
    "new_segment",
    "commit_generation",
    "fsync",
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


def _generation_number(path: Path, prefix: str = "gen-") -> int:
    try:
        return int(path.name.removeprefix(prefix))
    except ValueError:
        return -1


def new_generation(index_dir: Path) -> Path:
    """A fresh, empty generation folder numbered after every existing one (committed or abandoned)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    numbers = [_generation_number(p) for p in index_dir.glob("gen-*")]
    path = index_dir / f"gen-{max(numbers, default=0) + 1:06d}"
    path.mkdir()
    return path


def new_segment(index_dir: Path) -> Path:
    """The path of a new segment folder numbered after every existing one (not created)."""
    numbers = [_generation_number(p, "seg-") for p in index_dir.glob("seg-*")]
    return index_dir / f"seg-{max(numbers, default=0) + 1:06d}"


def commit_generation(index_dir: Path, generation: Path) -> None:
    """Make ``generation`` the current one: fsync its files, then flip CURRENT atomically."""
    for path in sorted(generation.rglob("*"), key=lambda p: -len(p.parts)):  # files before their folders
        fsync(path)
    fsync(generation)
    fsync(index_dir)  # the new segment folders' entries
    write_atomic(index_dir / CURRENT, generation.name.encode("ascii"))
    fsync(index_dir)


def fsync(path: Path) -> None:
    """Flush ``path`` (a file or a folder's entries) to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep_generations(index_dir: Path) -> None:
    """Remove abandoned and old generations, and the segments no kept generation names (call only while holding
    the writer lock)."""
    current = current_generation(index_dir)
    if current is None:
        return
    older = sorted((p for p in index_dir.glob("gen-*") if p != current), key=_generation_number)
    whole = [p for p in older if _generation_number(p) < _generation_number(current) and (p / MANIFEST).is_file()]
    keep = [current, *whole[-KEEP_OLD:]]  # a folder without its manifest is a writer killed before it wrote one
    for path in older:
        if path not in keep:
            shutil.rmtree(path, ignore_errors=True)
    live: set[str] = set()
    for generation in keep:
        try:
            live.update(str(s["name"]) for s in Manifest.load(generation).segments)
        except IndexCorrupt:
            return  # a generation one cannot read: keep every segment
    for path in index_dir.glob("seg-*"):
        if path.name not in live:
            shutil.rmtree(path, ignore_errors=True)
