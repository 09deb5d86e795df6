"""BM25 over askbot's own Arabic tokens (bm25s scores, plain .npy/.json files, memory-mappable).

bm25s cannot add documents to a built index, so each generation keeps the tokenized corpus as
token ids (``tokens.npy`` + ``offsets.npy``, one row per passage, ``pids.npy`` naming the passage)
and rebuilds the score matrix from ids on commit: no passage is ever tokenized twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np

from askbot.arabic import tokens as arabic_tokens
from askbot.store.manifest import IndexCorrupt

K1, B = 1.2, 0.75


def tokenize(text: str) -> list[str]:
    """The lexical view of a text: normalized, stemmed, stopwords dropped."""
    return arabic_tokens(text, stem=True, drop_stopwords=True)


class LexicalIndex:
    """Token ids per passage plus the bm25s index built from them."""

    def __init__(
        self,
        vocab: dict[str, int],
        tokens: np.ndarray,
        offsets: np.ndarray,
        pids: np.ndarray,
        bm25: bm25s.BM25 | None = None,
    ) -> None:
        self.vocab = vocab
        self.tokens = tokens
        self.offsets = offsets
        self.pids = pids
        self.bm25 = bm25

    @classmethod
    def empty(cls) -> LexicalIndex:
        return cls({}, np.empty(0, np.int32), np.zeros(1, np.int64), np.empty(0, np.int64))

    # ---- writing -------------------------------------------------------------------------------
    def add(self, pids: Sequence[int], texts: Sequence[str]) -> None:
        rows = []
        for text in texts:
            ids = []
            for tok in tokenize(text):
                tid = self.vocab.get(tok)
                if tid is None:
                    tid = self.vocab[tok] = len(self.vocab)
                ids.append(tid)
            rows.append(np.asarray(ids, np.int32))
        lengths = np.fromiter((len(r) for r in rows), np.int64, len(rows))
        self.tokens = np.concatenate([self.tokens, *rows]) if rows else self.tokens
        self.offsets = np.concatenate([self.offsets, self.offsets[-1] + np.cumsum(lengths)])
        self.pids = np.concatenate([self.pids, np.asarray(pids, np.int64)])
        self.bm25 = None

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
        self.bm25 = None

    def _build(self) -> bm25s.BM25:
        retriever = bm25s.BM25(k1=K1, b=B, method="lucene")
        empty_id = len(self.vocab)  # every passage gets one "empty" token so none has length 0
        vocab = {**self.vocab, "": empty_id}
        rows = np.split(self.tokens, self.offsets[1:-1]) if len(self.pids) else []
        corpus = [r.tolist() or [empty_id] for r in rows]
        retriever.index((corpus, vocab), show_progress=False, create_empty_token=False)
        return retriever

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "tokens.npy", self.tokens)
        np.save(directory / "offsets.npy", self.offsets)
        np.save(directory / "pids.npy", self.pids)
        (directory / "vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
        if len(self.pids):
            self.bm25 = self.bm25 or self._build()
            self.bm25.save(str(directory / "bm25"))

    # ---- reading -------------------------------------------------------------------------------
    @classmethod
    def load(cls, directory: Path, mmap: bool = True) -> LexicalIndex:
        mode = "r" if mmap else None
        try:
            vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
            tokens = np.load(directory / "tokens.npy", mmap_mode=mode, allow_pickle=False)
            offsets = np.load(directory / "offsets.npy", allow_pickle=False)
            pids = np.load(directory / "pids.npy", allow_pickle=False)
            bm25 = bm25s.BM25.load(str(directory / "bm25"), mmap=mmap) if len(pids) else None
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"the lexical index in {directory} is unreadable ({exc})") from exc
        if len(offsets) != len(pids) + 1:
            raise IndexCorrupt(f"the lexical index in {directory} is inconsistent (offsets vs passages)")
        return cls(vocab, tokens, offsets, pids, bm25)

    def search(self, query: str, k: int, allowed: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, pids) with a positive BM25 score."""
        if self.bm25 is None or not len(self.pids):
            return np.empty(0, np.float32), np.empty(0, np.int64)
        qids = sorted({self.vocab[t] for t in tokenize(query) if t in self.vocab})
        if not qids:
            return np.empty(0, np.float32), np.empty(0, np.int64)
        mask = None
        if allowed is not None:
            mask = np.isin(self.pids, np.asarray(allowed, np.int64)).astype(np.float32)
        scores = self.bm25.get_scores_from_ids(qids, weight_mask=mask)
        k = min(k, int((scores > 0).sum()))
        if k <= 0:
            return np.empty(0, np.float32), np.empty(0, np.int64)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return scores[top].astype(np.float32), self.pids[top]

    def idf(self, token_list: Sequence[str]) -> dict[str, float]:
        """BM25 idf of each (already tokenized) term; unseen terms get the rarest-term idf."""
        n = len(self.pids)
        if self.bm25 is None or n == 0:
            return dict.fromkeys(token_list, 1.0)
        indptr = self.bm25.scores["indptr"]
        out = {}
        for tok in token_list:
            tid = self.vocab.get(tok)
            df = int(indptr[tid + 1] - indptr[tid]) if tid is not None else 0
            out[tok] = float(np.log(1.0 + (n - df + 0.5) / (df + 0.5)))
        return out
