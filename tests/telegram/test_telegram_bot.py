"""The real bot over real HTTP against the fake Bot API: answers, markup, buttons, inline, groups, limits."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from typing import Any

import aiohttp
import pytest
from fakeapi import TOKEN, FakeBotApi, Sent, StartBot, group_chat, parse_html, private_chat, units, user

from askbot.telegram import texts
from askbot.telegram.bot import ALLOWED_UPDATES, SERVER_ERROR_RETRIES, build_application
from askbot.telegram.cli import webhook_options
from askbot.telegram.formatting import MAX_MESSAGE_UNITS

pytestmark = pytest.mark.anyio

IRAN_IRAQ = "ما الاتفاقية الأمنية التي وقعها شمخاني مع الأعرجي في بغداد؟"
BARCELONA = "كيف توج برشلونة بلقب الدوري الإسباني للمرة الخامسة والعشرين؟"
OIL = "ما توقعات أسعار النفط والغاز والبرميل؟"
HOSTILE_TITLE = 'أسعار <النفط> & "الغاز" </b><i>'


def chat_of(user_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    return private_chat(user_id), user(user_id)


def new_since(fake: FakeBotApi, chat_id: int, before: int) -> list[Sent]:
    return fake.to_chat(chat_id)[before:]


async def ask(fake: FakeBotApi, chat: dict[str, Any], sender: dict[str, Any], text: str, **kw: Any) -> list[Sent]:
    """Say ``text`` and wait for the whole reply: the message carrying buttons, or ``count`` messages."""
    before = len(fake.to_chat(chat["id"]))
    fake.say(chat, sender, text, **kw)
    return await replies(fake, chat["id"], before)


async def replies(fake: FakeBotApi, chat_id: int, before: int, count: int | None = None) -> list[Sent]:
    def done() -> list[Sent] | None:
        sent = new_since(fake, chat_id, before)
        if count is not None:
            return sent if len(sent) >= count else None
        return sent if sent and (sent[-1].reply_markup or texts_only(sent)) else None

    return await fake.wait_for(done)


def texts_only(sent: list[Sent]) -> bool:
    """A reply without buttons is complete after one message (not-found, notices, errors)."""
    return len(sent) >= 1 and "1." not in sent[0].text


async def test_start_help_about_and_startup_sequence(fake: FakeBotApi, start_bot: StartBot) -> None:
    await start_bot()
    await fake.wait_for(lambda: fake.called("getUpdates"))
    order = [c.method for c in fake.calls]
    assert order.index("getMe") < order.index("deleteWebhook") < order.index("getUpdates")
    [commands] = fake.called("setMyCommands")
    assert {c["command"] for c in commands.params["commands"]} == set(texts.COMMANDS)
    chat, alice = chat_of(1001)
    [welcome] = await ask(fake, chat, alice, "/start")
    assert "مرحبًا" in welcome.text and "Ask me anything" in welcome.text and "5 مقالًا" in welcome.text
    assert "@askbot_test_bot" in welcome.text
    [about] = await ask(fake, chat, alice, "/about")
    assert "المقالات: 5" in about.text and "النموذج" in about.text and "تاريخ البناء" in about.text
    [helped] = await ask(fake, chat, alice, "/help@askbot_test_bot")
    assert helped.text == welcome.text


async def test_arabic_question_answered_with_bold_sentence_and_citation(fake: FakeBotApi, start_bot: StartBot) -> None:
    await start_bot()
    chat, alice = chat_of(1002)
    reply = await ask(fake, chat, alice, IRAN_IRAQ)
    first = reply[0]
    assert first.text.startswith("1.")
    assert "قطار تعزيز العلاقات مع دول جوار ايران" in first.text  # title of the cited article
    assert "alalam" in first.text and "2023-03-19" in first.text
    links = [e["url"] for e in first.entities if e["type"] == "text_link"]
    assert "https://www.alalamtv.net/news/5600000" in links
    bold = first.bold()
    assert any("شمخاني" in b or "الأعرجي" in b or "الاعرجي" in b for b in bold[1:]), bold
    # "typing…" was shown before the answer
    typing = fake.called("sendChatAction", chat_id=chat["id"], action="typing")
    assert typing and typing[0].at <= first.at
    buttons = reply[-1].buttons()
    assert any(b["callback_data"].startswith("p:") for b in buttons)
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)


async def test_hostile_corpus_text_is_escaped(fake: FakeBotApi, start_bot: StartBot) -> None:
    await start_bot()
    chat, alice = chat_of(1003)
    reply = await ask(fake, chat, alice, OIL)
    shown = "\n".join(s.text for s in reply)
    assert HOSTILE_TITLE in shown
    assert "<script>alert('x')</script>" in shown and "<b>الوكالة</b> & شركائها" in shown
    assert "&amp; العقود" in shown and "&lt;tag&gt;" in shown and "&#1576;" in shown
    assert not [c for c in fake.calls if c.error]  # Telegram (the fake) accepted every message


async def test_long_answer_is_split_between_excerpts(fake: FakeBotApi, start_bot: StartBot) -> None:
    await start_bot(k=8, user_rate=(0, 0))
    chat, alice = chat_of(1004)
    reply = await ask(fake, chat, alice, BARCELONA)
    assert len(reply) >= 2, [units(s.text) for s in reply]
    numbers = []
    for sent in reply:
        assert units(sent.text) <= MAX_MESSAGE_UNITS
        parse_html(sent.html)
        numbers += [int(line.split(".")[0]) for line in sent.text.split("\n") if line[:2].rstrip(".").isdigit()]
    assert numbers == sorted(numbers) and len(numbers) == len(set(numbers))
    assert all(s.reply_markup is None for s in reply[:-1]) and reply[-1].reply_markup


async def test_more_results_and_full_passage_buttons(fake: FakeBotApi, start_bot: StartBot) -> None:
    await start_bot(k=2)
    chat, alice = chat_of(1005)
    reply = await ask(fake, chat, alice, BARCELONA)
    buttons = reply[-1].buttons()
    more = [b for b in buttons if b["callback_data"].startswith("m:")]
    assert more and more[0]["text"] == texts.MORE_BUTTON
    before = len(fake.to_chat(chat["id"]))
    query_id = fake.press(reply[-1], more[0]["callback_data"], alice)
    page_two = await replies(fake, chat["id"], before)
    assert page_two[0].text.startswith("3.")
    assert query_id in fake.callback_answers

    passage = next(b for b in buttons if b["callback_data"].startswith("p:"))
    before = len(fake.to_chat(chat["id"]))
    fake.press(reply[-1], passage["callback_data"], alice)
    [full] = await replies(fake, chat["id"], before, count=1)
    assert full.text.startswith("📰") and f"/source {passage['callback_data'][2:]}" in full.text
    excerpt_line = reply[0].text.split("\n")[0][3:40]
    assert excerpt_line.strip()[:20] in full.text


async def test_not_found_is_said_in_arabic(fake: FakeBotApi, start_bot: StartBot) -> None:
    await start_bot()
    chat, alice = chat_of(1018)
    [reply] = await ask(fake, chat, alice, "؟؟؟ !!!")
    assert reply.text.startswith("لم أجد في الأخبار المفهرسة") and reply.reply_markup is None


async def test_source_command(fake: FakeBotApi, start_bot: StartBot) -> None:
    await start_bot()
    chat, alice = chat_of(1006)
    [full] = await ask(fake, chat, alice, "/source 0")
    assert full.text.startswith("📰") and "/source 0" in full.text
    [missing] = await ask(fake, chat, alice, "/source 99999")
    assert missing.text == texts.NO_PASSAGE.format(number=99999)
    [usage] = await ask(fake, chat, alice, "/source abc")
    assert "/source 12" in usage.text


async def test_inline_mode_offers_excerpts_with_citations(fake: FakeBotApi, start_bot: StartBot) -> None:
    await start_bot()
    alice = user(1007)
    query_id = fake.inline(alice, IRAN_IRAQ)
    answer = await fake.wait_for(lambda: fake.inline_answers.get(query_id))
    results = answer["results"]
    assert 1 <= len(results) <= 50
    first = results[0]
    assert first["type"] == "article" and "قطار تعزيز العلاقات" in first["title"]
    text, entities = parse_html(first["input_message_content"]["message_text"])
    assert "alalam" in text and any(e["type"] == "bold" for e in entities)
    empty_id = fake.inline(alice, "   ")
    empty = await fake.wait_for(lambda: fake.inline_answers.get(empty_id))
    assert empty["results"] == [] and empty["button"]["text"] == texts.INLINE_HINT


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # raised inside PTB's RetryAfter
async def test_flood_429_is_waited_out(fake: FakeBotApi, start_bot: StartBot) -> None:
    await start_bot()
    chat, alice = chat_of(1008)
    fake.fail("sendMessage", 429, retry_after=1)
    reply = await ask(fake, chat, alice, IRAN_IRAQ)
    attempts = [c for c in fake.calls if c.method == "sendMessage"]
    assert attempts[0].error.startswith("Too Many Requests") and not attempts[1].error
    assert attempts[1].at - attempts[0].at >= 1.0
    assert reply[0].text.startswith("1.")


async def test_a_5xx_on_the_answer_is_retried_once_not_lost_or_doubled(fake: FakeBotApi, start_bot: StartBot) -> None:
    await start_bot()
    chat, alice = chat_of(1010)
    fake.fail("sendMessage", 502)
    reply = await ask(fake, chat, alice, IRAN_IRAQ)
    attempts = [
        c for c in fake.calls if c.method == "sendMessage" and c.params.get("chat_id") in (chat["id"], str(chat["id"]))
    ]
    assert attempts[0].error and not attempts[1].error
    assert reply[0].text.startswith("1.")
    await asyncio.sleep(1.0)
    assert sum(1 for s in fake.to_chat(chat["id"]) if s.text.startswith("1.")) == 1


async def test_handler_error_is_reported_and_the_bot_keeps_running(
    fake: FakeBotApi, start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    await start_bot()
    chat, alice = chat_of(1009)
    fake.fail("sendMessage", 500, times=SERVER_ERROR_RETRIES + 1)  # more 5xx than the bot retries
    before = len(fake.to_chat(chat["id"]))
    fake.say(chat, alice, IRAN_IRAQ)
    [apology] = await replies(fake, chat["id"], before, count=1)
    assert apology.text == texts.ERROR
    assert any("handler failed" in r.getMessage() for r in caplog.records)
    reply = await ask(fake, chat, alice, OIL)
    assert reply[0].text.startswith("1.")


async def test_per_user_rate_limit_is_polite(fake: FakeBotApi, start_bot: StartBot) -> None:
    await start_bot(user_rate=(2, 30))
    chat, alice = chat_of(1010)
    before = len(fake.to_chat(chat["id"]))
    for question in (IRAN_IRAQ, OIL, BARCELONA):
        fake.say(chat, alice, question)
    await fake.wait_for(lambda: sum(1 for s in new_since(fake, chat["id"], before) if s.reply_markup) >= 2)
    sent = await replies(fake, chat["id"], before, count=3)
    polite = [s for s in sent if s.text.startswith("تمهّل")]
    assert len(polite) == 1 and "ثانية" in polite[0].text
    bob_chat, bob = chat_of(1011)  # another user is not limited
    assert (await ask(fake, bob_chat, bob, OIL))[0].text.startswith("1.")


async def test_allowlist_ignores_other_chats(fake: FakeBotApi, start_bot: StartBot) -> None:
    allowed_chat, alice = chat_of(1012)
    other_chat, mallory = chat_of(6666)
    await start_bot(allow={allowed_chat["id"]})
    fake.say(other_chat, mallory, IRAN_IRAQ)
    inline_id = fake.inline(mallory, IRAN_IRAQ)
    reply = await ask(fake, allowed_chat, alice, IRAN_IRAQ)
    assert reply[0].text.startswith("1.")
    await asyncio.sleep(0.2)
    assert fake.to_chat(other_chat["id"]) == [] and inline_id not in fake.inline_answers
    assert not fake.called("sendChatAction", chat_id=other_chat["id"])


async def test_groups_answer_only_when_mentioned_or_replied_to(fake: FakeBotApi, start_bot: StartBot) -> None:
    await start_bot()
    group, alice = group_chat(-100123), user(1013)
    fake.say(group, alice, IRAN_IRAQ)  # ordinary chatter: ignored
    reply = await ask(fake, group, alice, f"@askbot_test_bot {OIL}")
    assert HOSTILE_TITLE in "\n".join(s.text for s in reply)
    assert fake.called("sendMessage", chat_id=group["id"])[0].params["reply_parameters"]["message_id"]
    reply_to_bot = await ask(fake, group, alice, IRAN_IRAQ, reply_to=reply[-1])
    assert "قطار تعزيز العلاقات" in reply_to_bot[0].text
    assert len([s for s in fake.to_chat(group["id"]) if s.text.startswith("1.")]) == 2  # not the first message


async def test_follow_up_question_leans_on_the_previous_one(fake: FakeBotApi, start_bot: StartBot) -> None:
    await start_bot()
    chat, alice = chat_of(1014)
    await ask(fake, chat, alice, IRAN_IRAQ)
    follow = await ask(fake, chat, alice, "ومتى حدث ذلك؟")
    assert follow[0].text.startswith("🔗") and "شمخاني" in follow[0].text
    assert "2023-03-19" in "\n".join(s.text for s in follow)


async def test_overlong_question_is_cut_with_a_notice(fake: FakeBotApi, start_bot: StartBot) -> None:
    await start_bot(max_question_chars=100)
    chat, alice = chat_of(1015)
    reply = await ask(fake, chat, alice, IRAN_IRAQ + " " + "كلمة " * 300)
    assert reply[0].text.startswith("✂️") and "100" in reply[0].text


async def test_token_never_reaches_the_logs(
    fake: FakeBotApi, start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # an `askbot telegram` run in this process sets it to WARNING
    await start_bot()
    chat, alice = chat_of(1016)
    fake.fail("sendMessage", 502)
    before = len(fake.to_chat(chat["id"]))
    fake.say(chat, alice, OIL)
    await replies(fake, chat["id"], before, count=1)
    await ask(fake, chat, alice, IRAN_IRAQ)
    secret = TOKEN.split(":")[1]
    httpx_lines = [r.getMessage() for r in caplog.records if r.name.startswith("httpx")]
    assert any("/bot123456789:***/getUpdates" in line for line in httpx_lines)
    assert secret not in caplog.text
    assert all(secret not in r.getMessage() and secret not in (r.exc_text or "") for r in caplog.records)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_webhook_refuses_a_wrong_secret(fake: FakeBotApi, telegram_kb: Any) -> None:
    app = build_application(telegram_kb, TOKEN, base_url=fake.base_url)
    port = free_port()
    options = webhook_options("https://bot.example.org/askbot/hook", "right-Secret_1", "127.0.0.1", port)
    chat, alice = chat_of(1017)
    fake.register_chat(chat)
    await app.initialize()
    assert app.updater is not None
    await app.updater.start_webhook(**options, allowed_updates=ALLOWED_UPDATES)
    await app.start()
    try:
        assert fake.webhook["url"] == "https://bot.example.org/askbot/hook"
        assert fake.webhook["secret_token"] == "right-Secret_1"
        url = f"http://127.0.0.1:{port}/askbot/hook"
        update = fake.update_json("message", fake.make_message(chat, alice, IRAN_IRAQ))
        async with aiohttp.ClientSession() as http:
            for headers in ({"X-Telegram-Bot-Api-Secret-Token": "wrong"}, {}):
                async with http.post(url, data=json.dumps(update), headers=headers | _json) as response:
                    assert response.status == 403
            await asyncio.sleep(0.2)
            assert fake.to_chat(chat["id"]) == []
            right = {"X-Telegram-Bot-Api-Secret-Token": "right-Secret_1"}
            async with http.post(url, data=json.dumps(update), headers=right | _json) as response:
                assert response.status == 200
        reply = await replies(fake, chat["id"], 0)
        assert reply[0].text.startswith("1.")
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


_json = {"Content-Type": "application/json"}
