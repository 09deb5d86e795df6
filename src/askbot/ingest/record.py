"""One place that turns a reader's fields into an ``Article`` (or says why it cannot)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping

from askbot.ingest.dates import parse_date
from askbot.types import Article, IngestProblem

_WORD = re.compile(r"[^\W_]")  # a body needs at least one letter or digit
ARTICLE_FIELDS = ("id", "title", "text", "source", "url", "published", "category", "place")


class IngestError(Exception):
    """Why one item cannot be read; readers turn it into an ``IngestProblem`` and go on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def content_id(text: str) -> str:
    """A stable id for a body without one: 16 hex of sha256 over its NFC, whitespace-collapsed form.

    Deliberately not ``arabic.normalize``: ids must not change when the matching rules do.
    """
    canonical = " ".join(unicodedata.normalize("NFC", text).split())
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def as_text(value: object) -> str:
    """A field value as a string: lists joined with ", ", missing values as ""."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return ", ".join(part for part in map(as_text, value) if part)
    return str(value)


def make_article(
    fields: Mapping[str, object], origin: str, mapping: Mapping[str, str] | None = None
) -> Article | IngestProblem:
    """An ``Article`` from named fields (renamed through ``mapping`` first); a problem when there is no text."""
    named = {(mapping or {}).get(key, key): value for key, value in fields.items()}
    raw_text = named.get("text")
    if raw_text is not None and not _is_text(raw_text):  # "text": 12345 is a mistake in the data, not an article
        return IngestProblem(origin, f"text is {type(raw_text).__name__} {_short(raw_text)}, not a string; skipped")
    values = {name: as_text(named.get(name)) for name in ARTICLE_FIELDS}
    text = values.pop("text")
    if not _WORD.search(text):
        return IngestProblem(origin, "no article text" + _mapping_hint(named))
    values = {name: value.strip() for name, value in values.items()}
    values["id"] = values["id"] or content_id(text)
    published = parse_date(values["published"])
    if values["published"] and not published:  # a filter by date would silently miss it
        return IngestProblem(
            origin,
            f"published {_short(values['published'])} is not a date (ISO 8601 such as 2018-03-01, RFC 2822, "
            "or an Arabic date line); fix it or leave it empty; skipped",
        )
    values["published"] = published
    return Article(text=text, origin=origin, **values)


def _mapping_hint(named: Mapping[str, object]) -> str:
    """When there is no "text" field but fields askbot does not know ("body", "content"): how to name the one that
    holds the article, likely the longest ("" otherwise)."""
    others = [name for name in named if name not in ARTICLE_FIELDS]
    if "text" in named or not others:
        return ""
    longest = max(others, key=lambda name: len(as_text(named[name])))
    listed = ", ".join(others[:8]) + (", ..." if len(others) > 8 else "")
    return f" (no 'text' field; its other fields: {listed}; if {longest} holds the article: --map {longest}=text)"


def _is_text(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(part, str) for part in value))


def _short(value: object, limit: int = 40) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"
