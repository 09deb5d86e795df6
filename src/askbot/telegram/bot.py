"""The bot: thin async handlers between Telegram updates and the knowledge base, and the Application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Collection, Coroutine, Sequence
from dataclasses import dataclass, replace
from typing import Any

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import (
    ChatAction,
    ChatType,
    InlineQueryLimit,
    ParseMode,
)
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from askbot.telegram import followup, texts
from askbot.telegram.asker import Asker, KnowledgeBaseLike
from askbot.telegram.formatting import (
    MAX_MESSAGE_UNITS,
    answer_chunks,
    citation_line,
    clip,
    esc,
    excerpt_html,
    passage_chunks,
    split_html,
    visible_len,
)
from askbot.telegram.limits import DEFAULT_USER_RATE, UserRateLimiter, recall_question, remember_question
from askbot.telegram.redact import hide_secrets
from askbot.types import Answer, Excerpt

log = logging.getLogger(__name__)

DEFAULT_K = 5
DEFAULT_MAX_QUESTION_CHARS = 1000
INLINE_PAGE = InlineQueryLimit.RESULTS  # results per inline answer; Telegram asks again with next_offset
INLINE_CACHE_S = 60
INLINE_TITLE_CHARS = 100  # what a client shows of a result's title and description
INLINE_DESCRIPTION_CHARS = 200
CONCURRENT_UPDATES = 64  # handlers mostly wait (on Telegram, on the single knowledge-base worker)
RATE_LIMIT_RETRIES = 3  # AIORateLimiter waits out a 429's retry_after and tries again this many times
SERVER_ERROR_RETRIES = 3  # a 5xx answering a reply is retried this many times, backing off from 0.5 s
SERVER_ERROR_BACKOFF_S = 0.5
RETRIED_ON_SERVER_ERROR = frozenset({"sendMessage", "editMessageText", "answerCallbackQuery", "answerInlineQuery"})
PASSAGE_BUTTONS_PER_ROW = 3
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.INLINE_QUERY]
ApiResult = bool | dict[str, Any] | list[dict[str, Any]]  # what a Bot API call returns, as JSON
_MORE = re.compile(r"m:([0-9a-z]+):([0-9]+)")
_PASSAGE = re.compile(r"p:([0-9]+)")


@dataclass(frozen=True)
class BotOptions:
    """How the bot answers. ``askbot telegram`` fills these from Settings (ASKBOT_TOP_K, ASKBOT_MAX_QUESTION_CHARS)
    and its own flags (--user-rate, --allow)."""

    k: int = DEFAULT_K
    max_question_chars: int = DEFAULT_MAX_QUESTION_CHARS
    user_rate: tuple[int, float] = DEFAULT_USER_RATE  # (questions, seconds); (0, 0) turns it off
    allow: frozenset[int] | None = None  # chat ids; None lets every chat in
    concurrent_updates: int = CONCURRENT_UPDATES


class FloodLimiter(AIORateLimiter):
    """PTB's AIORateLimiter (30 messages/s overall, 20/min per group, 429s waited out) for messages only.

    The "typing…" chat action is not a message: counting it would halve how many answers fit in Telegram's
    30 per second and delay every reply behind its own typing indicator. It is sent unthrottled; if Telegram
    ever refuses one, the answer is sent anyway.
    """

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, ApiResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> ApiResult:
        if endpoint == "sendChatAction":
            return await callback(*args, **kwargs)
        for attempt in range(SERVER_ERROR_RETRIES + 1):
            try:
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
            except TimedOut:
                raise  # the server may have acted on it: a retry could send the answer twice
            except NetworkError:
                # a 5xx or a refused connection: Telegram did not act on it, so sending again loses nothing
                if endpoint not in RETRIED_ON_SERVER_ERROR or attempt == SERVER_ERROR_RETRIES:
                    raise
                await asyncio.sleep(SERVER_ERROR_BACKOFF_S * 2**attempt)
        raise AssertionError("unreachable")


class AskbotHandlers:
    """The handlers, sharing the knowledge base worker, the options and the per-user limiter."""

    def __init__(self, asker: Asker, options: BotOptions) -> None:
        self.asker = asker
        self.options = options
        questions, seconds = options.user_rate
        self.limiter = UserRateLimiter(questions, seconds) if questions > 0 else None

    def register(self, app: Application) -> None:
        if self.options.allow is not None:
            app.add_handler(TypeHandler(Update, self.gate), group=-1)
        app.add_handler(CommandHandler(["start", "help"], self.help))
        app.add_handler(CommandHandler("about", self.about))
        app.add_handler(CommandHandler("source", self.source))
        app.add_handler(CommandHandler("latest", self.latest))
        app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, self.question))
        app.add_handler(CallbackQueryHandler(self.button, pattern=r"^[mp]:"))
        app.add_handler(InlineQueryHandler(self.inline))
        app.add_error_handler(self.error)

    # ---- gate ---------------------------------------------------------------------------------
    async def gate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Drop updates from chats outside the allowlist (inline queries count by the asking user)."""
        allow = self.options.allow or frozenset()
        chat, user = update.effective_chat, update.effective_user
        ident = chat.id if chat else (user.id if user else None)
        if ident not in allow:
            log.info("ignored an update from chat %s (not in the allowlist)", ident)
            raise ApplicationHandlerStop

    # ---- commands -----------------------------------------------------------------------------
    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        info = await self.asker.info()
        await self._send(context.bot, update, [texts.help_text(info, context.bot.username)])

    async def about(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._send(context.bot, update, [texts.about_text(await self.asker.info())])

    async def latest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        articles = await self.asker.latest(texts.LATEST_COUNT)
        await self._send(context.bot, update, [texts.latest_text(articles)])

    async def source(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        args = context.args or []
        if len(args) != 1 or not args[0].isdigit():
            await self._send(context.bot, update, [texts.SOURCE_USAGE])
            return
        await self._send_passage(context.bot, update, int(args[0]))

    # ---- questions ----------------------------------------------------------------------------
    async def question(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        user = update.effective_user
        if message is None or user is None:
            return
        text = addressed_text(message, context.bot)
        if not text:
            return
        if await self._rate_limited(context.bot, update, user.id):
            return
        notices: list[str] = []
        limit = self.options.max_question_chars
        if len(text) > limit:
            text = text[:limit]
            notices.append(texts.QUESTION_CUT.format(limit=limit))
        chat_data = context.chat_data if context.chat_data is not None else {}
        last_questions: dict[int, str] = chat_data.setdefault("last_question", {})
        asked, joined = followup.resolve(text, last_questions.get(user.id))
        if joined:
            asked = asked[-limit:]
            notices.append(texts.FOLLOWUP.format(question=esc(clip(asked, 200))))
        last_questions[user.id] = asked
        key = remember_question(chat_data, asked)
        answer = await self._ask_typing(context.bot, message.chat_id, asked, 0)
        markup = keyboard(answer, key, 0, self.options.k)
        await self._send(context.bot, update, answer_chunks(answer, notices=notices), markup)

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.data is None:
            return
        passage, more = _PASSAGE.fullmatch(query.data), _MORE.fullmatch(query.data)
        if passage:
            await query.answer()
            await self._send_passage(context.bot, update, int(passage.group(1)))
            return
        if more is None or update.effective_chat is None:
            await query.answer(texts.EXPIRED)
            return
        question = recall_question(context.chat_data or {}, more.group(1))
        if question is None:
            await query.answer(texts.EXPIRED, show_alert=True)
            return
        wait = self.limiter.wait_s(query.from_user.id) if self.limiter else 0.0
        if wait:
            await query.answer(texts.RATE_LIMITED.format(seconds=round(wait + 0.5)), show_alert=True)
            return
        await query.answer()
        offset = int(more.group(2))
        answer = await self._ask_typing(context.bot, update.effective_chat.id, question, offset)
        if not (answer.found and answer.excerpts):
            await self._send(context.bot, update, [texts.NO_MORE])
            return
        markup = keyboard(answer, more.group(1), offset, self.options.k)
        await self._send(context.bot, update, answer_chunks(answer, first_number=offset + 1), markup)

    async def inline(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.inline_query
        if query is None:
            return
        text = query.query.strip()[: self.options.max_question_chars]
        if not text:
            await query.answer(
                [],
                cache_time=INLINE_CACHE_S,
                button=InlineQueryResultsButton(text=texts.INLINE_HINT, start_parameter="help"),
            )
            return
        offset = int(query.offset) if query.offset.isdigit() else 0
        answer = await self.asker.ask(text, INLINE_PAGE, offset)
        excerpts = answer.excerpts if answer.found else ()
        results = [inline_result(excerpt, offset + i) for i, excerpt in enumerate(excerpts[:INLINE_PAGE])]
        next_offset = str(offset + len(results)) if len(results) == INLINE_PAGE else ""
        await query.answer(results, cache_time=INLINE_CACHE_S, next_offset=next_offset)

    # ---- errors -------------------------------------------------------------------------------
    async def error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the failure (secrets redacted by the log filter) and tell the user something short."""
        if not isinstance(update, Update):
            log.warning("Telegram connection problem: %s", context.error)
            return
        log.error("handler failed on update %s", update.update_id, exc_info=context.error)
        with contextlib.suppress(TelegramError):
            if update.callback_query:
                await update.callback_query.answer(texts.ERROR)
            elif update.effective_chat and not update.inline_query:
                await context.bot.send_message(update.effective_chat.id, texts.ERROR)

    # ---- helpers ------------------------------------------------------------------------------
    async def _rate_limited(self, bot: Bot, update: Update, user_id: int) -> bool:
        wait = self.limiter.wait_s(user_id) if self.limiter else 0.0
        if wait:
            await self._send(bot, update, [texts.RATE_LIMITED.format(seconds=round(wait + 0.5))])
        return bool(wait)

    async def _ask_typing(self, bot: Bot, chat_id: int, question: str, offset: int) -> Answer:
        """Ask while the chat shows "typing…"."""
        answer, _ = await asyncio.gather(self.asker.ask(question, self.options.k, offset), _typing(bot, chat_id))
        return answer

    async def _send_passage(self, bot: Bot, update: Update, passage_id: int) -> None:
        excerpt = await self.asker.passage(passage_id)
        if excerpt is None:
            await self._send(bot, update, [texts.NO_PASSAGE.format(number=passage_id)])
            return
        await self._send(bot, update, passage_chunks(excerpt))

    @staticmethod
    async def _send(
        bot: Bot, update: Update, chunks: Sequence[str], markup: InlineKeyboardMarkup | None = None
    ) -> None:
        """Send HTML chunks as as many messages as the limit needs; buttons go under the last one."""
        chat = update.effective_chat
        if chat is None:
            return
        message = update.message
        reply_to = (
            ReplyParameters(message.message_id, allow_sending_without_reply=True)
            if message is not None and chat.type != ChatType.PRIVATE
            else None
        )
        parts = split_html(chunks)
        for number, part in enumerate(parts, 1):
            await bot.send_message(
                chat.id,
                part,
                reply_parameters=reply_to if number == 1 else None,
                reply_markup=markup if number == len(parts) else None,
            )


async def _typing(bot: Bot, chat_id: int) -> None:
    try:
        await bot.send_chat_action(chat_id, ChatAction.TYPING)
    except TelegramError as exc:  # "typing…" is a courtesy; the answer matters
        log.debug("sendChatAction failed: %s", exc)


def addressed_text(message: Message, bot: Bot) -> str | None:
    """The question in ``message``: all of it in a private chat; in a group only when the bot is mentioned
    (the mention removed) or the message replies to the bot; else None."""
    text = message.text or ""
    if message.chat.type == ChatType.PRIVATE:
        return text.strip()
    mention = f"@{bot.username}".lower()
    mentions = [
        (entity.offset, entity.length)
        for entity, value in message.parse_entities([MessageEntity.MENTION]).items()
        if value.lower() == mention
    ]
    replied = (
        message.reply_to_message is not None
        and message.reply_to_message.from_user is not None
        and (message.reply_to_message.from_user.id == bot.id)
    )
    if not mentions and not replied:
        return None
    pattern = re.compile(re.escape(mention), re.IGNORECASE)
    return " ".join(pattern.sub(" ", text).split())


def keyboard(answer: Answer, key: str, offset: int, k: int) -> InlineKeyboardMarkup | None:
    """Buttons under an answer: the full passage of each excerpt, and more results when the page was full.

    Callback data stays far below InlineKeyboardButtonLimit.MAX_CALLBACK_DATA (64 bytes): "p:<passage id>" and
    "m:<question key>:<offset>", the question itself kept in chat_data under its short key.
    """
    if not answer.found:
        return None
    buttons = [
        InlineKeyboardButton(texts.PASSAGE_BUTTON.format(number=offset + i), callback_data=f"p:{e.passage_id}")
        for i, e in enumerate(answer.excerpts, 1)
        if e.passage_id >= 0
    ]
    rows = [buttons[i : i + PASSAGE_BUTTONS_PER_ROW] for i in range(0, len(buttons), PASSAGE_BUTTONS_PER_ROW)]
    if len(answer.excerpts) >= k:
        rows.append([InlineKeyboardButton(texts.MORE_BUTTON, callback_data=f"m:{key}:{offset + k}")])
    return InlineKeyboardMarkup(rows) if rows else None


def inline_result(excerpt: Excerpt, position: int) -> InlineQueryResultArticle:
    """One inline choice: the excerpt with its citation, shortened to the sentence if it would not fit."""
    body = excerpt_html(excerpt).strip()
    if visible_len(body) > MAX_MESSAGE_UNITS:
        body = split_html([f"<b>{esc(excerpt.sentence)}</b>\n", citation_line(excerpt.citation, excerpt.passage_id)])[0]
    return InlineQueryResultArticle(
        id=f"{position}:{excerpt.passage_id}",
        title=clip(excerpt.citation.title or excerpt.sentence, INLINE_TITLE_CHARS),
        description=clip(excerpt.sentence, INLINE_DESCRIPTION_CHARS),
        input_message_content=InputTextMessageContent(body, parse_mode=ParseMode.HTML),
    )


def build_application(
    kb: KnowledgeBaseLike,
    token: str,
    *,
    base_url: str | None = None,
    allow: Collection[int] | None = None,
    options: BotOptions | None = None,
) -> Application:
    """The bot as a PTB Application over ``kb``: handlers, Telegram's flood limits, secrets kept out of logs.

    ``base_url`` points at another Bot API server (``http://127.0.0.1:8081/bot``; the token is appended).
    """
    options = options or BotOptions()
    if allow is not None:
        options = replace(options, allow=frozenset(allow))
    hide_secrets(token)
    asker = Asker(kb)

    async def post_init(app: Application) -> None:
        commands = list(texts.COMMANDS.items())
        try:
            await app.bot.set_my_commands(commands)
        except TelegramError as exc:
            log.warning("could not set the command menu: %s", exc)

    async def post_shutdown(app: Application) -> None:
        asker.close()

    builder = (
        ApplicationBuilder()
        .token(token)
        .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .rate_limiter(FloodLimiter(max_retries=RATE_LIMIT_RETRIES))
        .concurrent_updates(options.concurrent_updates)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if base_url:
        builder = builder.base_url(base_url)
    app = builder.build()
    handlers = AskbotHandlers(asker, options)
    handlers.register(app)
    app.bot_data["askbot"] = handlers
    return app


@contextlib.asynccontextmanager
async def polling(app: Application, *, timeout: int = 10) -> AsyncIterator[Application]:
    """Long-poll with ``app`` inside an event loop that is already running (tests, benchmarks, embedding the
    bot in another program): what ``Application.run_polling`` does, without owning the loop or signals."""
    await app.initialize()
    if app.post_init:
        await app.post_init(app)
    assert app.updater is not None, "the Application was built without an Updater"
    await app.updater.start_polling(allowed_updates=ALLOWED_UPDATES, poll_interval=0.0, timeout=timeout)
    await app.start()
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)
