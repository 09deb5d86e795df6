"""`askbot follow URL...`: poll feeds, sitemaps and home pages, and index their new or changed articles."""

from __future__ import annotations

import argparse
import re
import sys
import threading
from typing import TYPE_CHECKING, Any

from askbot.config import FOLLOW_EVERY_S, Settings
from askbot.progress import bounded

if TYPE_CHECKING:  # askbot.follow brings httpx (~0.3 s): loaded when askbot follow runs, not by every command
    from askbot.follow import FollowReport

EXIT_OK, EXIT_SOURCES = 0, 4
_DURATION = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>s|m|h|d)?", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """ "10m" -> 600.0; "90" and "90s" -> 90.0; "1h", "1d". ValueError saying what is wanted."""
    found = _DURATION.fullmatch(text.strip())
    if not found or float(found["n"]) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: write e.g. 90s, 10m, 1h")
    return float(found["n"]) * _SECONDS[(found["unit"] or "s").lower()]


def add_follow_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``follow`` subcommand to askbot's CLI (sets ``func=run``); ``parents`` bring --index/--model/--store."""
    p = subparsers.add_parser(
        "follow",
        parents=parents,
        help="follow RSS/Atom feeds, sitemaps and sites: index new and edited articles as they appear",
        description="Poll each URL (a feed, a sitemap or sitemap index, or a home page whose feeds are found) "
        "and index its new or changed article pages. What was seen is kept in INDEX/follow.sqlite (with "
        "--store too: in the --index folder, default vectors/), so a restart fetches only what is new.",
    )
    p.add_argument("urls", nargs="+", metavar="URL", help="an RSS/Atom feed, a sitemap (.xml, .xml.gz) or a site")
    p.add_argument("--every", type=parse_duration, default=FOLLOW_EVERY_S, help="poll interval (default 10m)")
    p.add_argument("--once", action="store_true", help="poll once and exit")
    p.add_argument(
        "--delay", type=bounded(0.0, kind=float), default=None, help="seconds between requests to one host (default 1)"
    )
    p.add_argument("--batch", type=bounded(1), default=None, help="articles per index commit (default 64)")
    p.set_defaults(func=run)


def print_report(report: FollowReport) -> None:
    for problem in report.problems[:50]:
        print(f"problem {problem.origin}: {problem.reason}", file=sys.stderr, flush=True)
    if len(report.problems) > 50:  # the count is in the summary; say the list is cut, as askbot index does
        print(f"... and {len(report.problems) - 50} more problems", file=sys.stderr, flush=True)
    print(f"follow: {report.summary()}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from askbot.fetching import Fetcher, check_url
    from askbot.kb import KnowledgeBase

    for url in args.urls:
        check_url(url)  # ValueError-like FetchError before the model loads
    kb = KnowledgeBase(
        Settings.from_env(index=args.index, model=args.model, store=args.store),  # the top parser's, or the command's
        report_model_builds=True,
    )
    fetcher = Fetcher() if args.delay is None else Fetcher(host_delay_s=args.delay)
    stop = threading.Event()
    try:
        report = kb.follow(
            args.urls,
            every_s=args.every,
            once=args.once,
            stop=stop,
            on_poll=print_report,
            fetcher=fetcher,
            batch_articles=args.batch,
            on_problem=lambda _problem: None,  # each is printed once, with its poll's report (print_report)
        )
    except KeyboardInterrupt:
        stop.set()
        print("askbot: stopped; what was indexed stays, pending pages are fetched next time", file=sys.stderr)
        return 130
    return EXIT_OK if not report.problems or report.added or report.updated or report.unchanged else EXIT_SOURCES
