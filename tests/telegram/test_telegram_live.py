"""The bot serves followed news live: an article that appears in a followed feed is answered in the chat with no
restart (real PTB Application, fake Bot API, the follower thread of `askbot telegram --follow`, a local site)."""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from pathlib import Path

import pytest
from fakeapi import TOKEN, FakeBotApi, private_chat, user

sys.path.insert(0, str(Path(__file__).parents[1]))  # followserver
from followserver import Site, article_html, rss  # noqa: E402

import askbot  # noqa: E402
from askbot.config import Settings  # noqa: E402
from askbot.telegram.bot import build_application, polling  # noqa: E402
from askbot.telegram.cli import start_following  # noqa: E402

pytestmark = pytest.mark.anyio
EVERY_S = 1.0
NEWS = (
    "أعلنت هيئة الطيران المدني في سلطنة عمان افتتاح مطار الدقم الجديد أمام الرحلات الدولية.\n"
    "وقال رئيس الهيئة إن المطار سيستقبل أولى رحلاته القادمة من مسقط والدوحة الأسبوع المقبل."
)


async def test_a_new_article_in_a_followed_feed_is_answered_without_restart(
    fake: FakeBotApi, telegram_index: Path, telegram_kb: object, tmp_path: Path
) -> None:
    index = tmp_path / "vectors"
    shutil.copytree(telegram_index, index, ignore=shutil.ignore_patterns(".writer.lock"))
    site = Site().start()
    site.pages["/feed.xml"] = rss([], site.base)
    settings = Settings.from_env(index=index)
    stop = start_following(settings, [site.base + "/feed.xml"], f"{EVERY_S:g}s")
    kb = askbot.open(settings=settings)
    kb._encoder = telegram_kb.encoder  # type: ignore[attr-defined]  # the session's loaded model
    app = build_application(kb, TOKEN, base_url=fake.base_url)
    try:
        async with polling(app, timeout=5):
            chat, alice = private_chat(4001), user(4001)
            site.pages["/news/duqm.html"] = article_html("افتتاح مطار الدقم", NEWS, "2018-03-10T08:00:00+00:00")
            site.pages["/feed.xml"] = rss(
                [("/news/duqm.html", "افتتاح مطار الدقم", "2018-03-10T08:00:00+00:00")], site.base
            )
            published = time.monotonic()
            answered = None
            while time.monotonic() - published < EVERY_S + 60:  # the model loads in the follower first
                before = len(fake.to_chat(chat["id"]))
                fake.say(chat, alice, "ما المطار الذي افتتحته سلطنة عمان؟")
                for _ in range(200):
                    if len(fake.to_chat(chat["id"])) > before:
                        break
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.5)
                texts = [m.html for m in fake.to_chat(chat["id"])[before:]]
                if any("/news/duqm.html" in t for t in texts):
                    answered = time.monotonic() - published
                    break
                await asyncio.sleep(1.0)
            assert answered is not None, "the followed article never reached the chat"
            assert "مطار الدقم" in " ".join(texts)
    finally:
        stop.set()
        site.stop()
