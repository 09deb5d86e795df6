"""What the local reader and writer share: a committed generation's live segments, opened; publishing a new one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from askbot.store import commit_generation, new_generation
from askbot.store.manifest import FORMAT_VERSION, IndexCorrupt, Manifest
from askbot.store.segment import Segment
from askbot.types import IndexInfo

# Past this many live segments a commit merges the smallest half into one. Each segment costs a warm question
# ~0.2 ms (a FAISS search, a BM25 pass, SQLite look-ups), so 64 small ones add ~10 ms; the big segments are left
# alone until ``askbot compact``, which keeps a merge's cost near the size of the recent writes.
MAX_SEGMENTS = 64
EMPTY = (np.empty(0, np.float32), np.empty(0, np.int64))
Refs = list[dict[str, object]]  # a generation manifest's live segments: {"name": "seg-000004", "dead": [ids]}


def open_segments(generation: Path, manifest: Manifest, full: bool, lexical: bool = True) -> list[Segment]:
    """The live segments ``manifest`` (of ``generation``) names, with their tombstones; see :class:`Segment`."""
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
        close_all(opened)
        raise
    return opened


def close_all(segments: list[Segment]) -> None:
    for segment in segments:
        segment.close()


def top(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best (score, id), best first, ties by id: one order whichever segments the rows came from."""
    order = np.lexsort((ids, -scores))[:k]
    return scores[order].astype(np.float32), ids[order].astype(np.int64)


def describe(generation: Path, manifest: Manifest) -> IndexInfo:
    """``info()`` of the committed ``generation``."""
    segments = len(manifest.segments) if manifest.format != 1 else 1
    return manifest.info(str(generation.parent), "local", generation.name, segments)


def publish(index_dir: Path, manifest: Manifest, refs: Refs, articles: int, passages: int) -> Manifest:
    """Commit a new generation naming the segments ``refs`` (``manifest`` the template); returns its manifest."""
    generation = new_generation(index_dir)
    published = replace(
        manifest,
        format=FORMAT_VERSION,
        articles=articles,
        passages=passages,
        built=datetime.now(UTC).isoformat(timespec="seconds"),
        files={},
        segments=refs,
    )
    published.seal()
    published.save(generation)
    commit_generation(index_dir, generation)
    return published
