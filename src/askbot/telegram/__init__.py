"""The Telegram face: askbot answering in chats, groups and inline mode (python-telegram-bot 22)."""

from askbot.telegram.bot import BotOptions, build_application
from askbot.telegram.cli import add_telegram_parser, run
from askbot.telegram.formatting import split_html

__all__ = ["BotOptions", "add_telegram_parser", "build_application", "run", "split_html"]
