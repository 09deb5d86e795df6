"""Bytes to text: byte-order marks, UTF-8, Windows-1256 Arabic, then detection; binary and empty input refused."""

from __future__ import annotations

import codecs
import re
from typing import BinaryIO

import charset_normalizer

from askbot.ingest.record import IngestError

MAX_DOCUMENT_BYTES = 50 * 1024 * 1024  # one .txt/.html/.md file; JSONL is streamed and limited per line instead
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: its BOM starts the same way
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_VISIBLE = re.compile(r"[^\s\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_JUNK = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufffd]")  # controls other than tab/newlines, and U+FFFD
BINARY = "binary file, skipped"
EMPTY = "empty file"


def describe_size(limit: int) -> str:
    """A byte count for messages: "50 MB", or "200 bytes" under a megabyte."""
    return f"{limit // 2**20} MB" if limit >= 2**20 else f"{limit} bytes"


def read_limited(stream: BinaryIO, limit: int | None = None) -> bytes:
    """All of ``stream``, refusing (without reading it all) anything over ``limit`` (50 MB) bytes."""
    limit = MAX_DOCUMENT_BYTES if limit is None else limit
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise IngestError(f"larger than {describe_size(limit)}, skipped: split it, or convert it to JSONL")
    return data


def decode_bytes(data: bytes) -> str:
    """``data`` as text with "\\n" line ends; raises ``IngestError`` for binary or empty input."""
    if not data.strip():
        raise IngestError(EMPTY)
    text = _decode(data).replace("\r\n", "\n").replace("\r", "\n")
    if not _VISIBLE.search(text):
        raise IngestError(EMPTY)
    if len(_JUNK.findall(text)) > len(text) // 10:
        raise IngestError(BINARY)
    return text


def _decode(data: bytes) -> str:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(codec)
            except UnicodeDecodeError as exc:
                raise IngestError(f"not valid {codec} despite its byte-order mark (byte {exc.start})") from exc
    if b"\x00" in data:
        raise IngestError(BINARY)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Windows-1256 is the usual legacy Arabic encoding, and short texts defeat statistical detection.
    arabic = data.decode("cp1256")
    non_ascii = len(_NON_ASCII.findall(arabic))
    if non_ascii and len(_ARABIC.findall(arabic)) >= 0.8 * non_ascii:
        return arabic
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise IngestError(BINARY)
    return str(best)
