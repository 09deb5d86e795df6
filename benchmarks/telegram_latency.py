"""Telegram reply latency: update delivered (getUpdates returns it) -> first sendMessage received, fake Bot API.

    python benchmarks/telegram_latency.py [--index vectors] [--seeds seeds] [--questions 200] [--chats 20]

Runs the real bot (python-telegram-bot, AIORateLimiter, the real knowledge base) against the fake Bot API of
tests/telegram/fakeapi.py on 127.0.0.1, in one event loop. Two runs:

1. sequential: one chat asks the questions one after another; p50/p95/max of the reply latency (goal p95 <= 300 ms);
2. concurrent: ``--chats`` private chats converse at once (each asks its next question when answered); every
   question must get exactly one reply (none lost), latency reported the same way.

Questions are the titles of the seed articles. The per-user question limit is off (one user asks 200 questions);
Telegram's flood limits (AIORateLimiter: 30 messages/s overall) stay on, as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests" / "telegram")]

from fakeapi import FakeBotApi, Sent, private_chat, user  # noqa: E402

import askbot  # noqa: E402
from askbot.telegram.bot import BotOptions, build_application, polling  # noqa: E402

TOKEN = "123456789:BENCHMARK-token-not-real_0123456789"
REPLY_TIMEOUT_S = 30.0


def seed_questions(seeds: Path, count: int) -> list[str]:
    """Article titles from the seeds' JSONL files, as questions."""
    titles = []
    for path in sorted(seeds.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                titles.append(json.loads(line)["title"].strip() + "؟")
    if not titles:
        raise SystemExit(f"no *.jsonl articles with titles in {seeds}/")
    return [titles[i % len(titles)] for i in range(count)]


def open_index(index: Path, seeds: Path) -> Any:
    """The index, built from the seeds when empty (waiting for another process that is building it)."""
    from askbot.store.lock import IndexBusy

    kb = askbot.open(index)
    while kb.is_empty:
        try:
            print(f"building {index}/ from {seeds}/ (once)", file=sys.stderr)
            print(kb.add([str(seeds)]).summary(), file=sys.stderr)
        except IndexBusy as busy:
            print(f"{busy}; waiting", file=sys.stderr)
            time.sleep(10)
    kb.ask("تحميل النموذج", 1)
    return kb


def reply_complete(sent: list[Sent]) -> bool:
    """An answer ends with the message carrying its buttons; anything else (not found) is one message."""
    return bool(sent) and (sent[-1].reply_markup is not None or not sent[0].text[:1].isdigit())


async def converse(fake: FakeBotApi, chat_id: int, questions: list[str]) -> list[float]:
    """Ask one question at a time in one private chat; latencies in ms. Raises if a reply never comes."""
    chat, sender = private_chat(chat_id), user(chat_id)
    latencies = []
    for question in questions:
        before = len(fake.to_chat(chat_id))
        update_id = fake.say(chat, sender, question)
        reply = await fake.wait_for(
            lambda before=before: (s := fake.to_chat(chat_id)[before:]) and reply_complete(s) and s,
            REPLY_TIMEOUT_S,
        )
        latencies.append((reply[0].at - fake.delivered_at[update_id]) * 1e3)
    return latencies


def describe(name: str, latencies: list[float], seconds: float) -> str:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return (
        f"{name:<26} n={len(latencies):<4} p50={cuts[49]:6.1f} ms  p95={cuts[94]:6.1f} ms  "
        f"max={max(latencies):6.1f} ms  ({len(latencies) / seconds:.1f} questions/s)"
    )


async def run(args: argparse.Namespace) -> int:
    kb = open_index(args.index, args.seeds)
    info = kb.info()
    questions = seed_questions(args.seeds, args.questions)
    fake = await FakeBotApi(TOKEN).start()
    app = build_application(kb, TOKEN, base_url=fake.base_url, options=BotOptions(user_rate=(0, 0)))
    try:
        async with polling(app, timeout=5):
            await converse(fake, 1, questions[:3])  # warm the HTTP connections
            started = time.perf_counter()
            sequential = await converse(fake, 10, questions)
            sequential_s = time.perf_counter() - started

            per_chat = [questions[i :: args.chats] for i in range(args.chats)]
            started = time.perf_counter()
            results = await asyncio.gather(
                *(converse(fake, 1000 + i, qs) for i, qs in enumerate(per_chat)), return_exceptions=True
            )
            concurrent_s = time.perf_counter() - started
    finally:
        await fake.stop()
    lost = sum(len(qs) for qs, r in zip(per_chat, results, strict=True) if isinstance(r, BaseException))
    concurrent = [ms for r in results if not isinstance(r, BaseException) for ms in r]
    answered = sum(1 for s in fake.sent if s.chat_id >= 1000 and (s.reply_markup or not s.text[:1].isdigit()))
    errors = [c for c in fake.calls if c.error]

    print(
        f"index: {args.index} ({info.get('articles')} articles, {info.get('passages')} passages, {info.get('model')})"
    )
    print(describe("sequential, 1 chat", sequential, sequential_s))
    print(describe(f"concurrent, {args.chats} chats", concurrent, concurrent_s) if concurrent else "no replies")
    print(
        f"concurrent replies: {answered} of {len(questions)} questions answered, {lost} lost, {len(errors)} API errors"
    )
    p95 = statistics.quantiles(sequential, n=100, method="inclusive")[94]
    goal_met = p95 <= args.goal_ms and lost == 0 and answered == len(questions)
    print(f"goal (sequential p95 <= {args.goal_ms:.0f} ms, no reply lost): {'met' if goal_met else 'NOT met'}")
    return 0 if goal_met else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=ROOT / "vectors", help="index folder (built from seeds if empty)")
    parser.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--goal-ms", type=float, default=300.0)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
