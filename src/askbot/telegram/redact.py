"""Keep secrets (the bot token, the webhook secret) out of every log record, httpx's URLs included."""

from __future__ import annotations

import logging
import threading
from typing import Any

MASK = "***"
_MIN_SECRET_CHARS = 6  # shorter strings would mask ordinary words

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def secret_parts(token: str) -> list[str]:
    """What to mask of a secret: of a bot token ``<bot id>:<secret>`` the secret half (the bot id is public
    and helps reading logs), of anything else the whole string."""
    _, _, secret = token.partition(":")
    part = secret if len(secret) >= _MIN_SECRET_CHARS else token
    return [part] if len(part) >= _MIN_SECRET_CHARS else []


def hide_secrets(*secrets: str | None) -> None:
    """Register secrets and make sure every log record, from any logger, is redacted when created.

    A logging.Filter on one logger misses records of its children and of handlers added later (pytest's
    caplog, a user's handler); wrapping the record factory covers every record, message, arguments and
    traceback alike.
    """
    global _installed
    with _lock:
        for secret in secrets:
            if secret:
                _secrets.update(secret_parts(secret))
        if _installed:
            return
        make_record = logging.getLogRecordFactory()

        def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = make_record(*args, **kwargs)
            _redact_record(record)
            return record

        logging.setLogRecordFactory(redacting_factory)
        _installed = True


def _redact_record(record: logging.LogRecord) -> None:
    if not _secrets:
        return
    try:
        message = record.getMessage()
    except Exception:  # a malformed record is logging's problem to report, not ours
        return
    record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
