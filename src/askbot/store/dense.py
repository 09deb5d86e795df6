"""The FAISS index of passage vectors, keyed by stable passage ids: exact (flat) when small, HNSW when large."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import faiss
import numpy as np

from askbot.store.manifest import IndexCorrupt

# FAISS's own file header for an IndexIDMap2 ("IxM2"); checked before FAISS parses anything
_MAGICS = (b"IxM2", b"IxMp")
_faiss = cast(Any, faiss)  # FAISS's type stubs lack IndexIDMap2's fields and the HNSW search parameters
# A loaded index maps its file's vectors instead of copying them (where FAISS can; else 0: read): a cold open of the
# whole corpus's 150 MB of vectors takes ~0.02 CPU s instead of ~0.3-0.5, the pages are shared by every process
# that reads the index, and a search reads them from the page cache. Segment files are never changed in place.
_MAP_VECTORS = getattr(faiss, "IO_FLAG_MMAP_IFC", 0)

# Up to HNSW_MIN_VECTORS the index is IndexIDMap2(IndexFlatIP): exact. From there on save() writes
# IndexIDMap2(IndexHNSWFlat). Real questions are far from every passage (e5 query vectors sit apart from passage
# vectors: best cosine ~0.84), which makes a graph walk much harder than for passage-like probes: on the whole ANT
# corpus's 103,877 real vectors and 200 XQuAD-ar questions, recall@10 against exact was 0.84 at efSearch 128, 0.98
# at 1024 and 0.995 at 2048, where HNSW took as long as exact search (8 ms). So the whole corpus is searched exactly,
# and HNSW starts where exact search passes ~20 ms (benchmarks/full_corpus.py recall, benchmarks/scale.py).
# HNSW takes new vectors incrementally but cannot delete them: remove() turns the index back into a flat one (the
# vectors are kept in HNSW's storage) and the next save() builds a new graph, so removing or updating articles in a
# very large index costs a rebuild while adding does not.
HNSW_MIN_VECTORS = 250_000  # exact search reads every vector: ~0.075 ms per 1,000 on one idle core (8 ms at 104k)
HNSW_M = 32  # graph links per vector: ~256 bytes each beside the 1,536 of a 384-d vector
HNSW_EF_CONSTRUCTION = 64
HNSW_EF_SEARCH = 2048  # beam width for real questions (see above); passage-like probes need only 256 at 1M
EXACT_FILTER_MAX = 50_000  # a filtered search over at most this many passages is exact even on HNSW


def empty(dim: int) -> faiss.Index:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def is_hnsw(index: faiss.Index) -> bool:
    """Whether ``index`` (an IndexIDMap2) searches a graph rather than every vector."""
    return isinstance(faiss.downcast_index(cast(Any, index).index), faiss.IndexHNSW)


def vectors_of(index: faiss.Index) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of every stored vector, in storage order."""
    n, mapped = index.ntotal, cast(Any, index)
    ids = faiss.vector_to_array(mapped.id_map).astype(np.int64) if n else np.empty(0, np.int64)
    inner = faiss.downcast_index(mapped.index)
    return ids, inner.reconstruct_n(0, n) if n else np.empty((0, index.d), np.float32)


def rebuilt(index: faiss.Index, hnsw: bool) -> faiss.Index:
    """The same ids and vectors in a new flat or HNSW index."""
    ids, vectors = vectors_of(index)
    if hnsw:
        graph = faiss.IndexHNSWFlat(index.d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        graph.hnsw.efSearch = HNSW_EF_SEARCH
        out: faiss.Index = faiss.IndexIDMap2(graph)
    else:
        out = empty(index.d)
    if len(ids):
        add(out, vectors, ids)
    return out


def by_scale(index: faiss.Index) -> faiss.Index:
    """``index`` as it should be stored at its size: flat below :data:`HNSW_MIN_VECTORS` vectors, HNSW from there."""
    want_hnsw = index.ntotal >= HNSW_MIN_VECTORS
    return index if want_hnsw == is_hnsw(index) else rebuilt(index, want_hnsw)


def load(path: Path, dim: int) -> faiss.Index:
    """Read an index after checking its header: FAISS can crash on a garbled file.

    Its size against the manifest is checked by the reader, with every other file of the generation.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise IndexCorrupt(f"{path} is missing or unreadable ({exc})") from exc
    if head not in _MAGICS:
        raise IndexCorrupt(f"{path} is not a FAISS index this askbot wrote")
    try:
        index = faiss.read_index(str(path), _MAP_VECTORS)
    except RuntimeError as exc:  # FAISS validates its header fields and throws on nonsense
        raise IndexCorrupt(f"{path} is garbled: FAISS cannot read it") from exc
    if index.d != dim:
        raise IndexCorrupt(f"{path} holds {index.d}-d vectors, the manifest says {dim}")
    return index


def save(index: faiss.Index, path: Path) -> None:
    """Write ``index`` in the kind its size calls for (:func:`by_scale`)."""
    index = by_scale(index)
    # Serialized in memory, written by Python: FAISS's own writer ignores a failed final flush (disk full)
    # and would leave a truncated file for the commit to checksum and publish.
    with open(path, "wb") as fh:
        fh.write(faiss.serialize_index(index).tobytes())


def add(index: faiss.Index, vectors: np.ndarray, ids: np.ndarray) -> None:
    index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))


def remove(index: faiss.Index, ids: list[int]) -> faiss.Index:
    """``index`` without ``ids``: changed in place when flat; an HNSW index comes back flat (it cannot delete)."""
    if not ids:
        return index
    if is_hnsw(index):
        index = rebuilt(index, hnsw=False)
    cast(Any, index).remove_ids(np.asarray(ids, dtype=np.int64))
    return index


def search(
    index: faiss.Index, query: np.ndarray, k: int, allowed: list[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, ids) for one query vector; ``allowed`` restricts the search to those ids."""
    q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    k = min(k, index.ntotal)
    if k <= 0:
        return np.empty(0, np.float32), np.empty(0, np.int64)
    with one_thread():
        return _search(index, q, k, allowed)


_nested = threading.local()


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """FAISS with one OpenMP thread: for one query, waking a second costs more than it saves (~10x on a busy CPU).

    Re-entrant at no cost: setting the thread count takes ~0.2 ms, so a search over many segments sets it once.
    """
    if getattr(_nested, "depth", 0):
        yield
        return
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    _nested.depth = 1
    try:
        yield
    finally:
        _nested.depth = 0
        faiss.omp_set_num_threads(threads)


def _search(index: faiss.Index, q: np.ndarray, k: int, allowed: list[int] | None) -> tuple[np.ndarray, np.ndarray]:
    hnsw = is_hnsw(index)
    if allowed is None:
        params = _faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, k)) if hnsw else None
        scores, ids = index.search(q, k, params=params)
    elif not allowed:
        return np.empty(0, np.float32), np.empty(0, np.int64)
    elif hnsw and len(allowed) <= EXACT_FILTER_MAX:
        # a graph walk that may only return a few nodes misses many of them: score the allowed ones exactly
        return _exact_among(index, q[0], k, np.asarray(allowed, dtype=np.int64))
    else:
        selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
        if hnsw:  # widen the beam by how much of the graph is filtered out
            ef = min(4096, max(HNSW_EF_SEARCH, k) * -(-index.ntotal // len(allowed)))
            params = _faiss.SearchParametersHNSW(sel=selector, efSearch=ef)
        else:
            params = _faiss.SearchParameters(sel=selector)
        scores, ids = index.search(q, k, params=params)
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep]


def _exact_among(index: faiss.Index, query: np.ndarray, k: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    present = ids[np.isin(ids, faiss.vector_to_array(cast(Any, index).id_map))]
    scores = scores_of(index, query, present)
    top = np.argsort(-scores, kind="stable")[:k]
    return scores[top], present[top]


def scores_of(index: faiss.Index, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Exact inner products of the query with the stored vectors of ``ids``, each computed on its own: a matrix
    product's rounding depends on a row's place in the batch, and a passage's score must not depend on which
    others are scored with it (one index or several segments)."""
    if not len(ids):
        return np.empty(0, np.float32)
    vectors = index.reconstruct_batch(np.asarray(ids, dtype=np.int64))
    return (vectors * query.reshape(1, -1).astype(np.float32)).sum(axis=1, dtype=np.float32)
