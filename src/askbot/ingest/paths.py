"""Files, folders and stdin to articles: walking, dispatch by suffix, and every read failure as a problem."""

from __future__ import annotations

import gzip
import io
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, cast

from askbot.ingest.decode import decode_bytes, read_limited
from askbot.ingest.html import read_html_document
from askbot.ingest.jsonl import read_jsonl
from askbot.ingest.md import read_markdown_document
from askbot.ingest.record import IngestError
from askbot.ingest.txt import read_text_document
from askbot.types import Article, IngestProblem

Item = Article | IngestProblem
DocumentReader = Callable[[str, str, str, str], Item]

DOCUMENT_READERS: dict[str, DocumentReader] = {
    ".txt": read_text_document,
    ".text": read_text_document,
    ".html": read_html_document,
    ".htm": read_html_document,
    ".md": read_markdown_document,
    ".markdown": read_markdown_document,
}
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
STDIN = "-"
# Folder walks skip these (a README.md beside the articles is not one); named explicitly, they are read.
NOT_ARTICLES = frozenset({"readme", "license", "licence", "changelog", "contributing", "notice", "copying"})
# "000_102c93eeae5ae0e9.txt": a numbered file named by its article id, as in seeds/.
_ID_IN_NAME = re.compile(r"\d+_(?P<id>[0-9a-f]{8,64})")


def read_paths(paths: Iterable[str | Path], mapping: Mapping[str, str] | None = None) -> Iterator[Item]:
    """Articles from files, folders (recursively, sorted; hidden files and READMEs skipped) and "-" (stdin).

    ``mapping`` renames JSONL fields to ``Article`` ones, e.g. ``{"body": "text", "headline": "title"}``.
    Never raises for bad input: each unreadable item comes out as an ``IngestProblem``.
    """
    seen: set[tuple[int, int]] = set()  # folders and files already read (symlinks, repeated arguments)
    for path in paths:
        if str(path) == STDIN:
            yield from read_stream(sys.stdin.buffer, "<stdin>", mapping)
        else:
            yield from _read_named(Path(path), mapping, seen)


def read_stream(stream: BinaryIO, origin: str, mapping: Mapping[str, str] | None = None) -> Iterator[Item]:
    """A stream of unknown format: JSONL when its first non-space byte is "{", else one plain-text article."""
    buffered = (
        cast(io.BufferedReader, stream) if hasattr(stream, "peek") else io.BufferedReader(cast(io.RawIOBase, stream))
    )
    while (head := buffered.peek(1)) and not head.lstrip():
        buffered.read(len(head))  # leading whitespace: irrelevant to either format
    if head.lstrip().startswith(b"{"):
        yield from read_jsonl(buffered, origin, mapping)
    else:
        yield _read_document(lambda: read_limited(buffered), origin, read_text_document, name="", article_id="")


def _read_named(path: Path, mapping: Mapping[str, str] | None, seen: set[tuple[int, int]]) -> Iterator[Item]:
    try:
        info = path.stat()
    except OSError as exc:
        yield IngestProblem(str(path), _missing(path, exc))
        return
    if stat.S_ISDIR(info.st_mode):
        yield from _walk(path, info, mapping, seen)
    elif not stat.S_ISREG(info.st_mode):
        yield from _read_opened(path, _open, read_stream, mapping)  # a pipe, as from <(zcat news.jsonl.gz)
    elif _is_known(path):
        yield from _read_file(path, info, mapping, seen)
    else:
        yield _unsupported(path)


def _walk(
    root: Path, info: os.stat_result, mapping: Mapping[str, str] | None, seen: set[tuple[int, int]]
) -> Iterator[Item]:
    """Depth-first in name order; a folder reached twice (a symlink loop) is reported once and not re-entered."""
    stack: list[tuple[Path, os.stat_result]] = [(root, info)]
    while stack:
        path, info = stack.pop()
        if not stat.S_ISDIR(info.st_mode):
            yield from _read_file(path, info, mapping, seen)
            continue
        if (info.st_dev, info.st_ino) in seen:
            yield IngestProblem(str(path), "folder already read (a symlink loop?), skipped")
            continue
        seen.add((info.st_dev, info.st_ino))
        try:
            entries = sorted(os.scandir(path), key=lambda entry: entry.name)
        except OSError as exc:
            yield IngestProblem(str(path), f"cannot list folder: {exc.strerror or exc}")
            continue
        children = []
        for entry in entries:
            child = Path(entry.path)
            if entry.name.startswith(".") or child.name.split(".")[0].lower() in NOT_ARTICLES:
                continue
            try:
                child_info = entry.stat()  # follows symlinks
            except OSError as exc:
                yield IngestProblem(str(child), _missing(child, exc))
                continue
            if stat.S_ISDIR(child_info.st_mode) or (stat.S_ISREG(child_info.st_mode) and _is_known(child)):
                children.append((child, child_info))
            elif stat.S_ISREG(child_info.st_mode):
                yield _unsupported(child)  # a .pdf or .docx among the articles: say so, or "added 0" puzzles
        stack.extend(reversed(children))


def _read_file(
    path: Path, info: os.stat_result, mapping: Mapping[str, str] | None, seen: set[tuple[int, int]]
) -> Iterator[Item]:
    if (info.st_dev, info.st_ino) in seen:
        return  # the same file again, through a link or a repeated argument
    seen.add((info.st_dev, info.st_ino))
    name = path.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        yield from _read_opened(path, _open_gzip if name.endswith(".gz") else _open, read_jsonl, mapping)
        return
    found = _ID_IN_NAME.fullmatch(path.stem)
    reader = DOCUMENT_READERS[path.suffix.lower()]
    yield _read_document(lambda: _read_bytes(path), str(path), reader, path.stem, found["id"] if found else "")


def _read_opened(
    path: Path,
    opener: Callable[[Path], BinaryIO],
    read: Callable[[BinaryIO, str, Mapping[str, str] | None], Iterator[Item]],
    mapping: Mapping[str, str] | None,
) -> Iterator[Item]:
    try:
        with opener(path) as stream:
            yield from read(stream, str(path), mapping)
    except OSError as exc:
        yield IngestProblem(str(path), f"cannot read: {exc.strerror or exc}")


def _open(path: Path) -> BinaryIO:
    return path.open("rb")


def _open_gzip(path: Path) -> BinaryIO:
    return cast(BinaryIO, gzip.open(path, "rb"))


def _read_bytes(path: Path) -> bytes:
    with _open(path) as stream:
        return read_limited(stream)


def _read_document(read: Callable[[], bytes], origin: str, reader: DocumentReader, name: str, article_id: str) -> Item:
    try:
        text = decode_bytes(read())
    except IngestError as exc:
        return IngestProblem(origin, exc.reason)
    except OSError as exc:
        return IngestProblem(origin, f"cannot read: {exc.strerror or exc}")
    return reader(text, origin, name, article_id)


def _is_known(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(JSONL_SUFFIXES) or path.suffix.lower() in DOCUMENT_READERS


def _unsupported(path: Path) -> IngestProblem:
    known = ", ".join([*DOCUMENT_READERS, *JSONL_SUFFIXES])
    kind = f" ({path.suffix.lower()})" if path.suffix else ""
    return IngestProblem(str(path), f"unsupported file type{kind}; askbot reads {known}")


def _missing(path: Path, exc: OSError) -> str:
    if path.is_symlink():
        return "broken symlink" if isinstance(exc, FileNotFoundError) else f"symlink cannot be followed: {exc.strerror}"
    return f"cannot read: {exc.strerror or exc}"
