"""Markdown articles: title from front matter or the first "# " heading; body the rest, markup kept."""

from __future__ import annotations

import re

from askbot.ingest.record import make_article
from askbot.types import Article, IngestProblem

# Simple "key: value" front matter between "---" lines; no YAML library (nesting is not needed for articles).
_FRONT_MATTER = re.compile(r"\A\s*---[ \t]*\n(?P<block>.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FIELD = re.compile(r"^(?P<key>[A-Za-z_][\w-]*)[ \t]*:[ \t]*(?P<value>.*?)[ \t]*$", re.MULTILINE)
_HEADING = re.compile(r"\A\s*#[ \t]+(?P<title>[^\n]*?)[ \t#]*(?:\n|\Z)")


def read_markdown_document(text: str, origin: str, name: str = "", article_id: str = "") -> Article | IngestProblem:
    """An article from Markdown with optional front matter (``title``, ``date``, ``source``, ``url``, ...)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    fields: dict[str, object] = {}
    front = _FRONT_MATTER.match(text)
    if front:
        fields = {m["key"].lower(): _unquote(m["value"]) for m in _FIELD.finditer(front["block"])}
        text = text[front.end() :]
    heading = _HEADING.match(text)
    if heading:
        fields.setdefault("title", heading["title"])
        text = text[heading.end() :]
    fields.setdefault("title", name)
    fields.setdefault("published", fields.get("date", ""))
    fields["id"] = fields.get("id") or article_id
    fields["text"] = text.strip()
    return make_article(fields, origin)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value
