"""The bot under Bot API faults: every question answered exactly once while the API throws 429s and 5xx.

    python benchmarks/telegram_faults.py [--index vectors] [--questions 200] [--chats 20] [--every 10]

Runs the real bot against the fake Bot API (tests/telegram/fakeapi.py) on 127.0.0.1. The --chats chats ask
--questions questions between them, one at a time each; every --every-th question, the fake queues one fault
in turn: sendMessage 429 (retry_after 1 s), sendMessage 502, sendMessage 500, getUpdates 502. Counts questions
answered, replies lost (no complete reply within 30 s) and duplicated (more than one complete reply).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from telegram_latency import (  # noqa: E402  (shares the fake API, index set-up and reply detection)
    ROOT,
    TOKEN,
    FakeBotApi,
    open_index,
    private_chat,
    reply_complete,
    seed_questions,
    user,
)

from askbot.telegram.bot import BotOptions, build_application, polling  # noqa: E402

FAULTS = (("sendMessage", 429, 1), ("sendMessage", 502, None), ("sendMessage", 500, None), ("getUpdates", 502, None))


async def converse(fake: FakeBotApi, chat_id: int, questions: list[str], counter: list[int], every: int) -> int:
    """Ask one question at a time; returns how many got no complete reply."""
    chat, sender = private_chat(chat_id), user(chat_id)
    lost = 0
    for question in questions:
        counter[0] += 1
        if counter[0] % every == 0:
            method, code, retry_after = FAULTS[(counter[0] // every) % len(FAULTS)]
            fake.fail(method, code, retry_after=retry_after)
        before = len(fake.to_chat(chat_id))
        fake.say(chat, sender, question)
        try:
            await fake.wait_for(lambda b=before: (s := fake.to_chat(chat_id)[b:]) and reply_complete(s), 30.0)
        except TimeoutError:
            lost += 1
    return lost


def replies_per_question(fake: FakeBotApi, chat_ids: range) -> list[int]:
    """Complete replies per asked question, chat by chat (a reply ends with its buttons, or is one message)."""
    counts = []
    for chat_id in chat_ids:
        sent = fake.to_chat(chat_id)
        counts.append(sum(1 for s in sent if s.reply_markup is not None or not s.text[:1].isdigit()))
    return counts


async def run(args: argparse.Namespace) -> int:
    kb = open_index(args.index, args.seeds)
    questions = seed_questions(args.seeds, args.questions)
    fake = await FakeBotApi(TOKEN).start()
    app = build_application(kb, TOKEN, base_url=fake.base_url, options=BotOptions(user_rate=(0, 0)))
    per_chat = [questions[i :: args.chats] for i in range(args.chats)]
    counter = [0]
    started = time.perf_counter()
    try:
        async with polling(app, timeout=5):
            chats = (converse(fake, 1000 + i, qs, counter, args.every) for i, qs in enumerate(per_chat))
            lost = sum(await asyncio.gather(*chats))
            await asyncio.sleep(2)  # let any late duplicate arrive before counting
    finally:
        await fake.stop()
    seconds = time.perf_counter() - started
    counts = replies_per_question(fake, range(1000, 1000 + args.chats))
    asked = [len(qs) for qs in per_chat]
    duplicates = sum(max(0, c - a) for c, a in zip(counts, asked, strict=True))
    answered = sum(min(c, a) for c, a in zip(counts, asked, strict=True))
    injected = [c for c in fake.calls if c.error]
    print(f"{len(questions)} questions across {args.chats} chats in {seconds:.1f} s")
    print(f"faults injected: {len(injected)} ({', '.join(sorted({f'{c.method} {c.error}' for c in injected}))})")
    print(f"answered {answered} of {len(questions)}, lost {lost}, duplicate replies {duplicates}")
    return 0 if lost == 0 and duplicates == 0 and answered == len(questions) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=ROOT / "vectors")
    parser.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--every", type=int, default=10)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
