"""HTML pages: main text and metadata (title, date, url, site name) extracted with trafilatura."""

from __future__ import annotations

import logging

import trafilatura
from trafilatura.settings import Document

from askbot.ingest.record import make_article
from askbot.types import Article, IngestProblem

logging.getLogger("trafilatura").setLevel(logging.ERROR)  # it warns about every page without an article
_DATE_FORMAT = {"original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}


def read_html_document(text: str, origin: str, name: str = "", article_id: str = "") -> Article | IngestProblem:
    """The article in an HTML page; a problem when trafilatura finds no main text."""
    try:
        doc = trafilatura.bare_extraction(text, with_metadata=True, date_extraction_params=_DATE_FORMAT)
    except Exception as exc:  # noqa: BLE001 - a third-party parser on arbitrary input: report, never crash
        return IngestProblem(origin, f"HTML could not be parsed: {exc}")
    body = (doc.text or "").strip() if isinstance(doc, Document) else ""
    if not isinstance(doc, Document) or not body:
        return IngestProblem(origin, "no article text found in the HTML")
    title = (doc.title or "").strip()
    first, _, rest = body.partition("\n")
    if title and first.strip() == title and rest.strip():
        body = rest.strip()  # trafilatura repeats the <h1> headline as the first line
    published = (doc.date or "").removesuffix("T00:00:00")  # a date without a time, not midnight
    fields = {"id": article_id, "title": title or name, "text": body, "url": doc.url, "source": doc.sitename}
    return make_article(fields | {"published": published, "category": doc.categories}, origin)
