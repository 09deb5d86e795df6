"""JSON Lines articles (``id, url, source, category, title, published, text``), streamed one line at a time."""

from __future__ import annotations

import codecs
import json
import zlib
from collections.abc import Iterator, Mapping
from typing import BinaryIO

from askbot.ingest.decode import describe_size
from askbot.ingest.record import make_article
from askbot.types import Article, IngestProblem

MAX_LINE_BYTES = 5 * 1024 * 1024
_SKIP_CHUNK = 1024 * 1024


def read_jsonl(
    stream: BinaryIO, origin: str, mapping: Mapping[str, str] | None = None
) -> Iterator[Article | IngestProblem]:
    """One item per non-blank line of ``stream``; problems name ``origin:line``, and reading goes on after them."""
    number = 0
    try:
        while line := stream.readline(MAX_LINE_BYTES + 1):
            number += 1
            where = f"{origin}:{number}"
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                _skip_rest_of_line(stream)
                yield IngestProblem(where, f"line longer than {describe_size(MAX_LINE_BYTES)}, skipped")
            elif line.strip():
                yield read_jsonl_line(line.removeprefix(codecs.BOM_UTF8) if number == 1 else line, where, mapping)
    except (OSError, EOFError, zlib.error) as exc:  # a truncated or corrupt .gz, a failing disk
        yield IngestProblem(f"{origin}:{number + 1}", f"cannot read further: {exc}")


def read_jsonl_line(line: bytes, origin: str, mapping: Mapping[str, str] | None = None) -> Article | IngestProblem:
    """One JSON object (UTF-8) as an article, its field names renamed through ``mapping``."""
    try:
        record = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return IngestProblem(origin, f"not UTF-8 (byte {exc.start})")
    except json.JSONDecodeError as exc:
        return IngestProblem(origin, f"malformed JSON: {exc.msg} (column {exc.colno})")
    except RecursionError:
        return IngestProblem(origin, "malformed JSON: nested too deeply")
    if not isinstance(record, dict):
        return IngestProblem(origin, f"not a JSON object but {type(record).__name__}")
    return make_article(record, origin, mapping)


def _skip_rest_of_line(stream: BinaryIO) -> None:
    while (chunk := stream.readline(_SKIP_CHUNK)) and not chunk.endswith(b"\n"):
        pass
