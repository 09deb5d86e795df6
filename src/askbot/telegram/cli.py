"""`askbot telegram`: run the bot by long polling (default) or as a webhook server."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import askbot
from askbot.config import Settings
from askbot.progress import bounded
from askbot.telegram.limits import parse_rate
from askbot.telegram.redact import hide_secrets, redact

log = logging.getLogger("askbot.telegram")

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
DEFAULT_WEBHOOK_PORT = 8443
EXIT_OK, EXIT_USAGE, EXIT_INDEX, EXIT_TELEGRAM = 0, 2, 3, 5
# flag -> env var read when the flag is not given
ENV = {
    "base_url": "ASKBOT_TELEGRAM_BASE_URL",
    "allow": "ASKBOT_TELEGRAM_ALLOW",
    "user_rate": "ASKBOT_TELEGRAM_USER_RATE",
    "webhook_url": "ASKBOT_TELEGRAM_WEBHOOK_URL",
    "webhook_secret": "ASKBOT_TELEGRAM_WEBHOOK_SECRET",
    "listen": "ASKBOT_TELEGRAM_LISTEN",
    "port": "ASKBOT_TELEGRAM_PORT",
}


def add_telegram_parser(subparsers: Any, parents: Sequence[argparse.ArgumentParser] = ()) -> None:
    """Add the ``telegram`` subcommand to askbot's CLI (sets ``func=run``); ``parents`` give the options every
    command shares (``--index``, ``--model`` after the command)."""
    p = subparsers.add_parser(
        "telegram",
        parents=list(parents),
        help="run the Telegram bot (token in env TELEGRAM_BOT_TOKEN or --token-file)",
        description="Answer questions in Telegram chats. Long polling by default; --webhook-url for a webhook.",
    )
    p.add_argument("--token-file", type=Path, help=f"file holding the bot token (default: env {TOKEN_ENV})")
    p.add_argument("--base-url", help="another Bot API server, e.g. http://127.0.0.1:8081/bot (token appended)")
    p.add_argument("--allow", help="only these chat ids, comma separated (env ASKBOT_TELEGRAM_ALLOW)")
    p.add_argument("--user-rate", help="questions per user, e.g. 5/30 = 5 per 30 s (default); 0 = no limit")
    p.add_argument("--webhook-url", help="public HTTPS URL Telegram posts updates to; its path is served")
    p.add_argument("--webhook-secret", help="secret Telegram sends with each update (default: random per run)")
    p.add_argument("--listen", help="address the webhook server binds (default 127.0.0.1, behind a proxy)")
    p.add_argument(
        "--port", type=bounded(1, 65535), help=f"port of the webhook server (default {DEFAULT_WEBHOOK_PORT})"
    )
    p.add_argument("--follow", nargs="+", metavar="URL", help="also follow these feeds/sitemaps/sites (askbot follow)")
    p.add_argument("--follow-every", default="10m", help="poll interval for --follow (default 10m)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="-v: every API call, -vv: debug")
    p.set_defaults(func=run)


def _flag(args: argparse.Namespace, name: str) -> Any:
    value = getattr(args, name, None)
    return value if value not in (None, "") else os.environ.get(ENV[name]) or None


def read_token(token_file: Path | None) -> str:
    """The bot token from ``token_file`` or env TELEGRAM_BOT_TOKEN; ValueError saying what to do if missing."""
    if token_file is None:
        token = os.environ.get(TOKEN_ENV, "").strip()
        if not token:
            raise ValueError(f"no bot token: set {TOKEN_ENV} or pass --token-file (ask @BotFather for a token)")
        return token
    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValueError(f"cannot read the token file {token_file}: {reason}") from None
    if not token:
        raise ValueError(f"the token file {token_file} is empty: put the bot's token in it (ask @BotFather for one)")
    return token


def parse_allow(text: str | None) -> frozenset[int] | None:
    """ "123,-100456" -> frozenset of chat ids; None when unset (every chat allowed)."""
    if not text:
        return None
    try:
        return frozenset(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise ValueError(f"--allow/ASKBOT_TELEGRAM_ALLOW wants chat ids separated by commas, got {text!r}") from None


def webhook_options(url: str, secret: str | None, listen: str | None, port: int | None) -> dict[str, Any]:
    """Keyword arguments for ``Updater.start_webhook`` / ``Application.run_webhook``: the server serves the
    URL's path, and checks the secret Telegram sends in X-Telegram-Bot-Api-Secret-Token."""
    return {
        "listen": listen or "127.0.0.1",
        "port": int(port or DEFAULT_WEBHOOK_PORT),
        "url_path": urlsplit(url).path.lstrip("/"),
        "webhook_url": url,
        "secret_token": secret or secrets.token_urlsafe(32),
    }


def configure_logging(verbose: int) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose > 1 else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request URL (token inside, redacted anyway); one line per long poll is noise
    logging.getLogger("httpx").setLevel(logging.INFO if verbose else logging.WARNING)


def start_following(settings: Settings, urls: list[str], every: str) -> threading.Event:
    """Follow ``urls`` in a background thread, into the bot's index (its own KnowledgeBase: the bot's reader and
    encoder stay on the bot's worker). The bot sees new articles when it refreshes (every 30 s)."""
    from askbot.follow_cli import parse_duration, print_report

    every_s = parse_duration(every)
    stop = threading.Event()
    follower_kb = askbot.open(settings=settings)

    def loop() -> None:
        try:
            follower_kb.follow(urls, every_s=every_s, once=False, stop=stop, on_poll=print_report)
        except Exception as exc:  # noqa: BLE001 - following stops; the bot keeps answering from what is indexed
            log.error("following stopped: %s: %s", type(exc).__name__, exc)

    threading.Thread(target=loop, name="askbot-follow", daemon=True).start()
    log.info("following %d source(s) every %s", len(urls), every)
    return stop


def run(args: argparse.Namespace) -> int:
    """Load the model and the index once, then serve Telegram until interrupted."""
    from askbot.telegram.bot import ALLOWED_UPDATES, BotOptions, build_application  # PTB loads only here

    configure_logging(getattr(args, "verbose", 0))
    token = read_token(getattr(args, "token_file", None))
    webhook_url = _flag(args, "webhook_url")
    webhook = (
        webhook_options(webhook_url, _flag(args, "webhook_secret"), _flag(args, "listen"), _flag(args, "port"))
        if webhook_url
        else None
    )
    hide_secrets(token, webhook["secret_token"] if webhook else None)
    settings = Settings.from_env(
        index=getattr(args, "index", None), model=getattr(args, "model", None), store=getattr(args, "store", None)
    )
    options = BotOptions(
        k=settings.top_k,
        max_question_chars=settings.max_question_chars,
        user_rate=parse_rate(_flag(args, "user_rate") or "5/30"),
        allow=parse_allow(_flag(args, "allow")),
    )
    kb = askbot.open(settings=settings)
    where = settings.store or f"{settings.index}/"
    if kb.is_empty:
        option = f"--store {settings.store}" if settings.store else f"--index {settings.index}"
        print(f"askbot: the index {where} is empty; build it first: askbot index {option} PATH...", file=sys.stderr)
        return EXIT_INDEX
    log.info("loading the model and the index from %s", where)
    kb.warm_up()  # loads the model and the index now, not on the first question
    info = kb.info()
    log.info("ready: %s articles, %s passages, model %s", info.articles, info.passages, info.model)

    follow_urls = getattr(args, "follow", None)
    if follow_urls:
        start_following(settings, follow_urls, getattr(args, "follow_every", "10m"))
    app = build_application(kb, token, base_url=_flag(args, "base_url"), options=options)
    try:
        if webhook:
            log.info("webhook mode: serving %s on %s:%s", webhook["url_path"], webhook["listen"], webhook["port"])
            app.run_webhook(**webhook, allowed_updates=ALLOWED_UPDATES)
        else:
            log.info("long polling %s", app.bot.base_url)
            app.run_polling(allowed_updates=ALLOWED_UPDATES)
    except Exception as exc:  # never let a traceback print the token (PTB puts it in InvalidToken's message)
        log.error("the bot stopped: %s: %s", type(exc).__name__, redact(str(exc)))
        return EXIT_TELEGRAM
    return EXIT_OK
