"""BM25 scoring ("lucene", as bm25s scores it) from statistics that add up over segments.

A segment stores term frequencies (a term-major CSC matrix) and passage lengths; the collection statistics
(passages N, mean length, document frequency of each term) are summed over the live passages of every
segment when a reader opens, so a segmented index scores exactly like the same passages in one segment.
Indexes of the first local format stored the weights themselves (:func:`score_matrix`); they are read as
they are until their first write migrates them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

K1, B = 1.2, 0.75
FILES = ("data", "indices", "indptr")


def idf(n_docs: int, df: np.ndarray | int) -> np.ndarray:
    """bm25s's "lucene" idf, float32."""
    df = np.asarray(df, np.float64)
    return np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)


def norms(lengths: np.ndarray, mean_length: float) -> np.ndarray:
    """The length normalization of each passage (a passage without terms counts as one term long)."""
    return (K1 * ((1 - B) + B * np.maximum(lengths, 1) / mean_length)).astype(np.float32)


def _triples(tokens: np.ndarray, offsets: np.ndarray, n_terms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lengths = np.diff(offsets)
    docs = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    n_docs = max(len(lengths), 1)
    pairs, tf = np.unique(np.asarray(tokens, np.int64) * n_docs + docs, return_counts=True)  # by term, then passage
    term, doc = np.divmod(pairs, n_docs)
    return term, doc, tf


def tf_matrix(tokens: np.ndarray, offsets: np.ndarray, vocab_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Term-major CSC (tf, passage rows, indptr) of each term's frequency in each passage."""
    term, doc, tf = _triples(tokens, offsets, vocab_size)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(term, minlength=vocab_size))]).astype(np.int64)
    return tf.astype(np.float32), doc.astype(np.int32), indptr


def score_matrix(tokens: np.ndarray, offsets: np.ndarray, vocab_size: int) -> tuple[np.ndarray, ...]:
    """bm25s's term-major CSC matrix of BM25 weights, as (data, indices, indptr), from token ids (the first
    local format stored it; kept as the reference the tests compare with bm25s).

    Like bm25s, a passage without tokens gets one token of id ``vocab_size`` (the "empty" term).
    """
    lengths = np.diff(offsets)
    docs = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    terms = np.asarray(tokens, dtype=np.int64)
    empty = np.flatnonzero(lengths == 0)
    if len(empty):
        docs = np.concatenate([docs, empty])
        terms = np.concatenate([terms, np.full(len(empty), vocab_size, np.int64)])
    n_docs, n_terms = len(lengths), vocab_size + 1
    pairs, tf = np.unique(terms * n_docs + docs, return_counts=True)  # sorted by term, then passage
    term, doc = np.divmod(pairs, n_docs)
    df = np.bincount(term, minlength=n_terms)
    norm = norms(lengths, float(np.maximum(lengths, 1).mean()))
    data = idf(n_docs, df)[term] * (tf.astype(np.float32) / (norm[doc] + tf.astype(np.float32)))
    indptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
    return data.astype(np.float32), doc.astype(np.int32), indptr


class ColumnMatrix:
    """A saved term-major CSC matrix (bm25s's file names), read as three arrays: column ``t`` lists the passages
    holding term ``t`` and its value in each (a frequency, or in the first format a BM25 weight)."""

    def __init__(
        self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, num_docs: int, values: str = "tf"
    ) -> None:
        self.data, self.indices, self.indptr, self.num_docs, self.values = data, indices, indptr, num_docs, values

    @classmethod
    def load(cls, directory: Path, mmap: bool) -> ColumnMatrix:
        mode: Literal["r"] | None = "r" if mmap else None
        data, indices, indptr = (
            np.load(directory / f"{name}.csc.index.npy", mmap_mode=mode, allow_pickle=False) for name in FILES
        )
        params = json.loads((directory / "params.index.json").read_text(encoding="utf-8"))
        return cls(data, indices, indptr, int(params["num_docs"]), str(params.get("values", "weights")))

    @staticmethod
    def save(directory: Path, arrays: Sequence[np.ndarray], num_docs: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name, array in zip(FILES, arrays, strict=True):
            np.save(directory / f"{name}.csc.index.npy", array)
        params = {"k1": K1, "b": B, "method": "lucene", "values": "tf", "num_docs": num_docs}
        (directory / "params.index.json").write_text(json.dumps(params, indent=4), encoding="utf-8")

    def column(self, term_id: int) -> tuple[np.ndarray, np.ndarray]:
        if term_id + 1 >= len(self.indptr):
            return np.empty(0, np.int32), np.empty(0, np.float32)
        start, end = int(self.indptr[term_id]), int(self.indptr[term_id + 1])
        return np.asarray(self.indices[start:end]), np.asarray(self.data[start:end])

    def document_frequency(self, term_id: int, dead_rows: np.ndarray | None = None) -> int:
        """Passages holding the term, less those among ``dead_rows`` (a boolean mask over rows)."""
        if term_id + 1 >= len(self.indptr):
            return 0
        df = int(self.indptr[term_id + 1] - self.indptr[term_id])
        if dead_rows is not None and df:
            df -= int(dead_rows[self.column(term_id)[0]].sum())
        return df
