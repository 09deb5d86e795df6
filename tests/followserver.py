"""A news site on 127.0.0.1 for the follow tests and benchmark: feeds, sitemaps, article pages, robots.txt, and
misbehaving URLs (404/500, slow, huge, gzip bomb, not XML, malformed XML, redirect loops)."""

from __future__ import annotations

import gzip
import html
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = Callable[["Handler"], None]


def article_html(title: str, text: str, published: str, source: str = "askbot test news") -> str:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n") if p.strip())
    return (
        f'<!doctype html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f'<meta property="og:site_name" content="{html.escape(source)}">'
        f'<meta property="article:published_time" content="{published}"></head><body>'
        f"<nav><a href='/'>الرئيسية</a></nav><article><h1>{html.escape(title)}</h1>{paragraphs}</article>"
        "<footer>حقوق النشر</footer></body></html>"
    )


def rss(items: list[tuple[str, str, str]], base: str, title: str = "test feed") -> str:
    """items: (path, title, ISO published)."""
    body = "".join(
        f"<item><title>{html.escape(t)}</title><link>{base}{path}</link>"
        f"<pubDate>{format_datetime(datetime.fromisoformat(p))}</pubDate></item>"
        for path, t, p in items
    )
    head = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
    return f"{head}{body}</channel></rss>"


def atom(items: list[tuple[str, str, str, str]], base: str) -> str:
    """items: (path, title, published, updated)."""
    body = "".join(
        f'<entry><title>{html.escape(t)}</title><link href="{base}{path}"/><id>{base}{path}</id>'
        f"<published>{p}</published><updated>{u}</updated></entry>"
        for path, t, p, u in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{body}</feed>'
    )


def sitemap(items: list[tuple[str, str]], base: str, news: bool = False) -> str:
    ns = ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"' if news else ""
    rows = []
    for path, lastmod in items:
        extra = (
            f"<news:news><news:publication_date>{lastmod}</news:publication_date><news:title>t</news:title></news:news>"
            if news
            else f"<lastmod>{lastmod}</lastmod>"
        )
        rows.append(f"<url><loc>{base}{path}</loc>{extra}</url>")
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"{ns}>'
        + "".join(rows)
        + "</urlset>"
    )


def sitemap_index(paths: list[str], base: str) -> str:
    rows = "".join(f"<sitemap><loc>{base}{p}</loc></sitemap>" for p in paths)
    return (
        f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</sitemapindex>'
    )


@dataclass
class Site:
    """Pages by path: bytes or str (200, with an ETag), or a route function for anything else."""

    pages: dict[str, bytes | str | Route] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    conditional: Counter[str] = field(default_factory=Counter)  # requests that sent If-None-Match
    user_agents: set[str] = field(default_factory=set)
    server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Site:
        site = self

        class Bound(Handler):
            pass

        Bound.site = site
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Bound)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class Handler(BaseHTTPRequestHandler):
    site: Site
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        path = self.path
        self.site.requests[path] += 1
        self.site.user_agents.add(self.headers.get("User-Agent", ""))
        if self.headers.get("If-None-Match"):
            self.site.conditional[path] += 1
        page = self.site.pages.get(path)
        if page is None:
            self.reply(404, b"not found")
            return
        if callable(page):
            page(self)
            return
        body = page.encode("utf-8") if isinstance(page, str) else page
        etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
        if self.headers.get("If-None-Match") == etag:
            self.reply(304, headers={"ETag": etag})
            return
        kind = "application/xml" if body.lstrip().startswith(b"<?xml") else "text/html; charset=utf-8"
        self.reply(200, body, {"ETag": etag, "Content-Type": kind})


# ---- misbehaving routes ----------------------------------------------------------------------
def status(code: int) -> Route:
    return lambda h: h.reply(code, b"error")


def slow(seconds: float) -> Route:
    def route(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/xml")
        h.send_header("Content-Length", "100000")
        h.end_headers()
        try:
            for _ in range(int(seconds * 10)):
                h.wfile.write(b" ")
                h.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    return route


def huge(megabytes: int) -> Route:
    def route(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/xml")
        h.end_headers()  # no Content-Length: the client must count
        h.close_connection = True
        try:
            h.wfile.write(b'<?xml version="1.0"?><rss><channel>')
            for _ in range(megabytes):
                h.wfile.write(b"<item></item>" * (2**20 // 13))
        except OSError:
            pass

    return route


def gzip_bomb(megabytes: int) -> Route:
    payload = gzip.compress(b'<?xml version="1.0"?><rss>' + b" " * (megabytes * 2**20), compresslevel=9)

    def route(h: Handler) -> None:
        h.reply(200, payload, {"Content-Type": "application/xml", "Content-Encoding": "gzip"})

    return route


def redirect(target: str) -> Route:
    return lambda h: h.reply(302, b"", {"Location": target})
