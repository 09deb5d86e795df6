"""A fake Telegram Bot API on 127.0.0.1 (aiohttp) that validates HTML and limits as Telegram does."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456789:AAF-test_SECRET-token_value_0123456789"  # what the tests' bots use; must never be logged
StartBot = Callable[..., Awaitable[Any]]  # the start_bot fixture: await start_bot(**BotOptions fields)
MAX_TEXT_UNITS = 4096
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_RESULTS = 50
MAX_RESULT_ID_BYTES = 64
CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
# Fields PTB sends as plain strings; every other form value is JSON.
STRING_FIELDS = {
    "text",
    "parse_mode",
    "action",
    "callback_query_id",
    "inline_query_id",
    "url",
    "secret_token",
    "next_offset",
    "inline_message_id",
    "language_code",
    "message_text",
}

# --- Telegram's HTML dialect -------------------------------------------------------------------------------
ENTITY_OF_TAG = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_OPEN_TAG = re.compile(
    r"<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'|[^\s\"'<>]+))?)*)\s*>"
)
_CLOSE_TAG = re.compile(r"</([a-zA-Z][a-zA-Z0-9-]*)?\s*>")
_ATTRIBUTE = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")
_ENTITY = re.compile(r"&(?:([a-zA-Z]+)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));")


class HtmlError(ValueError):
    """Raised like Telegram's 400 "can't parse entities"."""


def units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _decode_entities(raw: str, where: int) -> str:
    out, i = [], 0
    while i < len(raw):
        if raw[i] != "&":
            out.append(raw[i])
            i += 1
            continue
        m = _ENTITY.match(raw, i)
        if not m or (m.group(1) and m.group(1) not in NAMED_ENTITIES):
            raise HtmlError(f"Unescaped ampersand or unsupported entity at byte offset {where + i}")
        if m.group(1):
            out.append(NAMED_ENTITIES[m.group(1)])
        else:
            code = int(m.group(2)) if m.group(2) else int(m.group(3), 16)
            if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise HtmlError(f"Invalid character reference at byte offset {where + i}")
            out.append(chr(code))
        i = m.end()
    return "".join(out)


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram-style HTML to (text, entities) with UTF-16 offsets; HtmlError where Telegram refuses."""
    text: list[str] = []
    length = 0
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[dict[str, Any]] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "<":
            close = _CLOSE_TAG.match(source, i)
            if close:
                if not stack:
                    raise HtmlError(f"Unexpected end tag at byte offset {i}")
                name, start, attrs = stack.pop()
                if close.group(1) and close.group(1).lower() != name:
                    raise HtmlError(f'Unmatched end tag at byte offset {i}, expected "</{name}>"')
                if length > start:
                    entity: dict[str, Any] = {"type": ENTITY_OF_TAG[name], "offset": start, "length": length - start}
                    if name == "a":
                        entity["url"] = attrs["href"]
                    entities.append(entity)
                i = close.end()
                continue
            opening = _OPEN_TAG.match(source, i)
            if not opening:
                raise HtmlError(f"Unexpected character or unclosed tag at byte offset {i}")
            name = opening.group(1).lower()
            if name not in ENTITY_OF_TAG:
                raise HtmlError(f'Unsupported start tag "{name}" at byte offset {i}')
            attrs = {}
            for a in _ATTRIBUTE.finditer(opening.group(2)):
                value = next((v for v in a.group(2, 3, 4) if v is not None), "")
                attrs[a.group(1).lower()] = _decode_entities(value, i)
            if name == "a" and not re.match(r"(https?|tg|mailto)://?\S", attrs.get("href", "")):
                raise HtmlError(f"Wrong or missing href at byte offset {i}")
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise HtmlError(f'Tag "span" must have class "tg-spoiler" at byte offset {i}')
            stack.append((name, length, attrs))
            i = opening.end()
            continue
        if char == ">":
            raise HtmlError(f"Unescaped > at byte offset {i}")
        end = i + 1
        while end < len(source) and source[end] not in "<>":
            end += 1
        piece = _decode_entities(source[i:end], i)
        text.append(piece)
        length += units(piece)
        i = end
    if stack:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(text), sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def check_message_text(text: str | None, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    """Validate a message text as sendMessage does; raises ApiError(400)."""
    if not text:
        raise ApiError(400, "Bad Request: message text is empty")
    if parse_mode and parse_mode.upper() == "HTML":
        try:
            plain, entities = parse_html(text)
        except HtmlError as exc:
            raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from exc
    elif parse_mode:
        raise ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode!r} in this fake")
    else:
        plain, entities = text, []
    if not plain.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if units(plain) > MAX_TEXT_UNITS:
        raise ApiError(400, "Bad Request: message is too long")
    return plain, entities


# --- records ------------------------------------------------------------------------------------------------
class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    error: str = ""


@dataclass
class Sent:
    """A message the bot sent (or last edited)."""

    chat_id: int
    message_id: int
    html: str
    text: str
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    at: float
    edits: int = 0

    def bold(self) -> list[str]:
        data = self.text.encode("utf-16-le", "surrogatepass")
        return [
            data[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le", "surrogatepass")
            for e in self.entities
            if e["type"] == "bold"
        ]

    def buttons(self) -> list[dict[str, Any]]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]


def user(user_id: int, name: str = "مستخدم") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": name, "username": f"user{user_id}", "language_code": "ar"}


def private_chat(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "type": "private", "first_name": "مستخدم"}


def group_chat(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "type": "supergroup", "title": "مجموعة أخبار"}


def _text_entities(text: str) -> list[dict[str, Any]]:
    """bot_command at offset 0 and @mentions, as Telegram's clients mark them."""
    entities = []
    command = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": units(command.group())})
    for m in re.finditer(r"@[A-Za-z0-9_]{3,}", text):
        if command and m.start() < command.end():
            continue
        entities.append({"type": "mention", "offset": units(text[: m.start()]), "length": units(m.group())})
    return entities


# --- the server ---------------------------------------------------------------------------------------------
@dataclass
class FakeBotApi:
    """The Bot API as one bot sees it. Inject updates, then wait for what the bot sends."""

    token: str
    username: str = "askbot_test_bot"
    bot_id: int = 4242
    calls: list[Call] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    delivered_at: dict[int, float] = field(default_factory=dict)
    callback_answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    inline_answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhook: dict[str, Any] = field(default_factory=dict)
    base_url: str = ""

    def __post_init__(self) -> None:
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._chats: dict[int, dict[str, Any]] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._failures: dict[str, list[ApiError]] = {}
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None

    # lifecycle
    async def start(self) -> FakeBotApi:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        return self

    async def stop(self) -> None:
        self._closing = True
        self._notify()  # wake parked long polls so the server can close at once
        if self._runner:
            await self._runner.cleanup()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked after every API event) and return its value."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(
                    f"fake Bot API: condition not met in {timeout} s; calls: "
                    f"{[c.method + (' !' + c.error if c.error else '') for c in self.calls[-15:]]}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    # fault injection
    def fail(self, method: str, code: int, *, retry_after: int | None = None, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with an error (429 carries ``retry_after``)."""
        description = {
            429: f"Too Many Requests: retry after {retry_after}",
            500: "Internal Server Error",
            502: "Bad Gateway",
            503: "Service Unavailable",
        }.get(code, "Error")
        self._failures.setdefault(method, []).extend(ApiError(code, description, retry_after) for _ in range(times))

    # update injection
    def push_update(self, kind: str, payload: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, kind: payload})
        self._notify()
        return update_id

    def update_json(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """An update not queued for getUpdates (for posting to a webhook)."""
        return {"update_id": next(self._update_ids), kind: payload}

    def make_message(
        self, chat: dict[str, Any], sender: dict[str, Any], text: str, reply_to: Sent | None = None
    ) -> dict[str, Any]:
        self._chats[chat["id"]] = chat
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": sender,
            "text": text,
        }
        entities = _text_entities(text)
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = self._messages[(reply_to.chat_id, reply_to.message_id)]
        self._messages[(chat["id"], message["message_id"])] = message
        return message

    def say(self, chat: dict[str, Any], sender: dict[str, Any], text: str, reply_to: Sent | None = None) -> int:
        """A user writes ``text`` in ``chat``; returns the update id."""
        return self.push_update("message", self.make_message(chat, sender, text, reply_to))

    def press(self, sent: Sent, data: str, sender: dict[str, Any]) -> str:
        """A user presses an inline button with ``data`` under ``sent``; returns the callback query id."""
        query_id = f"cq{next(self._query_ids)}"
        message = self._messages[(sent.chat_id, sent.message_id)]
        self.push_update(
            "callback_query",
            {"id": query_id, "from": sender, "message": message, "chat_instance": f"ci{sent.chat_id}", "data": data},
        )
        return query_id

    def inline(self, sender: dict[str, Any], query: str, offset: str = "") -> str:
        """A user types ``@bot query``; returns the inline query id."""
        query_id = f"iq{next(self._query_ids)}"
        self.push_update(
            "inline_query", {"id": query_id, "from": sender, "query": query, "offset": offset, "chat_type": "sender"}
        )
        return query_id

    def register_chat(self, chat: dict[str, Any]) -> None:
        self._chats[chat["id"]] = chat

    # what the bot did
    def to_chat(self, chat_id: int) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id]

    def called(self, method: str, **params: Any) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == method and not c.error and all(c.params.get(k) == v for k, v in params.items())
        ]

    # HTTP
    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        params = await self._params(request)
        method = request.match_info["method"]
        call = Call(method, params, time.perf_counter())
        self.calls.append(call)
        self._notify()  # waiters on "was X called?" wake now, not when a long poll ends
        try:
            failures = self._failures.get(method)
            if failures:
                raise failures.pop(0)
            handler = getattr(self, f"_api_{method.lower()}", None)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            result = await handler(params)
        except ApiError as exc:
            call.error = exc.description
            body: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
            if exc.retry_after is not None:
                body["parameters"] = {"retry_after": exc.retry_after}
            self._notify()
            return web.json_response(body, status=exc.code)
        self._notify()
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return await request.json()
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if not isinstance(value, str) or key in STRING_FIELDS:
                params[key] = value
                continue
            try:
                params[key] = json.loads(value)
            except ValueError:
                params[key] = value
        return params

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        try:
            return self._chats[int(chat_id)]
        except (KeyError, TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None

    @staticmethod
    def _check_markup(markup: Any) -> None:
        for row in (markup or {}).get("inline_keyboard", []):
            for button in row:
                if not button.get("text"):
                    raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "askbot", "username": self.username}

    # methods
    async def _api_getme(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._bot_user() | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
        }

    async def _api_getupdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._updates and not self._closing:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                break
        batch = [] if self._closing else self._updates[:limit]
        now = time.perf_counter()
        for update in batch:
            self.delivered_at.setdefault(update["update_id"], now)
        return batch

    async def _api_sendmessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params.get("chat_id"))
        plain, entities = check_message_text(params.get("text"), params.get("parse_mode"))
        self._check_markup(params.get("reply_markup"))
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self._bot_user(),
            "text": plain,
        }
        if entities:
            message["entities"] = entities
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self._messages[(chat["id"], message["message_id"])] = message
        self.sent.append(
            Sent(
                chat["id"],
                message["message_id"],
                params["text"],
                plain,
                entities,
                params.get("reply_markup"),
                time.perf_counter(),
            )
        )
        return message

    async def _api_editmessagetext(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        plain, entities = check_message_text(params.get("text"), params.get("parse_mode"))
        self._check_markup(params.get("reply_markup"))
        if params.get("inline_message_id"):
            return True
        chat = self._chat(params.get("chat_id"))
        key = (chat["id"], int(params.get("message_id") or 0))
        if key not in self._messages:
            raise ApiError(400, "Bad Request: message to edit not found")
        message = self._messages[key] | {"text": plain, "entities": entities, "edit_date": int(time.time())}
        if message["text"] == self._messages[key].get("text") and params.get("reply_markup") is None:
            raise ApiError(400, "Bad Request: message is not modified")
        self._messages[key] = message
        for record in self.sent:
            if (record.chat_id, record.message_id) == key:
                record.html, record.text, record.entities = params["text"], plain, entities
                record.reply_markup = params.get("reply_markup")
                record.edits += 1
        return message

    async def _api_sendchataction(self, params: dict[str, Any]) -> bool:
        self._chat(params.get("chat_id"))
        if params.get("action") not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _api_answercallbackquery(self, params: dict[str, Any]) -> bool:
        query_id = params.get("callback_query_id", "")
        if query_id in self.callback_answers or not str(query_id).startswith("cq"):
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        if len(params.get("text") or "") > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.callback_answers[query_id] = params
        return True

    async def _api_answerinlinequery(self, params: dict[str, Any]) -> bool:
        results = params.get("results") or []
        if len(results) > MAX_INLINE_RESULTS:
            raise ApiError(400, "Bad Request: RESULTS_TOO_MUCH")
        ids = [r.get("id", "") for r in results]
        if len(set(ids)) != len(ids) or any(not 1 <= len(i.encode()) <= MAX_RESULT_ID_BYTES for i in ids):
            raise ApiError(400, "Bad Request: RESULT_ID_INVALID or duplicate")
        for result in results:
            if result.get("type") != "article" or not result.get("title"):
                raise ApiError(400, "Bad Request: RESULT_TYPE_INVALID or missing title")
            content = result.get("input_message_content") or {}
            check_message_text(content.get("message_text"), content.get("parse_mode"))
            self._check_markup(result.get("reply_markup"))
        if len((params.get("next_offset") or "").encode()) > 64:
            raise ApiError(400, "Bad Request: NEXT_OFFSET_INVALID")
        self.inline_answers[params.get("inline_query_id", "")] = params
        return True

    async def _api_setmycommands(self, params: dict[str, Any]) -> bool:
        for command in params.get("commands") or []:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command.get("command", "")):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        return True

    async def _api_deletewebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = {}
        return True

    async def _api_setwebhook(self, params: dict[str, Any]) -> bool:
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = params
        return True

    async def _api_getwebhookinfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False, "pending_update_count": 0}

    async def _api_close(self, params: dict[str, Any]) -> bool:
        return True
