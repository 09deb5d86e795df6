"""The local store's merges: several committed segments' live rows written as one segment, in a commit of its own.

Called by the writer (askbot.store.local_writer) while it holds the writer lock: the migration of a first-format
index, ``compact``/``relex`` (every segment) and the automatic merge past ``MAX_SEGMENTS`` (the smallest half).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from askbot.store import current_generation, new_segment
from askbot.store.live_segments import Refs, close_all, open_segments, publish
from askbot.store.manifest import Manifest
from askbot.store.segment import Segment, merge


def migrate(index_dir: Path, generation: Path, old: Manifest, template: Manifest) -> Manifest:
    """A first-format generation (``old`` its manifest) merged into one segment, published as the same index;
    its BM25 weights cannot be summed with other segments' statistics, while its token ids, vectors and SQLite
    rows are carried over as they are. Returns the published manifest."""
    source = Segment(generation)
    try:
        folder = new_segment(index_dir)
        written = merge([source], folder, replace(template, next_passage_id=old.next_passage_id))
    finally:
        source.close()
    return publish(index_dir, template, [{"name": folder.name, "dead": []}], written.articles, written.passages)


def merge_all(index_dir: Path, template: Manifest, retokenize: bool) -> tuple[Manifest, Manifest] | None:
    """Every live segment of the committed generation merged into one (``retokenize``: lexical terms re-derived
    from the texts), published; returns (the published manifest, the merged segment's), None for an empty index."""
    previous = current_generation(index_dir)
    if previous is None:
        return None
    sources = open_segments(previous, Manifest.load(previous), full=True, lexical=not retokenize)
    try:
        folder = new_segment(index_dir)
        written = merge(sources, folder, template, retokenize=retokenize)
    finally:
        close_all(sources)
    refs: Refs = [{"name": folder.name, "dead": []}] if written.articles else []
    return publish(index_dir, template, refs, written.articles, written.passages), written


def merge_smallest(index_dir: Path, template: Manifest) -> Manifest:
    """Too many segments: the smallest half (by live passages) merged into one; returns the published manifest."""
    generation = current_generation(index_dir)
    assert generation is not None
    committed = Manifest.load(generation)
    sources = open_segments(generation, committed, full=True)
    try:
        smallest = sorted(sources, key=lambda s: (s.live_passages, s.name))[: len(sources) // 2 + 1]
        folder = new_segment(index_dir)
        merge(smallest, folder, template)
        names = {s.name for s in smallest}
        refs = [r for r in committed.segments if r["name"] not in names] + [{"name": folder.name, "dead": []}]
    finally:
        close_all(sources)
    return publish(index_dir, template, refs, committed.articles, committed.passages)
