"""Following feeds, sitemaps and sites, against a news site these tests serve on 127.0.0.1."""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # followserver, under pytest's importlib import mode

from followserver import (  # noqa: E402
    Site,
    article_html,
    atom,
    gzip_bomb,
    huge,
    redirect,
    rss,
    sitemap,
    sitemap_index,
    slow,
    status,
)

from askbot.fetching import Fetcher, FetchError  # noqa: E402
from askbot.follow import Follower, SeenStore, article_id, follow_info  # noqa: E402
from askbot.indexing import IndexReport  # noqa: E402
from askbot.ingest.feeds import ListingError, read_listing  # noqa: E402
from askbot.types import Article  # noqa: E402

BODY = (
    "أعلنت وزارة الخارجية العراقية اليوم توقيع اتفاقية جديدة للتعاون الاقتصادي مع الأردن.\n"
    "وقال المتحدث باسم الوزارة إن الاتفاقية تشمل مشاريع للطاقة والنقل والتجارة بين البلدين."
)


class FakeKB:
    """What a Follower needs of a KnowledgeBase: ``index_dir`` and ``add``; keeps articles by id."""

    def __init__(self, index_dir: Path, fail_after: int | None = None) -> None:
        self.index_dir = index_dir
        self.articles: dict[str, Article] = {}
        self.adds = 0
        self.fail_after = fail_after  # commit this many adds, then "die" right after the next commit

    def add(self, items: Sequence[Article]) -> IndexReport:
        report = IndexReport()
        for a in items:
            old = self.articles.get(a.id)
            if old is not None and old.content_hash == a.content_hash:
                report.unchanged.append(a.id)
                continue
            (report.updated if old else report.added).append(a.id)
            self.articles[a.id] = a
        self.adds += 1
        if self.fail_after is not None and self.adds > self.fail_after:
            raise KeyboardInterrupt("killed right after a commit")
        return report


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site().start()
    s.pages["/robots.txt"] = "User-agent: *\nDisallow: /private/\n"
    try:
        yield s
    finally:
        s.stop()


def add_articles(site: Site, count: int, prefix: str = "/news/", day: int = 10) -> list[tuple[str, str, str]]:
    items = []
    for i in range(count):
        path, title = f"{prefix}{i}.html", f"خبر رقم {i} عن الاتفاقية"
        published = f"2018-03-{day:02d}T0{i % 10}:00:00+00:00"
        site.pages[path] = article_html(title, f"{BODY}\nالفقرة الخاصة بالخبر {i}.", published)
        items.append((path, title, published))
    return items


def follower(kb: FakeKB, urls: list[str], **fetch: float) -> Follower:
    options = {"host_delay_s": 0.0, "timeout_s": 5.0} | fetch
    return Follower(kb, urls, fetcher=Fetcher(**options), batch_articles=3)  # type: ignore[arg-type]


def test_rss_feed_is_indexed_once_and_a_second_poll_fetches_nothing_new(site: Site, tmp_path: Path) -> None:
    items = add_articles(site, 5)
    site.pages["/feed.xml"] = rss(items, site.base)
    kb = FakeKB(tmp_path)
    f = follower(kb, [site.base + "/feed.xml"])
    report = f.poll()
    assert len(report.added) == 5 and not report.problems, report.problems
    first = kb.articles[article_id(site.base + "/news/0.html")]
    assert first.title == "خبر رقم 0 عن الاتفاقية" and first.url == site.base + "/news/0.html"
    assert first.published.startswith("2018-03-10T00:00:00") and "الاتفاقية تشمل مشاريع" in first.text
    assert any(ua.startswith("askbot/") for ua in site.user_agents)

    again = f.poll()
    assert again.added == [] and again.fetched == 0
    assert site.conditional["/feed.xml"] == 1  # the feed was asked with its ETag and answered 304
    assert all(site.requests[path] == 1 for path, _, _ in items)
    f.close()


def test_edited_article_is_updated_under_the_same_id(site: Site, tmp_path: Path) -> None:
    path = "/news/edit.html"
    url = site.base + path
    site.pages[path] = article_html("عنوان أول", BODY, "2018-03-10T08:00:00+00:00")
    site.pages["/atom.xml"] = atom([(path, "عنوان أول", "2018-03-10T08:00:00Z", "2018-03-10T08:00:00Z")], site.base)
    kb = FakeKB(tmp_path)
    f = follower(kb, [site.base + "/atom.xml"])
    assert f.poll().added == [article_id(url)]
    site.pages[path] = article_html("عنوان مصحح", BODY + "\nتصحيح: الاتفاقية وقعت مساء.", "2018-03-10T08:00:00+00:00")
    site.pages["/atom.xml"] = atom([(path, "عنوان مصحح", "2018-03-10T08:00:00Z", "2018-03-10T12:00:00Z")], site.base)
    report = f.poll()
    assert report.updated == [article_id(url)] and report.added == []
    assert list(kb.articles) == [article_id(url)] and kb.articles[article_id(url)].title == "عنوان مصحح"
    f.close()


def test_sitemap_index_with_a_news_sitemap_and_a_gzipped_sitemap(site: Site, tmp_path: Path) -> None:
    a = add_articles(site, 2, "/a/")
    b = add_articles(site, 2, "/b/", day=11)
    site.pages["/news-sitemap.xml"] = sitemap([(p, pub) for p, _, pub in a], site.base, news=True)
    site.pages["/old.xml.gz"] = gzip.compress(sitemap([(p, pub) for p, _, pub in b], site.base).encode())
    site.pages["/sitemap.xml"] = sitemap_index(["/news-sitemap.xml", "/old.xml.gz"], site.base)
    kb = FakeKB(tmp_path)
    f = follower(kb, [site.base + "/sitemap.xml"])
    report = f.poll()
    assert len(report.added) == 4 and not report.problems, report.problems
    assert kb.articles[article_id(site.base + "/b/1.html")].published.startswith("2018-03-11")
    kinds = {s["url"].rsplit("/", 1)[1]: s["kind"] for s in f.store.sources()}
    assert kinds == {"sitemap.xml": "sitemap-index", "news-sitemap.xml": "news-sitemap", "old.xml.gz": "sitemap"}
    f.close()


def test_home_page_feeds_are_discovered(site: Site, tmp_path: Path) -> None:
    items = add_articles(site, 2)
    site.pages["/rss"] = rss(items, site.base)
    site.pages["/"] = (
        '<html><head><link rel="alternate" type="application/rss+xml" href="/rss"></head>'
        "<body><h1>موقع أخبار</h1></body></html>"
    )
    kb = FakeKB(tmp_path)
    f = follower(kb, [site.base + "/"])
    report = f.poll()
    assert len(report.added) == 2 and not report.problems
    f.close()


def test_robots_txt_is_obeyed(site: Site, tmp_path: Path) -> None:
    items = add_articles(site, 1) + add_articles(site, 1, "/private/")
    site.pages["/feed.xml"] = rss(items, site.base)
    kb = FakeKB(tmp_path)
    f = follower(kb, [site.base + "/feed.xml"])
    report = f.poll()
    assert len(report.added) == 1
    assert site.requests["/private/0.html"] == 0
    assert [p.origin for p in report.problems] == [site.base + "/private/0.html"]
    assert "robots.txt" in report.problems[0].reason and "disallows" in report.problems[0].reason
    f.close()


def test_every_misbehaving_source_gets_its_own_problem_and_the_good_one_is_indexed(site: Site, tmp_path: Path) -> None:
    good = add_articles(site, 2)
    site.pages["/list.html"] = "<html><body><ul><li><a href='/news/0.html'>خبر</a></li></ul></body></html>"
    site.pages["/empty.html"] = "<html><body></body></html>"
    site.pages["/good.xml"] = rss([*good, ("/list.html", "قائمة", "2018-03-10T00:00:00+00:00")], site.base)
    bad = {
        "/missing.xml": "HTTP 404",
        "/error.xml": "HTTP 500",
        "/slow.xml": "slower than",
        "/huge.xml": "larger than",
        "/bomb.xml": "larger than",
        "/binary.xml": "binary",
        "/malformed.xml": "malformed",
        "/plain.xml": "not a feed",
        "/loop.xml": "redirects",
        "/ftp.xml": "not an http(s) URL",
        "/page.html": "names no feed",
        "/svg.xml": "not a feed or sitemap",
    }
    site.pages.update(
        {
            "/error.xml": status(500),
            "/slow.xml": slow(5),
            "/huge.xml": huge(3),
            "/bomb.xml": gzip_bomb(64),
            "/binary.xml": bytes(range(256)) * 40,
            "/malformed.xml": '<?xml version="1.0"?><urlset><url><loc>x</loc></urlset>',
            "/plain.xml": "just some words, no markup at all",
            "/loop.xml": redirect("/loop.xml"),
            "/ftp.xml": redirect("ftp://127.0.0.1/feed.xml"),
            "/page.html": "<html><body><p>no feeds here</p></body></html>",
            "/svg.xml": '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>',
        }
    )
    kb = FakeKB(tmp_path)
    urls = [site.base + path for path in bad] + [site.base + "/good.xml"]
    f = follower(kb, urls, timeout_s=1.0, max_bytes=2**20)
    report = f.poll()
    assert len(report.added) == 2
    reasons = {p.origin.removeprefix(site.base): p.reason for p in report.problems}
    for path, expected in bad.items():
        assert expected in reasons.get(path, ""), (path, reasons.get(path))
    assert "not an article" in reasons["/list.html"] or "no article text" in reasons["/list.html"]
    assert set(reasons) == {*bad, "/list.html"}
    problems = {s["url"].removeprefix(site.base): s["problem"] for s in f.store.sources()}
    assert problems["/good.xml"] == "" and "HTTP 404" in problems["/missing.xml"]
    f.close()


def test_a_kill_after_a_commit_loses_nothing_and_duplicates_nothing(site: Site, tmp_path: Path) -> None:
    items = add_articles(site, 8)
    site.pages["/feed.xml"] = rss(items, site.base)
    kb = FakeKB(tmp_path, fail_after=1)  # the second batch is committed, then the process "dies"
    f = follower(kb, [site.base + "/feed.xml"])
    with pytest.raises(KeyboardInterrupt):
        f.poll()
    f.close()
    committed = set(kb.articles)
    assert 3 < len(committed) < 8
    kb.fail_after = None
    restarted = follower(kb, [site.base + "/feed.xml"])
    report = restarted.poll()  # the feed answers 304: the pending pages come from follow.sqlite
    assert site.conditional["/feed.xml"] == 1
    assert len(kb.articles) == 8 and set(report.added) == set(kb.articles) - committed
    assert all(site.requests[path] <= 2 for path, _, _ in items)
    assert site.requests["/news/0.html"] == 1  # indexed and marked before the kill: not fetched again
    assert restarted.store.counts() == {"indexed": 8}
    restarted.close()


def test_a_failed_page_is_retried_on_the_next_poll(site: Site, tmp_path: Path) -> None:
    items = add_articles(site, 1)
    page = site.pages["/news/0.html"]
    site.pages["/news/0.html"] = status(500)
    site.pages["/feed.xml"] = rss(items, site.base)
    kb = FakeKB(tmp_path)
    f = follower(kb, [site.base + "/feed.xml"])
    assert "HTTP 500" in f.poll().problems[0].reason
    site.pages["/news/0.html"] = page
    assert len(f.poll().added) == 1
    f.close()


def test_fetcher_decodes_gzip_and_caps_what_it_reads(site: Site) -> None:
    body = rss(add_articles(site, 1), site.base).encode()
    site.pages["/gz.xml"] = lambda h: h.reply(200, gzip.compress(body), {"Content-Encoding": "gzip"})
    with Fetcher(host_delay_s=0, max_bytes=len(body)) as fetcher:
        assert fetcher.get(site.base + "/gz.xml").body == body
    with Fetcher(host_delay_s=0, max_bytes=len(body) - 1) as fetcher, pytest.raises(FetchError, match="larger"):
        fetcher.get(site.base + "/gz.xml")
    with Fetcher() as fetcher, pytest.raises(FetchError, match="http"):
        fetcher.get("file:///etc/passwd")


def test_read_listing_rejects_what_is_not_a_listing() -> None:
    with pytest.raises(ListingError, match="malformed"):
        read_listing(b"<?xml version='1.0'?><rss><channel><item><title>t</item></rss", "http://a/")
    # what a lenient parser recovers from a broken feed is kept
    assert read_listing(b"<?xml version='1.0'?><rss><channel><item><link>http://a/1</link>", "http://a/").entries
    with pytest.raises(ListingError, match="not a feed"):
        read_listing(b"\x00\x01\x02" * 100, "http://a/")
    assert read_listing(rss([("/1", "t", "2018-03-10T00:00:00+00:00")], "http://a").encode(), "http://a/").entries


def test_follow_info_reports_sources_and_pages(site: Site, tmp_path: Path) -> None:
    site.pages["/feed.xml"] = rss(add_articles(site, 2), site.base)
    f = follower(FakeKB(tmp_path), [site.base + "/feed.xml"])
    f.poll()
    f.close()
    info = follow_info(tmp_path)
    assert info is not None and info["pages"] == {"indexed": 2} and info["sources"] == 1 and not info["problems"]
    assert follow_info(tmp_path / "nothing") is None
    store = SeenStore(tmp_path / "follow.sqlite")
    assert [row["title"] for row in store.latest(1)] == ["خبر رقم 1 عن الاتفاقية"]
    store.close()


@pytest.mark.slow
def test_followed_article_is_answerable_and_an_edit_replaces_it(site: Site, index_copy: Path) -> None:
    import askbot
    from askbot.fetching import Fetcher

    path = "/news/jordan.html"
    site.pages[path] = article_html("اتفاقية بين العراق والأردن", BODY, "2018-03-10T08:00:00+00:00")
    site.pages["/feed.xml"] = rss([(path, "اتفاقية بين العراق والأردن", "2018-03-10T08:00:00+00:00")], site.base)
    kb = askbot.open(index_copy)
    before = kb.info().articles
    report = kb.follow([site.base + "/feed.xml"], fetcher=Fetcher(host_delay_s=0))
    assert len(report.added) == 1
    answer = kb.ask("ما الاتفاقية التي وقعها العراق مع الأردن؟")
    assert answer.excerpts[0].citation.url == site.base + path
    edited = BODY.replace("للطاقة", "للطاقة الشمسية")
    site.pages[path] = article_html("اتفاقية بين العراق والأردن", edited, "2018-03-10T08:00:00+00:00")
    site.pages["/feed.xml"] = rss([(path, "اتفاقية بين العراق والأردن", "2018-03-10T09:00:00+00:00")], site.base)
    report = kb.follow([site.base + "/feed.xml"], fetcher=Fetcher(host_delay_s=0))
    assert report.updated == [article_id(site.base + path)]
    assert kb.info().articles == before + 1
    followed = follow_info(kb.index_dir)
    assert followed is not None and followed["last_checked"]
    assert followed | {"last_checked": ""} == {
        "sources": 1,
        "pages": {"indexed": 1},
        "last_checked": "",
        "problems": [],
    }
    assert "الشمسية" in kb.ask("ما الاتفاقية التي وقعها العراق مع الأردن؟").excerpts[0].text


def test_article_ids_are_stable_per_url() -> None:
    assert article_id("http://a/x#top") == article_id("http://a/x") != article_id("http://a/y")
    assert replace(Article("i", "t", "x"), id=article_id("http://a/x")).id.startswith("u")


def test_robots_txt_missing_allows_and_failing_refuses(site: Site, tmp_path: Path) -> None:
    site.pages["/feed.xml"] = rss(add_articles(site, 1), site.base)
    del site.pages["/robots.txt"]  # 404: everything allowed (RFC 9309)
    f = follower(FakeKB(tmp_path / "a"), [site.base + "/feed.xml"])
    assert len(f.poll().added) == 1
    f.close()
    site.pages["/robots.txt"] = status(503)  # unreachable: nothing fetched for now
    f = follower(FakeKB(tmp_path / "b"), [site.base + "/feed.xml"])
    reason = f.poll().problems[0].reason
    f.close()
    # said as what it is: the file could not be read (why), not that the site's robots.txt forbids the page
    assert "robots.txt of 127.0.0.1" in reason and "could not be read (HTTP 503" in reason, reason
    assert "disallows" not in reason


def test_a_long_list_of_problems_says_it_is_cut(capsys: pytest.CaptureFixture[str]) -> None:
    from askbot.follow import FollowReport
    from askbot.follow_cli import print_report
    from askbot.types import IngestProblem

    print_report(FollowReport(problems=[IngestProblem(f"http://a/{i}", "HTTP 404 Not Found") for i in range(60)]))
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 52 and lines[50] == "... and 10 more problems" and "problems 60" in lines[51]


def test_follow_command_prints_each_problem_once(site: Site, tmp_path: Path) -> None:
    import os
    import subprocess

    site.pages["/robots.txt"] = status(503)
    feed = site.base + "/feed.xml"
    command = [sys.executable, "-m", "askbot.cli", "follow", feed, "--once", "--delay", "0"]
    env = {**os.environ, "NO_PROXY": "127.0.0.1"}  # a process of its own: Python's logging as a user has it
    proc = subprocess.run([*command, "--index", str(tmp_path / "v")], env=env, capture_output=True, text=True)
    assert proc.returncode == 4, proc.stderr
    err = proc.stderr
    assert err.count("could not be read (HTTP 503") == 1, err
    assert f"problem {feed}: robots.txt of 127.0.0.1" in err and "problems 1" in err


def test_follow_command_parses_durations_and_refuses_bad_urls_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    from askbot.cli import build_parser, main
    from askbot.follow_cli import parse_duration

    args = build_parser().parse_args(["follow", "http://127.0.0.1:9/feed.xml", "--every", "5m", "--once"])
    assert (args.urls, args.every, args.once) == (["http://127.0.0.1:9/feed.xml"], 300.0, True)
    assert [parse_duration(t) for t in ("90", "90s", "1.5h", "1d")] == [90.0, 90.0, 5400.0, 86400.0]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["follow", "http://a/", "--every", "soon"])
    assert main(["follow", "file:///etc/passwd", "--once"]) == 4
    assert "not an http(s) URL" in capsys.readouterr().err
