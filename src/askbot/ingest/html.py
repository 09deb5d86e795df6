"""HTML pages: main text and metadata (title, date, url, site name) extracted with trafilatura.

trafilatura (and lxml under it) loads on the first HTML page read, not when askbot starts: indexing text
and JSONL never depends on it, and a broken install of it is a per-file problem, not a crash.
"""

from __future__ import annotations

import logging
from typing import Any

from askbot.ingest.record import make_article
from askbot.types import Article, IngestProblem

_DATE_FORMAT = {"original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}
HTML_READER_BROKEN = (
    "the HTML reader (trafilatura) cannot load: {error}; reinstall askbot's dependencies "
    "(pip install -e . or pip install askbot), or convert the page to .txt"
)


def _trafilatura() -> tuple[Any, Any]:
    """trafilatura's ``bare_extraction`` and its ``Document`` type; ImportError when it or lxml is broken."""
    import trafilatura
    from trafilatura.settings import Document

    logging.getLogger("trafilatura").setLevel(logging.ERROR)  # it warns about every page without an article
    return trafilatura.bare_extraction, Document


def read_html_document(text: str, origin: str, name: str = "", article_id: str = "") -> Article | IngestProblem:
    """The article in an HTML page; a problem when trafilatura finds no main text or cannot load."""
    try:
        bare_extraction, document_type = _trafilatura()
    except Exception as exc:  # noqa: BLE001 - ImportError, or whatever a half-installed package raises on import
        return IngestProblem(origin, HTML_READER_BROKEN.format(error=" ".join(f"{type(exc).__name__}: {exc}".split())))
    try:
        doc = bare_extraction(text, with_metadata=True, date_extraction_params=_DATE_FORMAT)
    except Exception as exc:  # noqa: BLE001 - a third-party parser on arbitrary input: report, never crash
        return IngestProblem(origin, f"HTML could not be parsed: {exc}")
    body = (doc.text or "").strip() if isinstance(doc, document_type) else ""
    if not isinstance(doc, document_type) or not body:
        return IngestProblem(origin, "no article text found in the HTML")
    title = (doc.title or "").strip()
    first, _, rest = body.partition("\n")
    if title and first.strip() == title and rest.strip():
        body = rest.strip()  # trafilatura repeats the <h1> headline as the first line
    published = (doc.date or "").removesuffix("T00:00:00")  # a date without a time, not midnight
    fields = {"id": article_id, "title": title or name, "text": body, "url": doc.url, "source": doc.sitename}
    return make_article(fields | {"published": published, "category": doc.categories}, origin)
