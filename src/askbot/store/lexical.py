"""BM25 over askbot's own Arabic tokens (bm25s scores, plain .npy/.json files, memory-mappable).

bm25s cannot add documents to a built index, so each generation keeps the tokenized corpus as
token ids (``tokens.npy`` + ``offsets.npy``, one row per passage, ``pids.npy`` naming the passage)
and rebuilds the score matrix from ids on commit: no passage is ever tokenized twice.

Writers build the score matrix with numpy (:func:`score_matrix`: bm25s's "lucene" scores and file layout, 3.9 s
at 100k passages where bm25s's per-passage loop took 16 s; ``_build`` keeps bm25s as the reference the tests
compare with); readers only sum columns of the saved score matrix (``bm25/*.csc.index.npy``,
term-major: column ``t`` holds the BM25 weight of term ``t`` in each passage), which needs neither
bm25s nor scipy, so a cold ``askbot ask`` does not pay for importing them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from askbot.arabic import NORMALIZER_VERSION
from askbot.store.manifest import IndexCorrupt

if TYPE_CHECKING:
    import bm25s

# What the manifest records as the index's text rules: a change here or in askbot.arabic makes old indexes
# refuse to load until `askbot index --relex` re-tokenizes them (no re-embedding needed).
LEXICAL_FORMAT = 2  # 1: vocab.json; 2: vocab.sqlite
TEXT_VERSION = f"{NORMALIZER_VERSION}+bigrams.{LEXICAL_FORMAT}"

K1, B = 1.2, 0.75


def score_matrix(tokens: np.ndarray, offsets: np.ndarray, vocab_size: int) -> tuple[np.ndarray, ...]:
    """bm25s's term-major CSC matrix of BM25 ("lucene") weights, as (data, indices, indptr), from token ids.

    Like ``_build``, a passage without tokens gets one token of id ``vocab_size`` (the "empty" term).
    """
    lengths = np.diff(offsets)
    docs = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    terms = np.asarray(tokens, dtype=np.int64)
    empty = np.flatnonzero(lengths == 0)
    if len(empty):
        docs = np.concatenate([docs, empty])
        terms = np.concatenate([terms, np.full(len(empty), vocab_size, np.int64)])
        lengths = np.maximum(lengths, 1)
    n_docs, n_terms = len(lengths), vocab_size + 1
    pairs, tf = np.unique(terms * n_docs + docs, return_counts=True)  # sorted by term, then passage
    term, doc = np.divmod(pairs, n_docs)
    df = np.bincount(term, minlength=n_terms)
    idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
    norm = (K1 * ((1 - B) + B * lengths / lengths.mean())).astype(np.float32)
    tf = tf.astype(np.float32)
    data = idf[term] * (tf / (norm[doc] + tf))
    indptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
    return data.astype(np.float32), doc.astype(np.int32), indptr


def write_score_matrix(directory: Path, tokens: np.ndarray, offsets: np.ndarray, vocab_size: int) -> None:
    """Save the score matrix in bm25s's file names; the vocabulary is ``../vocab.sqlite``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in zip(ScoreMatrix.FILES, score_matrix(tokens, offsets, vocab_size), strict=True):
        np.save(directory / f"{name}.csc.index.npy", array)
    params = {"k1": K1, "b": B, "delta": 0.5, "method": "lucene", "idf_method": "lucene"}
    params |= {"dtype": "float32", "int_dtype": "int32", "num_docs": len(offsets) - 1, "backend": "numpy"}
    (directory / "params.index.json").write_text(json.dumps(params, indent=4), encoding="utf-8")


class ScoreMatrix:
    """bm25s's saved term-major CSC score matrix, read as three arrays."""

    FILES = ("data", "indices", "indptr")

    def __init__(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, num_docs: int) -> None:
        self.data, self.indices, self.indptr, self.num_docs = data, indices, indptr, num_docs

    @classmethod
    def load(cls, directory: Path, mmap: bool) -> ScoreMatrix:
        mode: Literal["r"] | None = "r" if mmap else None
        data, indices, indptr = (
            np.load(directory / f"{name}.csc.index.npy", mmap_mode=mode, allow_pickle=False) for name in cls.FILES
        )
        params = json.loads((directory / "params.index.json").read_text(encoding="utf-8"))
        return cls(data, indices, indptr, num_docs=int(params["num_docs"]))

    def scores(self, term_ids: Sequence[int]) -> np.ndarray:
        out = np.zeros(self.num_docs, dtype=np.float32)
        for t in term_ids:
            start, end = int(self.indptr[t]), int(self.indptr[t + 1])
            out += np.bincount(self.indices[start:end], weights=self.data[start:end], minlength=self.num_docs)
        return out

    def document_frequency(self, term_id: int) -> int:
        return int(self.indptr[term_id + 1] - self.indptr[term_id])


VOCAB = "vocab.sqlite"


class StoredVocabulary:
    """Term -> id, read from ``vocab.sqlite`` one lookup at a time.

    At the whole news corpus the vocabulary (words and word pairs) holds millions of terms: parsing it
    whole would cost seconds of every cold ``askbot ask``; a question needs a dozen indexed lookups.
    """

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        self._db.execute("SELECT id FROM terms LIMIT 1").fetchall()  # a damaged header fails here, not mid-answer

    def get(self, term: str, default: int | None = None) -> int | None:
        row = self._db.execute("SELECT id FROM terms WHERE term = ?", (term,)).fetchone()
        return int(row[0]) if row else default

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self.get(term) is not None

    def __getitem__(self, term: str) -> int:
        tid = self.get(term)
        if tid is None:
            raise KeyError(term)
        return tid

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM terms").fetchone()[0])

    def as_dict(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT term, id FROM terms"))


def save_vocabulary(vocab: dict[str, int], path: Path) -> None:
    db = sqlite3.connect(path)
    try:
        db.execute("CREATE TABLE terms (term TEXT PRIMARY KEY, id INTEGER NOT NULL) WITHOUT ROWID")
        db.executemany("INSERT INTO terms VALUES (?, ?)", vocab.items())
        db.commit()
    finally:
        db.close()


class LexicalIndex:
    """Token ids per passage plus the BM25 score matrix built from them."""

    def __init__(
        self,
        vocab: dict[str, int] | StoredVocabulary,
        tokens: np.ndarray,
        offsets: np.ndarray,
        pids: np.ndarray,
        matrix: ScoreMatrix | None = None,
    ) -> None:
        self.vocab = vocab
        self.tokens = tokens
        self.offsets = offsets
        self.pids = pids
        self.matrix = matrix
        self._built: bm25s.BM25 | None = None

    @classmethod
    def empty(cls) -> LexicalIndex:
        return cls({}, np.empty(0, np.int32), np.zeros(1, np.int64), np.empty(0, np.int64))

    # ---- writing -------------------------------------------------------------------------------
    def _writable_vocab(self) -> dict[str, int]:
        if isinstance(self.vocab, StoredVocabulary):
            self.vocab = self.vocab.as_dict()
        return self.vocab

    def add(self, pids: Sequence[int], term_lists: Sequence[Sequence[str]]) -> None:
        """Add passages by their lexical terms (``askbot.arabic.lexical_terms`` of each passage's text)."""
        vocab = self._writable_vocab()
        rows = []
        for terms in term_lists:
            ids = []
            for tok in terms:
                tid = vocab.get(tok)
                if tid is None:
                    tid = vocab[tok] = len(vocab)
                ids.append(tid)
            rows.append(np.asarray(ids, np.int32))
        lengths = np.fromiter((len(r) for r in rows), np.int64, len(rows))
        self.tokens = np.concatenate([self.tokens, *rows]) if rows else self.tokens
        self.offsets = np.concatenate([self.offsets, self.offsets[-1] + np.cumsum(lengths)])
        self.pids = np.concatenate([self.pids, np.asarray(pids, np.int64)])
        self.matrix = None

    def remove(self, pids: Sequence[int]) -> None:
        if not len(pids) or not len(self.pids):
            return
        keep = ~np.isin(self.pids, np.asarray(pids, np.int64))
        if keep.all():
            return
        lengths = np.diff(self.offsets)
        token_keep = np.repeat(keep, lengths)
        self.tokens = self.tokens[token_keep]
        self.offsets = np.concatenate([[0], np.cumsum(lengths[keep])]).astype(np.int64)
        self.pids = self.pids[keep]
        self.matrix = None

    def _build(self) -> bm25s.BM25:
        import bm25s

        retriever = bm25s.BM25(k1=K1, b=B, method="lucene")
        empty_id = len(self.vocab)  # every passage gets one "empty" token so none has length 0
        vocab = {**self._writable_vocab(), "": empty_id}
        rows = np.split(self.tokens, self.offsets[1:-1]) if len(self.pids) else []
        corpus = [r.tolist() or [empty_id] for r in rows]
        retriever.index((corpus, vocab), show_progress=False, create_empty_token=False)
        return retriever

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "tokens.npy", self.tokens)
        np.save(directory / "offsets.npy", self.offsets)
        np.save(directory / "pids.npy", self.pids)
        save_vocabulary(self._writable_vocab(), directory / VOCAB)
        if len(self.pids):
            write_score_matrix(directory / "bm25", self.tokens, self.offsets, len(self.vocab))

    # ---- reading -------------------------------------------------------------------------------
    @classmethod
    def load(cls, directory: Path, mmap: bool = True) -> LexicalIndex:
        mode: Literal["r"] | None = "r" if mmap else None
        try:
            stored = StoredVocabulary(directory / VOCAB)
            vocab: dict[str, int] | StoredVocabulary = stored if mmap else stored.as_dict()  # writers add terms
            tokens = np.load(directory / "tokens.npy", mmap_mode=mode, allow_pickle=False)
            offsets = np.load(directory / "offsets.npy", allow_pickle=False)
            pids = np.load(directory / "pids.npy", allow_pickle=False)
            matrix = ScoreMatrix.load(directory / "bm25", mmap) if len(pids) else None
        except Exception as exc:  # a garbled .npy header or bm25s file fails in many ways (EOFError, TokenError, ...)
            raise IndexCorrupt(f"the lexical index in {directory} is unreadable ({type(exc).__name__}: {exc})") from exc
        if len(offsets) != len(pids) + 1 or (matrix is not None and matrix.num_docs != len(pids)):
            raise IndexCorrupt(f"the lexical index in {directory} is inconsistent (offsets vs passages)")
        return cls(vocab, tokens, offsets, pids, matrix)

    def scores(self, terms: Sequence[str], allowed: Sequence[int] | np.ndarray | None = None) -> np.ndarray | None:
        """BM25 score of every passage (row order of ``pids``) for lexical ``terms``, or None when none is indexed."""
        if self.matrix is None or not len(self.pids):
            return None
        qids = sorted({tid for t in terms if (tid := self.vocab.get(t)) is not None})
        if not qids:
            return None
        scores = self.matrix.scores(qids)
        if allowed is not None:
            scores *= np.isin(self.pids, np.asarray(allowed, np.int64))
        return scores

    def scores_of(self, scores: np.ndarray | None, pids: np.ndarray) -> np.ndarray:
        """Pick the scores of given passage ids out of ``scores()`` (pids are kept sorted ascending)."""
        if scores is None or not len(pids):
            return np.zeros(len(pids), np.float32)
        rows = np.clip(np.searchsorted(self.pids, pids), 0, len(self.pids) - 1)
        return np.where(self.pids[rows] == pids, scores[rows], 0.0).astype(np.float32)

    def search(
        self, terms: Sequence[str], k: int, allowed: Sequence[int] | np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, pids) with a positive BM25 score."""
        return self.top(self.scores(terms, allowed), k)

    def top(self, scores: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray]:
        if scores is None:
            return np.empty(0, np.float32), np.empty(0, np.int64)
        k = min(k, int((scores > 0).sum()))
        if k <= 0:
            return np.empty(0, np.float32), np.empty(0, np.int64)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return scores[top].astype(np.float32), self.pids[top]

    def idf(self, token_list: Sequence[str]) -> dict[str, float]:
        """BM25 idf of each (already tokenized) term; unseen terms get the rarest-term idf."""
        n = len(self.pids)
        if self.matrix is None or n == 0:
            return dict.fromkeys(token_list, 1.0)
        out = {}
        for tok in token_list:
            tid = self.vocab.get(tok)
            df = self.matrix.document_frequency(tid) if tid is not None else 0
            out[tok] = float(np.log(1.0 + (n - df + 0.5) / (df + 0.5)))
        return out
