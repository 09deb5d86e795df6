"""askbot follow, measured against a news site served on 127.0.0.1 from the ANT corpus (feed + article pages).

    B="nice -n 10 python benchmarks/follow.py"; D="--data ../shared/data"  # or --news FILE (a .jsonl or .jsonl.gz)
    $B throughput $D --articles 500      # follow end to end vs raw kb.add of the same articles
    $B latency $D --every 30 --trials 5  # a new feed item -> answerable by a second KnowledgeBase (as the bot)
    $B idle $D --feeds 20 --every 60 --seconds 300   # an `askbot follow` process polling unchanged feeds
    $B restart $D --trials 20 --articles 30 --batch 5 # SIGKILL `askbot follow` mid-feed, restart, count

Each prints one block of figures; docs/benchmarks.md quotes them with the command. The articles come from
DIR/news/ant-v2.1.jsonl.gz under ``--data`` (default ../shared/data beside the clone), or ``--news FILE``; a
``--data`` naming a file is taken as that file, as before ``--news``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

import shared_data  # noqa: E402
from followserver import Site, article_html, rss  # noqa: E402

import askbot  # noqa: E402
from askbot.fetching import Fetcher  # noqa: E402
from askbot.follow import article_id  # noqa: E402
from askbot.types import Article  # noqa: E402


def load(path: Path, count: int, skip: int = 0) -> list[dict]:
    with shared_data.open_text(path) as f:
        rows = (json.loads(line) for line in f)
        usable = (r for r in rows if r.get("published") and len(r.get("text", "")) > 200)
        return list(itertools.islice(usable, skip, skip + count))


class NewsSite:
    """The site: /feed.xml listing every article page /a/N.html, newest first."""

    def __init__(self, rows: list[dict]) -> None:
        self.site = Site().start()
        self.site.pages["/robots.txt"] = "User-agent: *\nAllow: /\n"
        self.items: list[tuple[str, str, str]] = []
        for row in rows:
            self.publish(row)

    @property
    def feed(self) -> str:
        return self.site.base + "/feed.xml"

    def publish(self, row: dict, path: str = "/feed.xml") -> str:
        number = len(self.items)
        page = f"/a/{number}.html"
        self.site.pages[page] = article_html(row["title"], row["text"], row["published"], row.get("source", ""))
        self.items.append((page, row["title"], row["published"]))
        self.site.pages[path] = rss(self.items[::-1], self.site.base)  # newest first, every article
        return self.site.base + page

    def stop(self) -> None:
        self.site.stop()


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "askbot.cli", *args]


def env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(ROOT / "src"), "OMP_WAIT_POLICY": "passive", "NO_PROXY": "127.0.0.1"}


# ---- throughput -------------------------------------------------------------------------------
def throughput(args: argparse.Namespace) -> None:
    rows = load(args.news, args.articles)
    news = NewsSite(rows)
    with tempfile.TemporaryDirectory() as tmp:
        raw_kb = askbot.open(Path(tmp) / "raw")
        raw_kb.encoder.dim  # noqa: B018 - the model loads before timing
        articles = [
            Article(f"r{i}", r["title"], r["text"], r.get("source", ""), "", r["published"]) for i, r in enumerate(rows)
        ]
        cpu, started = time.process_time(), time.perf_counter()
        raw = raw_kb.add(articles)
        raw_s, raw_cpu = time.perf_counter() - started, time.process_time() - cpu
        follow_kb = askbot.open(Path(tmp) / "followed")
        follow_kb._encoder = raw_kb.encoder  # the same loaded model: the figure is the pipeline, not a model load
        cpu, started = time.process_time(), time.perf_counter()
        report = follow_kb.follow([news.feed], fetcher=Fetcher(host_delay_s=0.0))
        follow_s, follow_cpu = time.perf_counter() - started, time.process_time() - cpu
        passages = follow_kb.info().passages
    news.stop()
    raw_rate, follow_rate = len(raw.added) / raw_s * 60, len(report.added) / follow_s * 60
    print(f"articles served: {len(rows)} (one RSS feed listing all, one page each)")
    print(
        f"raw kb.add(Articles): {len(raw.added)} in {raw_s:.1f} s ({raw_cpu:.0f} CPU s) = {raw_rate:.1f} articles/min"
    )
    print(
        f"follow end to end:    {len(report.added)} in {follow_s:.1f} s ({follow_cpu:.0f} CPU s) = {follow_rate:.1f} "
        f"articles/min; {report.summary()}; {passages} passages"
    )
    print(f"ratio follow/raw: {follow_rate / raw_rate:.2f}")


# ---- latency ----------------------------------------------------------------------------------
def latency(args: argparse.Namespace) -> None:
    rows = load(args.news, args.trials + 20)
    news = NewsSite(rows[:20])
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "v"
        writer = askbot.open(index)
        writer.follow([news.feed], fetcher=Fetcher(host_delay_s=0.0))  # the site's first 20 articles
        bot = askbot.open(index)  # the bot's own KnowledgeBase: re-reads new generations on its own
        bot._encoder = writer.encoder
        stop = threading.Event()
        follower = threading.Thread(
            target=writer.follow,
            args=([news.feed],),
            kwargs={"every_s": args.every, "once": False, "stop": stop, "fetcher": Fetcher(host_delay_s=0.0)},
            daemon=True,
        )
        follower.start()
        figures = []
        for row in rows[20:]:
            time.sleep(random.uniform(0, args.every))  # published at a random moment of the polling cycle
            row = row | {"published": datetime.now(UTC).isoformat(timespec="seconds")}
            url = news.publish(row)
            published = time.monotonic()
            while time.monotonic() - published < args.every + 120:
                answer = bot.ask(row["title"], 3)
                if any(e.citation.url == url for e in answer.excerpts):
                    break
                time.sleep(0.5)
            figures.append(time.monotonic() - published)
            print(f"  published -> answerable: {figures[-1]:.1f} s", flush=True)
        stop.set()
        follower.join()
    news.stop()
    print(
        f"polling every {args.every:g} s, {len(figures)} articles: mean {sum(figures) / len(figures):.1f} s, "
        f"max {max(figures):.1f} s (goal <= {args.every + 10:g} s)"
    )


# ---- idle -------------------------------------------------------------------------------------
def _proc(pid: int) -> tuple[float, float]:
    """(CPU seconds, RSS MB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = (
        next(
            int(line.split()[1])
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("VmRSS")
        )
        / 1024
    )
    return cpu, rss


def idle(args: argparse.Namespace) -> None:
    rows = load(args.news, 3)
    news = NewsSite(rows)
    feeds = []
    for i in range(args.feeds):
        news.site.pages[f"/feed{i}.xml"] = news.site.pages["/feed.xml"]
        feeds.append(f"{news.site.base}/feed{i}.xml")
    with tempfile.TemporaryDirectory() as tmp:
        command = cli("follow", *feeds, "--every", f"{args.every:g}s", "--delay", "0", "--index", f"{tmp}/v")
        process = subprocess.Popen(command, env=env(), stderr=subprocess.PIPE, text=True)
        assert process.stderr is not None
        for line in process.stderr:  # the first poll indexes the 3 articles (the model is loaded then)
            if line.startswith("follow:"):
                print(f"  first poll: {line.strip()}")
                break
        threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()  # type: ignore[union-attr]
        cpu0, _ = _proc(process.pid)
        requests0 = sum(news.site.requests.values())
        started = time.monotonic()
        samples = []
        while time.monotonic() - started < args.seconds:
            time.sleep(5)
            samples.append(_proc(process.pid)[1])
        cpu1, rss = _proc(process.pid)
        wall = time.monotonic() - started
        requests = sum(news.site.requests.values()) - requests0
        conditional = sum(news.site.conditional.values())
        process.send_signal(signal.SIGINT)
        process.wait(30)
    news.stop()
    print(
        f"{args.feeds} feeds every {args.every:g} s for {wall:.0f} s: {requests} requests ({conditional} conditional, "
        f"answered 304), {cpu1 - cpu0:.2f} CPU s = {(cpu1 - cpu0) / wall:.2%} of one core; "
        f"RSS {rss:.0f} MB (max {max(samples):.0f} MB, model loaded)"
    )


# ---- restart ----------------------------------------------------------------------------------
def restart(args: argparse.Namespace) -> None:
    rows = load(args.news, args.articles)
    news = NewsSite(rows)
    expected = {article_id(news.site.base + path) for path, _, _ in news.items}
    lost_total = extra_total = 0
    killed_mid = 0
    for trial in range(args.trials):
        with tempfile.TemporaryDirectory() as tmp:
            index = f"{tmp}/v"
            base = ["follow", news.feed, "--once", "--delay", "0", "--batch", str(args.batch), "--index", index]
            first = subprocess.Popen(cli(*base), env=env(), stderr=subprocess.DEVNULL)
            delay = random.uniform(args.kill_after[0], args.kill_after[1])
            time.sleep(delay)
            state = "finished before the kill" if first.poll() is not None else "killed"
            first.send_signal(signal.SIGKILL)
            first.wait()
            kb = askbot.open(index)
            before = kb.info().articles if not kb.is_empty else 0
            if state == "killed" and 0 < before < len(expected):
                killed_mid += 1
            done = subprocess.run(cli(*base), env=env(), stderr=subprocess.PIPE, text=True, timeout=900)
            kb.refresh()
            reader = kb.reader
            ids = set(reader.articles(list(expected)).keys()) if reader is not None else set()
            count = kb.info().articles
            lost, extra = len(expected - ids), count - len(ids & expected)
            lost_total += lost
            extra_total += extra
            summary = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
            print(
                f"  trial {trial + 1}: kill at {delay:.1f} s ({state}, {before} indexed) -> restart: "
                f"{count} articles, lost {lost}, extra {extra}; {summary}",
                flush=True,
            )
    news.stop()
    print(
        f"{args.trials} trials ({killed_mid} killed mid-feed), {len(expected)} articles each: "
        f"lost {lost_total}, duplicates/extra {extra_total}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func in (("throughput", throughput), ("latency", latency), ("idle", idle), ("restart", restart)):
        p = sub.add_parser(name)
        shared_data.add_options(p, news=shared_data.NEWS)
        p.add_argument("--articles", type=int, default=500)
        p.add_argument("--feeds", type=int, default=20)
        p.add_argument("--every", type=float, default=60.0)
        p.add_argument("--seconds", type=float, default=300.0)
        p.add_argument("--trials", type=int, default=20)
        p.add_argument("--batch", type=int, default=5)
        p.add_argument("--kill-after", type=float, nargs=2, default=(8.0, 30.0), metavar=("MIN_S", "MAX_S"))
        p.set_defaults(func=func)
    args = parser.parse_args()
    if args.data.is_file():  # --data FILE, as this script took before --news: the news file itself
        args.news = args.data
    shared_data.need(shared_data.resolve(args).news, "--news")
    args.func(args)


if __name__ == "__main__":
    main()
