"""Following sources: poll feeds, sitemaps and home pages, fetch new or changed article pages, index them.

What was seen is kept in ``<index>/follow.sqlite`` (sources with their ETag/Last-Modified; pages with theirs, the
indexed content hash and a status). A page is listed there *before* it is fetched and marked indexed only *after*
``kb.add`` committed it, so a process killed at any moment neither loses a listed article (it is still pending
on restart, even when the feed then answers 304) nor duplicates one (its id is derived from its URL, so a refetch
is "unchanged" or an update of the same article).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from askbot.config import FOLLOW_EVERY_S
from askbot.fetching import Fetcher, FetchError, check_url, gunzip_limited
from askbot.ingest.feeds import Entry, ListingError, read_listing
from askbot.types import Article, IngestProblem

if TYPE_CHECKING:
    from askbot.kb import KnowledgeBase

log = logging.getLogger(__name__)

STORE_NAME = "follow.sqlite"
BATCH_ARTICLES = 64  # articles per kb.add: one new generation each, so the bot answers them minutes sooner
BATCH_WAIT_S = 5.0  # ... or whatever was fetched within this long
MAX_ATTEMPTS = 3  # a page that failed this many polls in a row is given up until its listing changes
MAX_NESTED = 50  # listings one source may lead to (sitemaps of an index, feeds of a home page)
MIN_ARTICLE_CHARS = 80  # less text than this: a list, index or error page, not an article

SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    url TEXT PRIMARY KEY, kind TEXT NOT NULL DEFAULT '', etag TEXT NOT NULL DEFAULT '',
    last_modified TEXT NOT NULL DEFAULT '', checked TEXT NOT NULL DEFAULT '', problem TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS pages (
    url TEXT PRIMARY KEY, source TEXT NOT NULL, article_id TEXT NOT NULL,
    status TEXT NOT NULL,  -- pending | indexed | not-article | failed
    listed_title TEXT NOT NULL DEFAULT '', listed_published TEXT NOT NULL DEFAULT '',
    listed_updated TEXT NOT NULL DEFAULT '', etag TEXT NOT NULL DEFAULT '', last_modified TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0, problem TEXT NOT NULL DEFAULT '',
    first_seen TEXT NOT NULL, indexed TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS pages_by_status ON pages(status);
"""


def article_id(url: str) -> str:
    """The article id of a followed page: stable per URL, so an edit updates the article instead of adding one."""
    return "u" + hashlib.sha256(url.split("#", 1)[0].encode("utf-8", "surrogatepass")).hexdigest()[:15]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Page:
    """A listed article page waiting to be fetched (or refetched)."""

    url: str
    source: str
    title: str
    published: str
    etag: str
    last_modified: str
    content_hash: str


@dataclass
class FollowReport:
    """What one poll did."""

    listed: int = 0  # links in the listings read
    fetched: int = 0
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    problems: list[IngestProblem] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.listed} listed, {self.fetched} pages fetched: added {len(self.added)}, updated "
            f"{len(self.updated)}, unchanged {self.unchanged}, problems {len(self.problems)} ({self.seconds:.1f}s)"
        )


class SeenStore:
    """``follow.sqlite``: the followed sources and every page listed by them (plain SQLite, WAL)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=10000")
        self.db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    def source(self, url: str) -> tuple[str, str]:
        with self._lock:
            row = self.db.execute("SELECT etag, last_modified FROM sources WHERE url=?", (url,)).fetchone()
        return (row[0], row[1]) if row else ("", "")

    def list_entries(self, source: str, kind: str, entries: Sequence[Entry], etag: str, last_modified: str) -> int:
        """Record a listing and its links in one transaction; returns how many pages became pending."""
        now = _now()
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                before = self.db.total_changes
                for e in entries:
                    self.db.execute(
                        "INSERT INTO pages (url, source, article_id, status, listed_title, listed_published,"
                        " listed_updated, first_seen) VALUES (?,?,?,'pending',?,?,?,?)"
                        " ON CONFLICT(url) DO UPDATE SET status='pending', attempts=0,"
                        " listed_title=excluded.listed_title,"
                        " listed_published=excluded.listed_published, listed_updated=excluded.listed_updated"
                        " WHERE pages.listed_updated != excluded.listed_updated",
                        (e.url, source, article_id(e.url), e.title, e.published, e.updated or e.published, now),
                    )
                changed = self.db.total_changes - before
                self._put_source(source, kind, etag, last_modified, "", now)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return changed

    def _put_source(self, url: str, kind: str, etag: str, last_modified: str, problem: str, now: str) -> None:
        self.db.execute(
            "INSERT INTO sources (url, kind, etag, last_modified, checked, problem) VALUES (?,?,?,?,?,?)"
            " ON CONFLICT(url) DO UPDATE SET kind=coalesce(nullif(excluded.kind, ''), sources.kind),"
            " etag=excluded.etag, last_modified=excluded.last_modified, checked=excluded.checked,"
            " problem=excluded.problem",
            (url, kind, etag, last_modified, now, problem),
        )

    def source_checked(self, url: str, problem: str = "") -> None:
        """A poll that listed nothing new (304) or failed: keep the validators, note the problem."""
        etag, last_modified = self.source(url)
        with self._lock:
            self._put_source(url, "", etag, last_modified, problem, _now())

    def pending(self, sources: Iterable[str] | None = None) -> list[Page]:
        """Pages to fetch: listed and not yet indexed, changed in their listing, or failed fewer than the limit."""
        with self._lock:
            rows = self.db.execute(
                "SELECT url, source, listed_title, listed_published, etag, last_modified, content_hash FROM pages"
                " WHERE status='pending' OR (status='failed' AND attempts < ?) ORDER BY listed_published DESC, url",
                (MAX_ATTEMPTS,),
            ).fetchall()
        wanted = None if sources is None else set(sources)
        return [Page(*row) for row in rows if wanted is None or row[1] in wanted]

    def mark(self, url: str, status: str, **values: str) -> None:
        """Set a page's status (and validators, hash, problem); "failed" counts an attempt."""
        sets = ", ".join(f"{name}=?" for name in values)
        attempts = ", attempts=attempts+1" if status == "failed" else ", attempts=0"
        indexed = ", indexed=?" if status == "indexed" else ""
        args = [status, *values.values(), *([_now()] if indexed else []), url]
        with self._lock:
            self.db.execute(
                f"UPDATE pages SET status=?{', ' + sets if sets else ''}{attempts}{indexed} WHERE url=?", args
            )

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT status, count(*) FROM pages GROUP BY status").fetchall())

    def sources(self) -> list[dict[str, str]]:
        rows = self.db.execute("SELECT url, kind, checked, problem FROM sources ORDER BY url").fetchall()
        return [dict(zip(("url", "kind", "checked", "problem"), row, strict=True)) for row in rows]

    def latest(self, limit: int = 10) -> list[dict[str, str]]:
        rows = self.db.execute(
            "SELECT url, article_id, listed_title, listed_published FROM pages WHERE status='indexed'"
            " ORDER BY listed_published DESC, indexed DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [dict(zip(("url", "article_id", "title", "published"), row, strict=True)) for row in rows]


def store_for(kb: KnowledgeBase) -> SeenStore:
    return SeenStore(kb.index_dir / STORE_NAME)


def follow_info(index_dir: Path) -> dict[str, object] | None:
    """The ``follow`` section of ``askbot info``: sources, pages by status, the last check and the sources'
    current problems (None when nothing is followed)."""
    path = index_dir / STORE_NAME
    if not path.exists():
        return None
    store = SeenStore(path)
    try:
        sources = store.sources()
        return {
            "sources": len(sources),
            "pages": store.counts(),
            "last_checked": max((s["checked"] for s in sources), default=""),
            "problems": [f"{s['url']}: {s['problem']}" for s in sources if s["problem"]][:20],
        }
    finally:
        store.close()


class Follower:
    """Polls ``urls`` and indexes what they list into ``kb``."""

    def __init__(
        self,
        kb: KnowledgeBase,
        urls: Sequence[str],
        *,
        fetcher: Fetcher | None = None,
        store: SeenStore | None = None,
        batch_articles: int = BATCH_ARTICLES,
        on_problem: Callable[[IngestProblem], None] | None = None,
    ) -> None:
        self.kb = kb
        self.urls = [check_url(url) for url in urls]
        self.fetcher = fetcher or Fetcher()
        self.store = store or store_for(kb)
        self.batch_articles = batch_articles
        self.on_problem = on_problem or (lambda p: log.warning("%s: %s", p.origin, p.reason))
        self._validators: dict[str, tuple[str, str]] = {}  # url -> (ETag, Last-Modified) of a page being indexed

    def close(self) -> None:
        self.fetcher.close()
        self.store.close()

    def _problem(self, report: FollowReport, origin: str, reason: str) -> None:
        problem = IngestProblem(origin, reason)
        report.problems.append(problem)
        self.on_problem(problem)

    # ---- listings -----------------------------------------------------------------------------
    def read_sources(self, report: FollowReport) -> set[str]:
        """Fetch every source (and the listings it leads to); their links become pending pages."""
        reached: set[str] = set()
        for url in self.urls:
            todo, seen = [url], set[str]()
            while todo and len(seen) < MAX_NESTED:
                current = todo.pop(0)
                if current in seen:
                    continue
                seen.add(current)
                todo.extend(self._read_listing(current, report))
            reached |= seen
        return reached

    def _read_listing(self, url: str, report: FollowReport) -> list[str]:
        etag, last_modified = self.store.source(url)
        try:
            response = self.fetcher.get(url, etag, last_modified)
            if response.status == 304:
                self.store.source_checked(url)
                return []
            body = response.body
            if body[:2] == b"\x1f\x8b":  # sitemap.xml.gz
                body = gunzip_limited(body, self.fetcher.max_bytes)
            listing = read_listing(body, response.url)
        except (FetchError, ListingError) as exc:
            self.store.source_checked(url, str(exc))
            self._problem(report, url, str(exc))
            return []
        report.listed += len(listing.entries)
        self.store.list_entries(url, listing.kind, listing.entries, response.etag, response.last_modified)
        return list(listing.listings)

    # ---- pages --------------------------------------------------------------------------------
    def _fetch_page(self, page: Page, report: FollowReport) -> Article | None:
        from askbot.ingest.decode import decode_bytes
        from askbot.ingest.html import read_html_document
        from askbot.ingest.record import IngestError

        try:
            response = self.fetcher.get(page.url, page.etag, page.last_modified)
        except FetchError as exc:
            self.store.mark(page.url, "failed", problem=str(exc))
            self._problem(report, page.url, str(exc))
            return None
        report.fetched += 1
        if response.status == 304:
            self.store.mark(page.url, "indexed", problem="")
            report.unchanged += 1
            return None
        try:
            text = decode_bytes(response.body)
        except IngestError as exc:
            self.store.mark(page.url, "not-article", problem=exc.reason)
            self._problem(report, page.url, exc.reason)
            return None
        item = read_html_document(text, page.url, page.title, article_id(page.url))
        if isinstance(item, IngestProblem) or len(item.text) < MIN_ARTICLE_CHARS:
            reason = item.reason if isinstance(item, IngestProblem) else f"not an article ({len(item.text)} characters)"
            self.store.mark(page.url, "not-article", problem=reason, etag=response.etag)
            self._problem(report, page.url, reason)
            return None
        article = replace(
            item,
            url=page.url,
            title=item.title or page.title,
            published=item.published or page.published,
            source=item.source or urlsplit(page.url).hostname or "",
        )
        if article.content_hash == page.content_hash:  # refetched, same text: nothing to write
            self.store.mark(page.url, "indexed", etag=response.etag, last_modified=response.last_modified)
            report.unchanged += 1
            return None
        self._validators[page.url] = (response.etag, response.last_modified)
        return article

    def _fetched(self, pages: Sequence[Page], report: FollowReport) -> Iterator[list[Article]]:
        """Batches of fetched articles; pages are fetched in a thread while the caller indexes the last batch."""
        batches: queue.Queue[list[Article] | None] = queue.Queue(maxsize=2)
        stop = threading.Event()
        failed: list[BaseException] = []

        def fetch_all() -> None:
            batch: list[Article] = []
            started = time.monotonic()
            try:
                for page in pages:
                    if stop.is_set():
                        return
                    article = self._fetch_page(page, report)
                    if article is not None:
                        batch.append(article)
                    if batch and (len(batch) >= self.batch_articles or time.monotonic() - started > BATCH_WAIT_S):
                        batches.put(batch)
                        batch, started = [], time.monotonic()
                if batch:
                    batches.put(batch)
            except BaseException as exc:  # noqa: BLE001 - raised again in the indexing thread
                failed.append(exc)
            finally:
                batches.put(None)

        worker = threading.Thread(target=fetch_all, name="askbot-follow-fetch", daemon=True)
        worker.start()
        try:
            while (batch := batches.get()) is not None:
                yield batch
            if failed:
                raise failed[0]
        finally:
            stop.set()
            while worker.is_alive():  # let a blocked put() finish
                with contextlib.suppress(queue.Empty):
                    batches.get(timeout=0.1)
            worker.join()

    def _index(self, batch: list[Article], report: FollowReport) -> None:
        indexed = self.kb.add(batch)
        report.added += indexed.added
        report.updated += indexed.updated
        report.unchanged += len(indexed.unchanged)
        refused = {p.origin: p.reason for p in indexed.problems}
        for article in batch:
            if article.url in refused:
                self.store.mark(article.url, "not-article", problem=refused[article.url])
                self._problem(report, article.url, refused[article.url])
                continue
            etag, last_modified = self._validators.pop(article.url, ("", ""))
            self.store.mark(
                article.url,
                "indexed",
                etag=etag,
                last_modified=last_modified,
                content_hash=article.content_hash,
                listed_title=article.title,
                listed_published=article.published,
                problem="",
            )

    def poll(self) -> FollowReport:
        """One round: read every source, then fetch and index every pending page."""
        started = time.perf_counter()
        report = FollowReport()
        self._validators.clear()
        reached = self.read_sources(report)
        for batch in self._fetched(self.store.pending(reached), report):
            self._index(batch, report)
        report.seconds = time.perf_counter() - started
        return report


def follow(
    kb: KnowledgeBase,
    urls: Sequence[str],
    *,
    every_s: float | None = None,
    once: bool = True,
    stop: threading.Event | None = None,
    on_poll: Callable[[FollowReport], None] | None = None,
    fetcher: Fetcher | None = None,
    batch_articles: int | None = None,
    on_problem: Callable[[IngestProblem], None] | None = None,
) -> FollowReport:
    """Poll ``urls`` once (``once``) or every ``every_s`` seconds until ``stop`` is set; returns the last report.
    ``on_problem`` hears each problem as it happens (default: a logging warning); ``on_poll`` each poll's report."""
    from askbot.store import IndexBusy

    follower = Follower(
        kb, urls, fetcher=fetcher, batch_articles=batch_articles or BATCH_ARTICLES, on_problem=on_problem
    )
    stop = stop or threading.Event()
    every = FOLLOW_EVERY_S if every_s is None else every_s
    try:
        while True:
            began = time.monotonic()
            try:
                report = follower.poll()
            except IndexBusy as exc:  # another writer (askbot index) holds the index: the pages stay pending
                report = FollowReport(problems=[IngestProblem(str(kb.index_dir), f"{exc}; retrying next poll")])
            if on_poll:
                on_poll(report)
            if once or stop.wait(max(0.0, every - (time.monotonic() - began))):
                return report
    finally:
        follower.close()
