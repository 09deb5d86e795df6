"""What a followed URL lists: RSS 2.0 / Atom feeds (feedparser), XML sitemaps, sitemap indexes and news sitemaps
(lxml), and a home page's feeds (trafilatura's feed discovery) -> a ``Listing`` of article links with their dates."""

from __future__ import annotations

import calendar
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

from askbot.ingest.dates import parse_date

logging.getLogger("trafilatura").setLevel(logging.ERROR)
MAX_ENTRIES = 5_000  # links taken from one listing (the sitemap protocol allows 50,000; a day of news is far fewer)
_XML_START = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*|<!DOCTYPE[^>]*>\s*)*<", re.DOTALL)
_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")
_FEED_ROOTS = {b"rss", b"feed", b"RDF", b"rdf"}
_SITEMAP_ROOTS = {b"urlset", b"sitemapindex"}


class ListingError(Exception):
    """Why a fetched document lists nothing (not XML, malformed, not a feed or sitemap)."""


@dataclass(frozen=True)
class Entry:
    """One article link in a listing; dates are ISO 8601 or ""."""

    url: str
    title: str = ""
    published: str = ""
    updated: str = ""  # the feed's <updated>/<lastmod>: changes when the article was edited


@dataclass(frozen=True)
class Listing:
    """A parsed feed, sitemap or home page: article links, and further listings to read (index, discovered)."""

    kind: str  # "rss", "atom", "sitemap", "sitemap-index", "news-sitemap", "home page"
    entries: tuple[Entry, ...] = ()
    listings: tuple[str, ...] = ()
    title: str = ""


def read_listing(body: bytes, url: str) -> Listing:
    """The links in ``body`` fetched from ``url``; raises ``ListingError`` saying why there are none."""
    head = body[:4096]
    if _XML_START.match(head):
        root = _root_name(head)
        if root in _SITEMAP_ROOTS:
            return _sitemap(body, url)
        if root in _FEED_ROOTS:
            return _feed(body, url)
        if root.lower() != b"html":
            raise ListingError(f"XML whose root is <{root.decode('ascii', 'replace')}>, not a feed or sitemap")
    return _home_page(body, url)


def _root_name(head: bytes) -> bytes:
    stripped = re.sub(rb"<\?.*?\?>|<!--.*?-->|<![^>]*>", b"", head, flags=re.DOTALL)
    found = _ROOT.search(stripped)
    return found.group(2) if found else b""


def _iso(parsed: object) -> str:
    if parsed is None:
        return ""
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC).isoformat()  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return ""


def _feed(body: bytes, url: str) -> Listing:
    import feedparser  # loads only when a feed is read

    parsed = feedparser.parse(body, response_headers={"content-location": url})
    entries = []
    for item in parsed.entries[:MAX_ENTRIES]:
        link = item.get("link") or ""
        if not link and item.get("id", "").startswith(("http://", "https://")):
            link = item["id"]
        link = _absolute(url, link)
        if not link:
            continue
        published = _iso(item.get("published_parsed")) or _iso(item.get("updated_parsed"))
        entries.append(Entry(link, (item.get("title") or "").strip(), published, _iso(item.get("updated_parsed"))))
    if parsed.get("bozo") and not entries:
        raise ListingError(f"malformed feed: {parsed.get('bozo_exception')}")
    version = parsed.get("version") or ""
    kind = "atom" if version.startswith("atom") else "rss"
    return Listing(kind, tuple(entries), title=(parsed.feed.get("title") or "").strip())


def _sitemap(body: bytes, url: str) -> Listing:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise ListingError(f"malformed XML: {exc}") from None
    name = etree.QName(root).localname
    entries: list[Entry] = []
    children: list[str] = []
    news = False
    for node in root:
        if not isinstance(node.tag, str):
            continue
        fields = {etree.QName(child).localname: child for child in node.iter() if isinstance(child.tag, str)}
        loc = _absolute(url, _text(fields.get("loc")))
        if not loc:
            continue
        if name == "sitemapindex":
            children.append(loc)
            continue
        news = news or "publication_date" in fields
        lastmod = parse_date(_text(fields.get("lastmod")))
        published = parse_date(_text(fields.get("publication_date"))) or lastmod
        entries.append(Entry(loc, _text(fields.get("title")), published, lastmod))
        if len(entries) >= MAX_ENTRIES:
            break
    if name == "sitemapindex":
        return Listing("sitemap-index", listings=tuple(children[:MAX_ENTRIES]))
    return Listing("news-sitemap" if news else "sitemap", tuple(entries))


def _text(node: object) -> str:
    text = getattr(node, "text", None)
    return text.strip() if isinstance(text, str) else ""


def _home_page(body: bytes, url: str) -> Listing:
    from trafilatura.feeds import FeedParameters, determine_feed

    from askbot.ingest.decode import decode_bytes
    from askbot.ingest.record import IngestError

    try:
        text = decode_bytes(body)
    except IngestError as exc:
        raise ListingError(f"not a feed, sitemap or web page ({exc.reason})") from None
    if "<" not in text[:2048]:
        raise ListingError("not a feed, sitemap or web page (no markup)")
    host = urlsplit(url).netloc
    params = FeedParameters(url, host, url)
    try:
        found = determine_feed(text, params)
    except Exception as exc:  # noqa: BLE001 - a third-party parser on arbitrary input: report, never crash
        raise ListingError(f"page could not be parsed: {exc}") from None
    if not found:
        raise ListingError("a web page that names no feed (no <link rel=alternate> to RSS/Atom): give the feed's URL")
    return Listing("home page", listings=tuple(found))


def _absolute(base: str, link: str) -> str:
    if not link.strip():
        return ""
    link = urljoin(base, link.strip()).split("#", 1)[0]
    return link if urlsplit(link).scheme in ("http", "https") else ""
