"""The FAISS index of passage vectors, keyed by stable passage ids."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from askbot.store.manifest import IndexCorrupt

# FAISS's own file header for an IndexIDMap2 ("IxM2"); checked before FAISS parses anything
_MAGICS = (b"IxM2", b"IxMp")


def empty(dim: int) -> faiss.Index:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def load(path: Path, dim: int, expected_bytes: int | None) -> faiss.Index:
    """Read an index after checking it is whole: FAISS can crash on a truncated or garbled file."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise IndexCorrupt(f"{path} is missing or unreadable ({exc})") from exc
    if expected_bytes is not None and size != expected_bytes:
        raise IndexCorrupt(f"{path} has {size} bytes, the manifest says {expected_bytes}: truncated or replaced")
    if head not in _MAGICS:
        raise IndexCorrupt(f"{path} is not a FAISS index this askbot wrote")
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:  # FAISS validates its header fields and throws on nonsense
        raise IndexCorrupt(f"{path} is garbled: FAISS cannot read it") from exc
    if index.d != dim:
        raise IndexCorrupt(f"{path} holds {index.d}-d vectors, the manifest says {dim}")
    return index


def save(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def add(index: faiss.Index, vectors: np.ndarray, ids: np.ndarray) -> None:
    index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))


def remove(index: faiss.Index, ids: list[int]) -> None:
    if ids:
        index.remove_ids(np.asarray(ids, dtype=np.int64))


def search(
    index: faiss.Index, query: np.ndarray, k: int, allowed: list[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, ids) for one query vector; ``allowed`` restricts the search to those ids."""
    q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    k = min(k, index.ntotal)
    if k <= 0:
        return np.empty(0, np.float32), np.empty(0, np.int64)
    if allowed is None:
        scores, ids = index.search(q, k)
    else:
        if not allowed:
            return np.empty(0, np.float32), np.empty(0, np.int64)
        selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
        scores, ids = index.search(q, k, params=faiss.SearchParameters(sel=selector))
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep]


def scores_of(index: faiss.Index, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Exact inner products of the query with the stored vectors of ``ids``."""
    if not len(ids):
        return np.empty(0, np.float32)
    vectors = np.stack([index.reconstruct(int(i)) for i in ids])
    return (vectors @ query.reshape(-1)).astype(np.float32)
