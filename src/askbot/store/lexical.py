"""A segment's lexical index: each passage's terms as ids, and the term frequencies BM25 is computed from.

Files (under a segment's ``lexical/``, plain .npy/.sqlite/.json, memory-mappable): ``vocab.sqlite`` (term -> id,
:mod:`askbot.store.vocabulary`), ``tokens.npy`` + ``offsets.npy`` (term ids of each passage, one row per passage,
``pids.npy`` naming it, ascending) and ``bm25/`` (term-major matrix of frequencies, :class:`bm25.ColumnMatrix`).
The token rows are what a merge or a re-tokenization reads: no passage is ever tokenized twice. Scoring over
all live segments with summed statistics is :mod:`askbot.store.local_lexical`'s, the formulas
:mod:`askbot.store.bm25`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from askbot.arabic import NORMALIZER_VERSION
from askbot.store import bm25
from askbot.store.manifest import IndexCorrupt
from askbot.store.vocabulary import VOCAB, StoredVocabulary, save_vocabulary

if TYPE_CHECKING:
    import bm25s

# What the manifest records as the index's text rules: a change here or in askbot.arabic makes old indexes
# refuse to load until `askbot index --relex` re-tokenizes them (no re-embedding needed).
LEXICAL_FORMAT = 2  # 1: vocab.json; 2: vocab.sqlite
TEXT_VERSION = f"{NORMALIZER_VERSION}+bigrams.{LEXICAL_FORMAT}"


class LexicalIndex:
    """Token ids per passage (rows in ascending passage id) plus the frequency matrix built from them."""

    def __init__(
        self,
        vocab: dict[str, int] | StoredVocabulary,
        tokens: np.ndarray,
        offsets: np.ndarray,
        pids: np.ndarray,
        matrix: bm25.ColumnMatrix | None = None,
    ) -> None:
        self.vocab = vocab
        self.tokens = tokens
        self.offsets = offsets
        self.pids = pids
        self.matrix = matrix

    @classmethod
    def empty(cls) -> LexicalIndex:
        return cls({}, np.empty(0, np.int32), np.zeros(1, np.int64), np.empty(0, np.int64))

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    # ---- writing -------------------------------------------------------------------------------
    def _writable_vocab(self) -> dict[str, int]:
        if isinstance(self.vocab, StoredVocabulary):
            self.vocab = self.vocab.as_dict()
        return self.vocab

    def add(self, pids: Sequence[int], term_lists: Sequence[Sequence[str]]) -> None:
        """Add passages (ids above every stored one) by their lexical terms (``askbot.arabic.lexical_terms``)."""
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

    def keep(self, rows: np.ndarray) -> LexicalIndex:
        """A new index of the rows ``rows`` (indices, in the order given) of this one, same vocabulary."""
        lengths = self.lengths[rows]
        starts = self.offsets[:-1][rows]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        gather = np.repeat(starts - offsets[:-1], lengths) + np.arange(int(offsets[-1]), dtype=np.int64)
        return LexicalIndex(self.vocab, np.asarray(self.tokens)[gather], offsets, self.pids[rows])

    def remove(self, pids: Sequence[int]) -> None:
        if not len(pids) or not len(self.pids):
            return
        keep = ~np.isin(self.pids, np.asarray(pids, np.int64))
        if not keep.all():
            kept = self.keep(np.flatnonzero(keep))
            self.tokens, self.offsets, self.pids, self.matrix = kept.tokens, kept.offsets, kept.pids, None

    @classmethod
    def merged(cls, parts: Sequence[tuple[LexicalIndex, np.ndarray]]) -> LexicalIndex:
        """One index of the rows ``mask`` keeps of each part, in one vocabulary, rows by ascending passage id."""
        vocab: dict[str, int] = {}
        tokens, lengths, pids = [], [], []
        for part, mask in parts:
            kept = part.keep(np.flatnonzero(mask))
            if not len(kept.pids):
                continue
            source = part.vocab.as_dict() if isinstance(part.vocab, StoredVocabulary) else part.vocab
            remap = np.zeros(max(source.values(), default=-1) + 1, np.int32)
            remap[np.fromiter(source.values(), np.int64, len(source))] = [
                vocab.setdefault(term, len(vocab))
                for term in source  # a new term gets the next id
            ]
            tokens.append(remap[np.asarray(kept.tokens, np.int64)])
            lengths.append(kept.lengths)
            pids.append(kept.pids)
        if not pids:
            return cls.empty()
        all_lengths = np.concatenate(lengths)
        joined = cls(
            vocab,
            np.concatenate(tokens).astype(np.int32),
            np.concatenate([[0], np.cumsum(all_lengths)]).astype(np.int64),
            np.concatenate(pids),
        )
        order = np.argsort(joined.pids, kind="stable")
        return joined if np.array_equal(order, np.arange(len(order))) else joined.keep(order)

    def _build(self) -> bm25s.BM25:
        """The same passages indexed by bm25s: the reference the tests compare the weights with."""
        import bm25s

        retriever = bm25s.BM25(k1=bm25.K1, b=bm25.B, method="lucene")
        empty_id = len(self.vocab)  # every passage gets one "empty" token so none has length 0
        vocab = {**self._writable_vocab(), "": empty_id}
        rows = np.split(self.tokens, self.offsets[1:-1]) if len(self.pids) else []
        corpus = [r.tolist() or [empty_id] for r in rows]
        retriever.index((corpus, vocab), show_progress=False, create_empty_token=False)
        return retriever

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "tokens.npy", np.asarray(self.tokens, np.int32))
        np.save(directory / "offsets.npy", self.offsets)
        np.save(directory / "pids.npy", self.pids)
        save_vocabulary(self._writable_vocab(), directory / VOCAB)
        if len(self.pids):
            arrays = bm25.tf_matrix(self.tokens, self.offsets, len(self.vocab))
            bm25.ColumnMatrix.save(directory / "bm25", arrays, len(self.pids))

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
            matrix = bm25.ColumnMatrix.load(directory / "bm25", mmap) if len(pids) else None
        except Exception as exc:  # a garbled .npy header or bm25s file fails in many ways (EOFError, TokenError, ...)
            raise IndexCorrupt(f"the lexical index in {directory} is unreadable ({type(exc).__name__}: {exc})") from exc
        if len(offsets) != len(pids) + 1 or (matrix is not None and matrix.num_docs != len(pids)):
            raise IndexCorrupt(f"the lexical index in {directory} is inconsistent (offsets vs passages)")
        if offsets.dtype.kind not in "iu" or pids.dtype.kind not in "iu" or tokens.dtype.kind not in "iu":
            raise IndexCorrupt(f"the lexical index in {directory} holds arrays of the wrong type")
        return cls(vocab, tokens, offsets, pids, matrix)

    def term_ids(self, terms: Sequence[str]) -> list[tuple[str, int]]:
        """(term, id) of the distinct ``terms`` this segment holds, by term (one summing order for every segment)."""
        wanted = sorted(set(terms))
        if isinstance(self.vocab, StoredVocabulary):
            found = self.vocab.ids_of(wanted)
            return [(t, found[t]) for t in wanted if t in found]
        return [(t, tid) for t in wanted if (tid := self.vocab.get(t)) is not None]

    def scores(
        self, term_ids: Sequence[tuple[str, int]], idf_of: dict[str, float], norm: np.ndarray | None
    ) -> np.ndarray:
        """BM25 score of every row for the query terms, with the collection's ``idf_of`` and length ``norm``s
        (``norm`` None: the matrix holds first-format weights, summed as they are)."""
        out = np.zeros(len(self.pids), dtype=np.float32)
        if self.matrix is None:
            return out
        for term, tid in term_ids:
            rows, values = self.matrix.column(tid)
            if norm is not None:
                tf = values.astype(np.float32)
                values = np.float32(idf_of[term]) * (tf / (norm[rows] + tf))
            out += np.bincount(rows, weights=values, minlength=len(self.pids)).astype(np.float32)
        return out

    def own_scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 scores of every row as if this segment were the whole collection."""
        n = len(self.pids)
        if self.matrix is None or n == 0:
            return np.zeros(n, np.float32)
        ids = self.term_ids(terms)
        if self.matrix.values != "tf":
            return self.scores(ids, {}, None)
        idf = {t: float(bm25.idf(n, self.matrix.document_frequency(tid))) for t, tid in ids}
        return self.scores(ids, idf, bm25.norms(self.lengths, float(np.maximum(self.lengths, 1).mean())))
