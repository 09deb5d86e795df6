"""Per-user question limits and the per-chat memory of recent questions behind the buttons."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, MutableMapping
from typing import Any

DEFAULT_USER_RATE = (5, 30.0)  # questions per user, per seconds
MAX_TRACKED_USERS = 10_000
MAX_REMEMBERED_QUESTIONS = 32  # per chat, for "more results" buttons under older answers


class UserRateLimiter:
    """A sliding window: at most ``max_questions`` per user in any ``period_s`` seconds."""

    def __init__(self, max_questions: int, period_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_questions = max_questions
        self.period_s = period_s
        self._clock = clock
        self._asked: OrderedDict[int, deque[float]] = OrderedDict()

    def wait_s(self, user_id: int) -> float:
        """0 and the question is counted when allowed; else the seconds until the user may ask again."""
        now = self._clock()
        times = self._asked.pop(user_id, None) or deque()
        while times and now - times[0] >= self.period_s:
            times.popleft()
        self._asked[user_id] = times
        while len(self._asked) > MAX_TRACKED_USERS:
            self._asked.popitem(last=False)
        if len(times) >= self.max_questions:
            return max(0.1, self.period_s - (now - times[0]))
        times.append(now)
        return 0.0


def parse_rate(text: str) -> tuple[int, float]:
    """ "5/30" -> (5, 30.0): questions per seconds. "0" turns the limit off."""
    if text.strip() in ("", "0", "off"):
        return (0, 0.0)
    count, _, period = text.partition("/")
    try:
        rate = (int(count), float(period or 60))
    except ValueError:
        raise ValueError(f"rate {text!r} should look like 5/30 (questions per seconds), or 0 for no limit") from None
    if rate[0] < 0 or rate[1] <= 0:
        raise ValueError(f"rate {text!r} needs a positive count and period")
    return rate


def remember_question(chat_data: MutableMapping[str, Any], question: str) -> str:
    """Store ``question`` for this chat and return its short key (for callback data)."""
    questions: OrderedDict[str, str] = chat_data.setdefault("questions", OrderedDict())
    serial = chat_data.get("serial", 0) + 1
    chat_data["serial"] = serial
    key = _base36(serial)
    questions[key] = question
    while len(questions) > MAX_REMEMBERED_QUESTIONS:
        questions.popitem(last=False)
    return key


def recall_question(chat_data: MutableMapping[str, Any], key: str) -> str | None:
    return chat_data.get("questions", {}).get(key)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out
