"""/latest: the newest indexed articles, newest first, with dates and links (real PTB Application, fake Bot API)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fakeapi import FakeBotApi, StartBot, private_chat, user

pytestmark = pytest.mark.anyio


async def test_latest_lists_the_newest_articles_first_with_links(fake: FakeBotApi, start_bot: StartBot) -> None:
    await start_bot()
    chat, alice = private_chat(3001), user(3001)
    fake.say(chat, alice, "/latest")
    for _ in range(200):
        if fake.to_chat(chat["id"]):
            break
        await asyncio.sleep(0.05)
    [reply] = fake.to_chat(chat["id"])
    text: Any = reply.text
    lines = text.splitlines()
    assert "أحدث المقالات" in lines[0]
    assert lines[1].startswith("• 2023-03-19 04:46") and "قطار تعزيز العلاقات" in lines[1]
    assert lines[2].startswith("• 2019-01-02") and lines[-1].startswith("• 2018-02-28")
    assert len(lines) == 6
