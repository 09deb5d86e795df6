"""Plain-text articles, including the seed layout: kicker, title, date line, lead, "SOURCE - PLACE", paragraphs."""

from __future__ import annotations

import re

from askbot.ingest.dates import date_line
from askbot.ingest.record import make_article
from askbot.types import Article, IngestProblem

MAX_TITLE_CHARS = 150
_LINE = re.compile(r"[^\S\n]*(\S[^\n]*?)[^\S\n]*$", re.MULTILINE)
# "العالم - العراق": a short source, a dash, a short place; no sentence punctuation.
_DATELINE = re.compile(r"(?P<source>[^\s.،,:؛!؟?\-–—]+(?: [^\s.،,:؛!؟?\-–—]+){0,3}) [-–—] (?P<place>[^.،,:؛!؟?]{2,40})")
_DATE_LINE_WITHIN = 4  # the date line is one of the first lines, or there is none
_DATELINE_WITHIN = 3  # the "SOURCE - PLACE" line is one of the first lines after the date


def read_text_document(text: str, origin: str, name: str = "", article_id: str = "") -> Article | IngestProblem:
    """An article from plain text; ``name`` (the file stem) is the title when the text shows none."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [m.span(1) for m in _LINE.finditer(text)]
    if not lines:
        return IngestProblem(origin, "no article text")
    for index, (start, end) in enumerate(lines[:_DATE_LINE_WITHIN]):
        published = date_line(text[start:end])
        if published and index + 1 < len(lines):
            if index == 0:  # the date comes first: the title, if any, follows it
                return _plain(text, lines[1:], origin, name, {"id": article_id, "published": published})
            return _seed_layout(text, lines, index, published, origin, article_id)
    return _plain(text, lines, origin, name, {"id": article_id})


def _plain(
    text: str, lines: list[tuple[int, int]], origin: str, name: str, fields: dict[str, str]
) -> Article | IngestProblem:
    """Title: the first line when short and followed by more; otherwise ``name``, or (stdin has no name) the
    first line's opening words. Body: the rest."""
    first_start, first_end = lines[0]
    if len(lines) > 1 and first_end - first_start < MAX_TITLE_CHARS:
        title, body = text[first_start:first_end], text[lines[1][0] : lines[-1][1]]
    else:
        title, body = name or _opening(text[first_start:first_end]), text[first_start : lines[-1][1]]
    return make_article(fields | {"title": title, "text": body}, origin)


def _opening(line: str, limit: int = 80) -> str:
    """``line`` cut at a word boundary to at most ``limit`` characters, "…" marking the cut."""
    if len(line) <= limit:
        return line
    cut = line[:limit].rsplit(" ", 1)[0] if " " in line[:limit] else line[:limit]
    return cut.rstrip(" ،,.:؛") + "…"


def _seed_layout(
    text: str, lines: list[tuple[int, int]], date_index: int, published: str, origin: str, article_id: str
) -> Article | IngestProblem:
    """Title above the date line (anything higher is a kicker); body below it, less the dateline."""
    fields = {"id": article_id, "published": published, "title": ""}
    if date_index > 0:
        fields["title"] = text[slice(*lines[date_index - 1])]
    body_lines = lines[date_index + 1 :]
    parts = [(body_lines[0][0], body_lines[-1][1])]
    for position, (start, end) in enumerate(body_lines[:_DATELINE_WITHIN]):
        dateline = _DATELINE.fullmatch(text, start, end)
        if dateline is None:
            continue
        fields |= {"source": dateline["source"], "place": dateline["place"].strip()}
        before = [(body_lines[0][0], body_lines[position - 1][1])] if position > 0 else []
        after = [(body_lines[position + 1][0], body_lines[-1][1])] if position + 1 < len(body_lines) else []
        parts = before + after
        break
    fields["text"] = "\n\n".join(text[start:end] for start, end in parts)
    return make_article(fields, origin)
