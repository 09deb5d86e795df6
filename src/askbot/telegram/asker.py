"""The knowledge base seen from the event loop: each call runs in a worker thread, never on the loop."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from askbot.types import Answer, Article, Excerpt, IndexInfo

REFRESH_EVERY_S = 30.0  # how often to look for articles added by a writer (refresh is cheap when unchanged)


class KnowledgeBaseLike(Protocol):
    """The part of ``askbot.KnowledgeBase`` the bot uses."""

    def ask(self, question: str, k: int | None = None, *, offset: int = 0) -> Answer: ...

    def passage(self, passage_id: int) -> Excerpt | None: ...

    def info(self) -> IndexInfo: ...

    def refresh(self) -> bool: ...


class Asker:
    """Runs knowledge-base calls one at a time in a dedicated thread.

    One worker keeps the model and the index reader single-threaded (the encoder already uses every core for
    one query), so concurrent chats queue here instead of contending; the event loop stays free meanwhile.
    """

    def __init__(self, kb: KnowledgeBaseLike, refresh_every_s: float = REFRESH_EVERY_S) -> None:
        self.kb = kb
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="askbot-kb")
        self._refresh_every_s = refresh_every_s
        self._refreshed_at = time.monotonic()

    async def _run(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: self._call(function, *args, **kwargs))

    def _call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        now = time.monotonic()
        if now - self._refreshed_at >= self._refresh_every_s:
            self._refreshed_at = now
            self.kb.refresh()
        return function(*args, **kwargs)

    async def ask(self, question: str, k: int, offset: int = 0) -> Answer:
        return await self._run(self.kb.ask, question, k, offset=offset)

    async def passage(self, passage_id: int) -> Excerpt | None:
        return await self._run(self.kb.passage, passage_id)

    async def latest(self, limit: int) -> list[Article]:
        return await self._run(self.kb.latest, limit)  # type: ignore[attr-defined]

    async def info(self) -> IndexInfo:
        return await self._run(self.kb.info)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
