"""The bot's small parts alone: follow-ups, the per-user limit, question memory, redaction, CLI options."""

from __future__ import annotations

import argparse
import logging

import pytest

from askbot.telegram import followup
from askbot.telegram.cli import add_telegram_parser, parse_allow, read_token, webhook_options
from askbot.telegram.limits import UserRateLimiter, parse_rate, recall_question, remember_question
from askbot.telegram.redact import hide_secrets, redact


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("ومتى حدث ذلك؟", True),
        ("متى؟", True),
        ("وأين؟", True),
        ("فلماذا؟", True),
        ("and when?", True),
        ("what about it", True),
        ("كيف تم ذلك", True),
        ("وزير الخارجية الإيراني", False),  # starts with و but is a word of its own
        ("ما الاتفاقية الأمنية التي وقعها العراق مع إيران؟", False),
        ("متى وقعت الاتفاقية الأمنية بين العراق وإيران؟", False),  # a cue, but too long to lean on anything
        ("", False),
    ],
)
def test_follow_up_detection(question: str, expected: bool) -> None:
    assert followup.is_followup(question) is expected


def test_follow_up_is_joined_to_the_previous_question() -> None:
    assert followup.resolve("ومتى؟", "زيارة شمخاني") == ("زيارة شمخاني ومتى؟", True)
    assert followup.resolve("ومتى؟", None) == ("ومتى؟", False)
    assert followup.resolve("ما أسعار النفط اليوم في الخليج؟", "زيارة") == ("ما أسعار النفط اليوم في الخليج؟", False)


def test_user_rate_limiter_is_a_sliding_window() -> None:
    now = [0.0]
    limiter = UserRateLimiter(2, 30, clock=lambda: now[0])
    assert limiter.wait_s(1) == 0 and limiter.wait_s(1) == 0
    assert limiter.wait_s(1) == pytest.approx(30)
    assert limiter.wait_s(2) == 0  # per user
    now[0] = 29.0
    assert limiter.wait_s(1) == pytest.approx(1)
    now[0] = 30.0
    assert limiter.wait_s(1) == 0


def test_parse_rate() -> None:
    assert parse_rate("5/30") == (5, 30.0)
    assert parse_rate("0") == (0, 0.0)
    with pytest.raises(ValueError, match="5/30"):
        parse_rate("fast")


def test_question_memory_keys_are_short_and_bounded() -> None:
    chat_data: dict = {}
    keys = [remember_question(chat_data, f"سؤال {i}") for i in range(100)]
    assert all(len(k) <= 2 for k in keys) and len(set(keys)) == 100
    assert recall_question(chat_data, keys[-1]) == "سؤال 99"
    assert recall_question(chat_data, keys[0]) is None  # forgotten: only the recent ones are kept
    assert len(f"m:{keys[-1]}:9999".encode()) <= 64


def test_redaction_covers_messages_arguments_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    token = "987654:ZZsecret-token-part_abcdef"
    hide_secrets(token, "hook-secret-xyz")
    logger = logging.getLogger("httpx")
    # httpx's own level too: an `askbot telegram` run in the same process (another test's) sets it to WARNING
    with caplog.at_level(logging.INFO), caplog.at_level(logging.INFO, logger="httpx"):
        logger.info("HTTP Request: POST %s", f"https://api.telegram.org/bot{token}/getMe")
        try:
            raise RuntimeError(f"The token `{token}` was rejected; secret hook-secret-xyz")
        except RuntimeError:
            logging.getLogger("telegram.ext.Application").exception("failed")
    assert "ZZsecret" not in caplog.text and "hook-secret-xyz" not in caplog.text
    assert "bot987654:***/getMe" in caplog.text
    assert redact(f"x {token} y") == "x 987654:*** y"


def test_cli_options(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    parser = argparse.ArgumentParser()
    add_telegram_parser(parser.add_subparsers())
    args = parser.parse_args(["telegram", "--base-url", "http://127.0.0.1:8081/bot", "--allow", "1,-100200"])
    assert args.func.__name__ == "run" and args.base_url == "http://127.0.0.1:8081/bot"
    assert parse_allow(args.allow) == {1, -100200} and parse_allow(None) is None
    with pytest.raises(ValueError, match="chat ids"):
        parse_allow("me")
    (tmp_path / "token").write_text("111:AAA\n")
    assert read_token(tmp_path / "token") == "111:AAA"
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    with pytest.raises(ValueError, match="TELEGRAM_BOT_TOKEN"):
        read_token(None)
    with pytest.raises(ValueError, match=r"^cannot read the token file .*gone: No such file or directory$"):
        read_token(tmp_path / "gone")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValueError, match=r"^the token file .*empty is empty: put the bot's token in it"):
        read_token(tmp_path / "empty")
    options = webhook_options("https://bot.example.org/tg/hook", None, None, None)
    assert options["url_path"] == "tg/hook" and options["listen"] == "127.0.0.1" and options["port"] == 8443
    assert len(options["secret_token"]) >= 32  # a random secret when none is given
