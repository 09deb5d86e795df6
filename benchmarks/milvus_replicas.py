"""Many replicas on one Milvus store: ``askbot telegram`` replicas and one ``askbot follow`` at once, one run.

    python benchmarks/milvus_replicas.py [--store milvus://HOST:PORT] [--replicas 2] [--chats 20] [--questions 200]
                                         [--articles 500] [--batch 25] [--data ../shared/data] [--news FILE]

Without --store it starts the standalone Milvus server of the tests (``.ci/milvus-server.sh``, milvus==2.3.5) on
127.0.0.1 and stops it after. Milvus Lite cannot take part: one process opens a .db file at a time.

1. ``askbot index --store S seeds/``: the store starts with the seed articles;
2. ``--replicas`` ``askbot telegram --store S`` processes, each long-polling its own fake Bot API on 127.0.0.1
   (tests/telegram/fakeapi.py: Telegram gives one bot's updates to one poller, so replicas share the chats as a
   webhook load balancer would: chat i goes to replica i mod N);
3. once they are ready, ``askbot follow --store S --once --batch B`` indexes ``--articles`` new articles (ANT
   articles from DIR/news/ant-v2.1.jsonl.gz under --data, or --news, cut to --max-chars, served by
   tests/followserver.py on 127.0.0.1), a commit every B articles, while ``--chats`` private chats ask
   ``--questions`` questions in all (seed titles, and the new articles' opening words), each chat one question
   after another, one every ``--gap`` seconds.

Counted: errors (a question without a complete reply within the timeout, the bot's error reply, a Bot API call
the fake refused, a "handler failed" in a replica's log, a process that exited badly), lost articles (expected,
not in the store), duplicated articles (more than one visible version of an article, or of a passage), and the
store's own check (``verify``). Goal: 0 / 0 / 0. Prints one JSON object; exit 0 when the goal is met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "tests" / "telegram"), str(ROOT / "benchmarks")]

import shared_data  # noqa: E402
from fakeapi import FakeBotApi, private_chat, user  # noqa: E402
from followserver import Site, article_html, rss  # noqa: E402
from telegram_latency import reply_complete, seed_questions  # noqa: E402

from askbot.follow import article_id  # noqa: E402
from askbot.telegram.texts import ERROR  # noqa: E402

TOKEN = "123456789:REPLICAS-token-not-real_0123456789"
ASKBOT = [sys.executable, "-c", "import sys; from askbot.cli import main; sys.exit(main())"]


def news_articles(path: Path, n: int, max_chars: int) -> list[dict[str, str]]:
    """The first ``n`` articles of a JSONL(.gz) news file with a title, cut to about ``max_chars`` at a line."""
    out = []
    with shared_data.open_text(path) as fh:
        for line in fh:
            row = json.loads(line)
            title, text = (row.get("title") or "").strip(), (row.get("text") or "").strip()
            if not title or len(text) < 300:
                continue
            cut = text[:max_chars]
            cut = cut[: cut.rfind("\n")] if "\n" in cut[200:] else cut
            out.append({"title": title, "text": cut, "published": (row.get("published") or "2020-01-01")[:19]})
            if len(out) == n:
                break
    if len(out) < n:
        raise SystemExit(f"{path}: only {len(out)} articles with a title and 300+ characters, {n} wanted")
    return out


def opening(text: str, words: int = 12) -> str:
    """A question only one article answers well: the first words of its text."""
    return " ".join(text.split()[:words]) + "؟"


def serve(articles: list[dict[str, str]]) -> tuple[Site, list[str]]:
    """The articles as pages of a local site, with one RSS feed listing them all; returns the site and page URLs."""
    site = Site().start()
    items = []
    for i, a in enumerate(articles):
        path = f"/news/{i}.html"
        published = a["published"] if "T" in a["published"] else a["published"][:10] + "T08:00:00"
        site.pages[path] = article_html(a["title"], a["text"], published + "+00:00")
        items.append((path, a["title"], published + "+00:00"))
    site.pages["/feed.xml"] = rss(items, site.base)
    return site, [site.base + path for path, _, _ in items]


def askbot(args: list[str], log: Path, **env: str) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    return subprocess.Popen(
        [*ASKBOT, *args],
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **env},
    )


def stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return int(proc.returncode)


async def converse(
    fake: FakeBotApi, chat_id: int, questions: list[str], timeout_s: float, new_site: str, gap_s: float = 0.0
) -> dict[str, Any]:
    """One chat asking its questions one after another: replies, the error replies, the unanswered, and the
    replies citing an article added during the run (``new_site``'s pages)."""
    chat, sender = private_chat(chat_id), user(chat_id)
    outcome: dict[str, Any] = {"asked": 0, "replied": 0, "error_replies": 0, "no_reply": 0, "latency_s": []}
    outcome["cited_new"], outcome["asked_at"] = 0, []
    started = time.monotonic()
    for n, question in enumerate(questions):
        if n:  # one question every gap_s in each chat, so that they span the indexer's run
            await asyncio.sleep(max(0.0, gap_s - (time.monotonic() - started)))
        before = len(fake.to_chat(chat_id))
        started = time.monotonic()
        fake.say(chat, sender, question)
        outcome["asked"] += 1
        outcome["asked_at"].append(started)
        try:
            reply = await fake.wait_for(
                lambda before=before: (s := fake.to_chat(chat_id)[before:]) and reply_complete(s) and s, timeout_s
            )
        except TimeoutError:
            outcome["no_reply"] += 1
            continue
        outcome["replied"] += 1
        outcome["latency_s"].append(time.monotonic() - started)
        outcome["error_replies"] += sum(ERROR in s.text for s in reply)
        outcome["cited_new"] += any(new_site in s.html for s in reply)
    outcome["done"] = time.monotonic()
    return outcome


def store_counts(location: str, expected: set[str]) -> dict[str, Any]:
    """Lost and duplicated articles in the committed store, and its own check."""
    from askbot.store import milvus

    reader = milvus.open_reader(location)
    if reader is None:
        return {"lost": len(expected), "duplicated": 0, "duplicated_passages": 0, "problems": ["nothing committed"]}
    try:
        versions = Counter(r["article_id"] for r in reader._query("articles", "part == 0", ["article_id"]))
        passages = Counter(
            (r["article_id"], r["ordinal"]) for r in reader._query("passages", "pid >= 0", ["article_id", "ordinal"])
        )
        return {
            "articles": len(versions),
            "passages": sum(passages.values()),
            "lost": len(expected - set(versions)),
            "duplicated": sum(1 for c in versions.values() if c > 1),
            "duplicated_passages": sum(1 for c in passages.values() if c > 1),
            "unexpected": len(set(versions) - expected),
            "problems": reader.verify(),
        }
    finally:
        reader.close()


def committed_ids(location: str) -> set[str]:
    from askbot.store import milvus

    reader = milvus.open_reader(location)
    if reader is None:
        return set()
    try:
        return set(reader.content_hashes())
    finally:
        reader.close()


async def run_replicas(
    location: str,
    work: Path,
    *,
    news: Path,
    seeds: Path = ROOT / "seeds",
    replicas: int = 2,
    chats: int = 20,
    questions: int = 200,
    articles: int = 500,
    batch: int = 25,
    max_chars: int = 700,
    gap_s: float = 12.0,
    reply_timeout_s: float = 180.0,
    ready_timeout_s: float = 600.0,
) -> dict[str, Any]:
    """The run described in the module docstring, on the store at ``location`` (a Milvus server)."""
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    built = subprocess.run(
        [*ASKBOT, "--store", location, "index", str(seeds)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        check=False,
    )
    if built.returncode != 0:
        raise RuntimeError(f"askbot index of {seeds} failed: {built.stderr[-2000:]}")
    seeded_s = time.monotonic() - started
    seeded = committed_ids(location)

    new = news_articles(news, articles, max_chars)
    site, urls = serve(new)
    asked = seed_questions(seeds, questions)
    spread = max(1, len(new) // max(1, questions // 2))  # the new articles asked about, across the whole feed
    asked = [q if i % 2 == 0 else opening(new[(i // 2 * spread) % len(new)]["text"]) for i, q in enumerate(asked)]
    fakes = [await FakeBotApi(TOKEN).start() for _ in range(replicas)]
    bots = [
        askbot(
            ["telegram", "--store", location, "--base-url", fake.base_url, "--user-rate", "0"],
            work / f"replica{n}.log",
            TELEGRAM_BOT_TOKEN=TOKEN,
        )
        for n, fake in enumerate(fakes)
    ]
    follower: subprocess.Popen[bytes] | None = None
    result: dict[str, Any] = {
        "replicas": replicas,
        "chats": chats,
        "seeded": len(seeded),
        "seeded_s": round(seeded_s, 1),
    }
    try:
        deadline = time.monotonic() + ready_timeout_s
        while not all(fake.called("getUpdates") for fake in fakes):
            if any(b.poll() is not None for b in bots) or time.monotonic() > deadline:
                raise RuntimeError("a replica did not start: " + (work / "replica0.log").read_text()[-2000:])
            await asyncio.sleep(0.5)
        result["replicas_ready_s"] = round(time.monotonic() - started - seeded_s, 1)
        follow_args = ["--store", location, "follow", site.base + "/feed.xml", "--once", "--delay", "0"]
        follow_args += ["--batch", str(batch), "--index", str(work / "follow-state")]
        follow_started = time.monotonic()
        follower = askbot(follow_args, work / "follow.log")
        per_chat = [asked[i::chats] for i in range(chats)]
        talks = [
            asyncio.ensure_future(converse(fakes[i % replicas], 5000 + i, qs, reply_timeout_s, site.base, gap_s))
            for i, qs in enumerate(per_chat)
        ]
        while follower.poll() is None:
            await asyncio.sleep(0.5)
        follow_s = time.monotonic() - follow_started
        unfinished = sum(not t.done() for t in talks)  # chats still asking when the last article was committed
        outcomes = await asyncio.gather(*talks)
        questions_s = time.monotonic() - follow_started
    finally:
        for proc in [*bots, follower]:  # stopped while the fake Bot APIs still answer (this loop must not block)
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 30
        while any(p.poll() is None for p in bots) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        codes = [stop(b) for b in bots]
        if follower is not None:
            stop(follower)
        for fake in fakes:
            await fake.stop()
        site.stop()
    logs = [(work / f"replica{n}.log").read_text(errors="replace") for n in range(replicas)]
    latencies = sorted(s for o in outcomes for s in o["latency_s"])
    expected = seeded | {article_id(u) for u in urls}
    counts = store_counts(location, expected)
    errors = {
        "no_reply": sum(o["no_reply"] for o in outcomes),
        "error_replies": sum(o["error_replies"] for o in outcomes),
        "api_errors": sum(1 for fake in fakes for c in fake.calls if c.error),
        "handler_failed": sum(log.count("handler failed") for log in logs),
        "follow_exit": follower.returncode if follower is not None else None,
        "replica_exits": codes,
    }
    error_count = sum(errors[k] for k in ("no_reply", "error_replies", "api_errors", "handler_failed"))
    error_count += int(errors["follow_exit"] != 0) + sum(c not in (0, -signal.SIGINT, 130) for c in codes)
    result |= {
        "articles_added": len(urls),
        "follow_s": round(follow_s, 1),
        "questions": sum(o["asked"] for o in outcomes),
        "replied": sum(o["replied"] for o in outcomes),
        "questions_s": round(questions_s, 1),
        "chats_still_asking_when_follow_ended": unfinished,
        "questions_asked_while_follow_ran": sum(t < follow_started + follow_s for o in outcomes for t in o["asked_at"]),
        "last_reply_s": round(max(o["done"] for o in outcomes) - follow_started, 1),
        "replies_citing_articles_added_meanwhile": sum(o["cited_new"] for o in outcomes),
        "reply_p50_s": round(latencies[len(latencies) // 2], 2) if latencies else None,
        "reply_p95_s": round(latencies[int(len(latencies) * 0.95)], 2) if latencies else None,
        "errors": error_count,
        "error_detail": errors,
        "lost": counts["lost"],
        "duplicated": counts["duplicated"] + counts["duplicated_passages"],
        "store": counts | {"location": location},
    }
    result["goal_met"] = (
        result["errors"] == 0 and result["lost"] == 0 and result["duplicated"] == 0 and not counts["problems"]
    )
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", default=None, help="a Milvus server (default: start the tests' standalone 2.3.5)")
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--chats", type=int, default=20)
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--articles", type=int, default=500)
    ap.add_argument("--batch", type=int, default=25, help="articles per follow commit")
    ap.add_argument("--gap", type=float, default=12.0, help="seconds between a chat's questions (default 12)")
    ap.add_argument("--max-chars", type=int, default=700, help="each new article cut to about this many characters")
    shared_data.add_options(ap, news=shared_data.NEWS)
    ap.add_argument("--seeds", type=Path, default=ROOT / "seeds", help="what the store holds first (and asked about)")
    ap.add_argument("--work", type=Path, default=None)
    args = shared_data.resolve(ap.parse_args(argv))
    shared_data.need(args.news, "--news")
    if args.store and not args.store.startswith("milvus://"):
        raise SystemExit(
            "--store must be a Milvus server (milvus://HOST:PORT): Milvus Lite opens a file in one process"
        )
    wall, cpu = time.monotonic(), os.times()
    with contextlib.ExitStack() as stack:
        work = args.work or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="askbot-replicas-")))
        location = args.store
        if location is None:
            from milvus_standalone import Standalone, launcher

            program = launcher()
            if program is None:
                raise SystemExit("no standalone Milvus server: run .ci/milvus-server.sh (or pass --store)")
            server = Standalone(work / "server", program)
            server.start(timeout_s=420)
            stack.callback(server.wipe)
            location = f"{server.uri}?prefix=replicas"
        result = asyncio.run(
            run_replicas(
                location,
                work,
                news=args.news,
                seeds=args.seeds,
                replicas=args.replicas,
                chats=args.chats,
                questions=args.questions,
                articles=args.articles,
                batch=args.batch,
                max_chars=args.max_chars,
                gap_s=args.gap,
            )
        )
    end = os.times()  # after the server stopped: its CPU is among the waited children's
    result["wall_s"] = round(time.monotonic() - wall, 1)
    result["cpu_s"] = {
        "this_process": round(end.user + end.system - cpu.user - cpu.system, 1),
        "askbot_processes_and_server": round(
            end.children_user + end.children_system - cpu.children_user - cpu.children_system, 1
        ),
    }
    result["load_average_1_5_15"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0 if result["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
