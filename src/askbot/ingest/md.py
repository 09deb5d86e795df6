"""Markdown articles: title from front matter or the first "# " heading; body the rest as plain text.

Inline markup (**bold**, _italic_, `code`, [links](url), images, heading and quote markers) is taken out, so
that quoted excerpts read as the text; paragraphs and list lines stay as written.
"""

from __future__ import annotations

import re

from askbot.ingest.record import make_article
from askbot.types import Article, IngestProblem

# Simple "key: value" front matter between "---" lines; no YAML library (nesting is not needed for articles).
_FRONT_MATTER = re.compile(r"\A\s*---[ \t]*\n(?P<block>.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FIELD = re.compile(r"^(?P<key>[A-Za-z_][\w-]*)[ \t]*:[ \t]*(?P<value>.*?)[ \t]*$", re.MULTILINE)
_HEADING = re.compile(r"\A\s*#[ \t]+(?P<title>[^\n]*?)[ \t#]*(?:\n|\Z)")
# (pattern, replacement) in order: images and links before emphasis, whose markers may sit inside them
_INLINE = [
    (re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)"), r"\1"),  # ![alt](src)
    (re.compile(r"\[([^\]\n]+)\]\([^)\n]*\)"), r"\1"),  # [text](url)
    (re.compile(r"\[([^\]\n]+)\]\[[^\]\n]*\]"), r"\1"),  # [text][ref]
    (re.compile(r"`([^`\n]+)`"), r"\1"),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),
    # single markers: not between digits (2*3*4), but after a letter (Arabic "و*مائل*" = and *italic*)
    (re.compile(r"(?<![\d*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\d*])"), r"\1"),
    (re.compile(r"(?<!\w)_(?=[^\s_])(.+?)(?<=[^\s_])_(?!\w)"), r"\1"),
]
_LINE_MARKS = [
    (re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)[ \t#]*$", re.MULTILINE), r"\1"),  # "## heading ##"
    (re.compile(r"^[ \t]{0,3}>[ \t]?", re.MULTILINE), ""),  # "> quote"
    (re.compile(r"^[ \t]{0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$", re.MULTILINE), ""),  # "---" rules
    (re.compile(r"^\[[^\]\n]+\]:[ \t]*\S+.*$", re.MULTILINE), ""),  # "[ref]: url" definitions
]


def plain_text(markdown: str) -> str:
    """``markdown`` without its markup: what a reader of the rendered page sees as text."""
    for pattern, replacement in (*_LINE_MARKS, *_INLINE):
        markdown = pattern.sub(replacement, markdown)
    return re.sub(r"\n{3,}", "\n\n", markdown)


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
    fields["title"] = plain_text(str(fields["title"]))
    fields.setdefault("published", fields.get("date", ""))
    fields["id"] = fields.get("id") or article_id
    fields["text"] = plain_text(text).strip()
    return make_article(fields, origin)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value
