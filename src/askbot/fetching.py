"""Polite, bounded HTTP: robots.txt, a delay per host, conditional GET, timeouts, a size cap (after decompression,
so a gzip bomb stops at the cap), redirects bounded and checked, http(s) only, a User-Agent that says who asks."""

from __future__ import annotations

import threading
import time
import zlib
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from askbot import __version__

USER_AGENT = f"askbot/{__version__} (news follower; +https://github.com/askbot/askbot)"
ROBOTS_AGENT = "askbot"
TIMEOUT_S = 20.0  # a whole response, headers to last byte: a server that drips bytes is cut off here
MAX_BYTES = 10 * 2**20  # a feed, sitemap or article page, decompressed
MAX_REDIRECTS = 5
HOST_DELAY_S = 1.0  # between two requests to one host (robots.txt Crawl-delay raises it)
ROBOTS_TTL_S = 3600.0
REDIRECTS = (301, 302, 303, 307, 308)


class FetchError(ValueError):
    """Why a URL gave nothing usable (refused, unreachable, too slow, too big, an HTTP error: ``status``)."""

    def __init__(self, reason: str, status: int = 0) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Response:
    """A fetched document; ``status`` 304 means unchanged since the given ETag/Last-Modified (``body`` empty)."""

    url: str  # after redirects
    status: int
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""
    content_type: str = ""


@dataclass
class _Host:
    robots: RobotFileParser | None = None
    robots_at: float = 0.0
    robots_unread: str = ""  # why robots.txt could not be read (then nothing is fetched from the host for now)
    next_at: float = 0.0
    lock: threading.Lock | None = None


def check_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL with a host; FetchError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"not an http(s) URL: {url!r}")
    return url


def gunzip_limited(data: bytes, limit: int = MAX_BYTES) -> bytes:
    """``data`` gunzipped (a .xml.gz sitemap), refusing output over ``limit`` bytes."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise FetchError(f"not valid gzip: {exc}") from None
    if len(out) > limit:
        raise FetchError(f"larger than {limit:,} bytes once decompressed (a gzip bomb?), skipped")
    return out


def _decoder(encoding: str) -> zlib._Decompress | None:
    """A bounded decompressor for the response's Content-Encoding (None: as sent)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    raise FetchError(f"unsupported Content-Encoding {encoding!r} (askbot asks for gzip or deflate)")


class Fetcher:
    """One HTTP client for every followed source; thread-safe, one request per host at a time."""

    def __init__(
        self,
        *,
        user_agent: str = USER_AGENT,
        timeout_s: float = TIMEOUT_S,
        max_bytes: int = MAX_BYTES,
        max_redirects: int = MAX_REDIRECTS,
        host_delay_s: float = HOST_DELAY_S,
        obey_robots: bool = True,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.host_delay_s = host_delay_s
        self.obey_robots = obey_robots
        self._client = httpx.Client(
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: the URL given is the one asked
        )
        self._hosts: dict[str, _Host] = {}
        self._hosts_lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, etag: str = "", last_modified: str = "") -> Response:
        """GET ``url`` (conditionally when ``etag``/``last_modified`` are known); FetchError saying why not."""
        check_url(url)
        for _ in range(self.max_redirects + 1):
            if not self.allowed(url):
                netloc = urlsplit(url).netloc
                if unread := self._host(netloc).robots_unread:
                    raise FetchError(
                        f"robots.txt of {netloc} could not be read ({unread}): nothing is fetched from {netloc} "
                        f"until it can be (RFC 9309)"
                    )
                raise FetchError(f"robots.txt of {netloc} disallows {url}")
            headers = {"If-None-Match": etag} if etag else {}
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            status, location, response = self._request(url, headers)
            if status not in REDIRECTS:
                return response
            if not location:
                raise FetchError(f"HTTP {status} without a Location header")
            url = check_url(urljoin(url, location))
        raise FetchError(f"more than {self.max_redirects} redirects")

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets askbot fetch ``url`` (fetched once an hour per host)."""
        if not self.obey_robots:
            return True
        parts = urlsplit(url)
        if parts.path == "/robots.txt":
            return True
        host = self._host(parts.netloc)
        if host.robots is None or time.monotonic() - host.robots_at > ROBOTS_TTL_S:
            robots, host.robots_unread = self._robots(f"{parts.scheme}://{parts.netloc}/robots.txt")
            host.robots, host.robots_at = robots, time.monotonic()
        return host.robots.can_fetch(ROBOTS_AGENT, url)

    def _robots(self, url: str) -> tuple[RobotFileParser, str]:
        """RFC 9309: a 4xx (or no file) allows everything; a 5xx or no answer disallows everything for now. The
        parser, and why the file could not be read when that is what disallows ("" otherwise)."""
        robots = RobotFileParser(url)
        try:
            response = self.get(url)
        except FetchError as exc:
            if 400 <= exc.status < 500:
                robots.allow_all = True  # type: ignore[attr-defined]
                return robots, ""
            robots.disallow_all = True  # type: ignore[attr-defined]
            return robots, str(exc)
        robots.parse(response.body.decode("utf-8", "replace").splitlines())
        return robots, ""

    def _host(self, netloc: str) -> _Host:
        with self._hosts_lock:
            host = self._hosts.get(netloc)
            if host is None:
                host = self._hosts[netloc] = _Host(lock=threading.Lock())
            return host

    def _request(self, url: str, headers: dict[str, str]) -> tuple[int, str, Response]:
        parts = urlsplit(url)
        host = self._host(parts.netloc)
        assert host.lock is not None
        with host.lock:  # one request at a time per host, spaced by the delay
            wait = host.next_at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                return self._download(url, headers)
            finally:
                delay = self.host_delay_s
                if host.robots is not None and parts.path != "/robots.txt":
                    crawl_delay = host.robots.crawl_delay(ROBOTS_AGENT)
                    delay = max(delay, float(crawl_delay or 0))
                host.next_at = time.monotonic() + delay

    def _download(self, url: str, headers: dict[str, str]) -> tuple[int, str, Response]:
        deadline = time.monotonic() + self.timeout_s
        try:
            with self._client.stream("GET", url, headers=headers) as reply:
                status = reply.status_code
                if status in REDIRECTS:
                    return status, reply.headers.get("location", ""), Response(url, status)
                if status == 304:
                    return status, "", Response(url, 304, etag=headers.get("If-None-Match", ""))
                if status >= 400:
                    raise FetchError(f"HTTP {status} {reply.reason_phrase}".strip(), status)
                declared = reply.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchError(f"larger than {self.max_bytes:,} bytes ({int(declared):,} declared), skipped")
                decoder = _decoder(reply.headers.get("content-encoding", ""))
                chunks: list[bytes] = []
                size = 0
                for raw in reply.iter_raw():  # as the network gives it, so the deadline is checked often
                    # decompressed a bounded amount at a time: a gzip bomb stops at the cap, never in memory whole
                    chunk = decoder.decompress(raw, self.max_bytes + 1 - size) if decoder else raw
                    size += len(chunk)
                    if size > self.max_bytes or (decoder and decoder.unconsumed_tail):
                        raise FetchError(f"larger than {self.max_bytes:,} bytes (decompressed), skipped")
                    if time.monotonic() > deadline:
                        raise FetchError(f"slower than {self.timeout_s:g} s, cut off")
                    chunks.append(chunk)
                if decoder is not None:
                    chunks.append(decoder.flush())
                body = b"".join(chunks)
                return (
                    status,
                    "",
                    Response(
                        str(reply.url),
                        status,
                        body,
                        reply.headers.get("etag", ""),
                        reply.headers.get("last-modified", ""),
                        reply.headers.get("content-type", ""),
                    ),
                )
        except httpx.TimeoutException:
            raise FetchError(f"no answer within {self.timeout_s:g} s") from None
        except zlib.error as exc:
            raise FetchError(f"undecodable compressed content: {exc}") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"cannot fetch: {type(exc).__name__}: {exc}") from None
