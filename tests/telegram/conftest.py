"""Telegram test fixtures: one real knowledge base per session (tiny corpus), a fake Bot API and bots per test."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
sys.path.insert(0, str(Path(__file__).parent))  # fakeapi, under pytest's importlib import mode

import pytest  # noqa: E402
from fakeapi import TOKEN, FakeBotApi, StartBot  # noqa: E402
from telegram.ext import Application  # noqa: E402

from askbot.telegram.bot import BotOptions, build_application, polling  # noqa: E402

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def telegram_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny corpus indexed once per session with the real model."""
    import askbot

    index = tmp_path_factory.mktemp("telegram-index")
    report = askbot.open(index).add([str(DATA / "tiny.jsonl")])
    assert not report.problems and len(report.added) == 5, report.summary()
    return index


@pytest.fixture(scope="session")
def telegram_kb(telegram_index: Path) -> Any:
    import askbot

    knowledge_base = askbot.open(telegram_index)
    knowledge_base.ask("تحميل النموذج", 1)  # the model loads here, once
    return knowledge_base


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    api = await FakeBotApi(TOKEN).start()
    try:
        yield api
    finally:
        await api.stop()


@pytest.fixture
async def start_bot(fake: FakeBotApi, telegram_kb: Any) -> AsyncIterator[StartBot]:
    """Start the real bot against the fake API: ``await start_bot(allow=..., user_rate=(2, 30), ...)``."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(allow: set[int] | None = None, **options: Any) -> Application:
            options_ = BotOptions(**options)
            app = build_application(telegram_kb, TOKEN, base_url=fake.base_url, allow=allow, options=options_)
            return await stack.enter_async_context(polling(app, timeout=5))

        yield start
