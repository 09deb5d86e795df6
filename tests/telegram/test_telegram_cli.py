"""`askbot telegram --base-url ...` as a real process against the fake Bot API: serves, stops, keeps secrets."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from fakeapi import TOKEN, FakeBotApi, private_chat, user

pytestmark = pytest.mark.anyio

SRC = Path(__file__).resolve().parents[2] / "src"
WRONG_TOKEN = "123456789:WRONG-secret_value-0000000000000"


async def start_cli(fake: FakeBotApi, index: Path, token: str) -> asyncio.subprocess.Process:
    env = os.environ | {
        "TELEGRAM_BOT_TOKEN": token,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
    }
    command = ["-m", "askbot.cli", "--index", str(index), "telegram", "--base-url", fake.base_url, "-v"]
    return await asyncio.create_subprocess_exec(
        sys.executable, *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def test_askbot_telegram_serves_by_long_polling_and_keeps_the_token_out_of_its_logs(
    fake: FakeBotApi, telegram_index: Path
) -> None:
    good, bad = await asyncio.gather(
        start_cli(fake, telegram_index, TOKEN), start_cli(fake, telegram_index, WRONG_TOKEN)
    )
    try:
        await fake.wait_for(lambda: fake.called("getUpdates"), timeout=60)
        chat, alice = private_chat(2001), user(2001)
        fake.say(chat, alice, "ما الاتفاقية الأمنية التي وقعها شمخاني في بغداد؟")
        reply = await fake.wait_for(lambda: fake.to_chat(chat["id"]), timeout=20)
        assert reply[0].text.startswith("1.")
    finally:
        good.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(good.communicate(), 30)
        bad_out, bad_err = await asyncio.wait_for(bad.communicate(), 60)
    log = (out + err).decode()
    assert good.returncode == 0, log[-3000:]
    assert "/bot123456789:***/getUpdates" in log  # httpx's request lines, token masked
    assert TOKEN.split(":")[1] not in log
    bad_log = (bad_out + bad_err).decode()
    assert bad.returncode == 5 and "InvalidToken" in bad_log, bad_log[-3000:]
    assert WRONG_TOKEN.split(":")[1] not in bad_log
