"""The Telegram face: askbot answering in chats, groups and inline mode (python-telegram-bot 22).

Names load lazily so that ``askbot ask`` (whose CLI registers the ``telegram`` subcommand) never pays
for importing python-telegram-bot.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_NAMES = {
    "BotOptions": "askbot.telegram.bot",
    "build_application": "askbot.telegram.bot",
    "add_telegram_parser": "askbot.telegram.cli",
    "run": "askbot.telegram.cli",
    "split_html": "askbot.telegram.formatting",
}
__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_NAMES[name]), name)
