"""Answers as Telegram HTML: escaped corpus text, bold sentences, citation lines, split to the message limit."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

from telegram.constants import MessageLimit

from askbot.types import Answer, Citation, Excerpt

MAX_MESSAGE_UNITS = MessageLimit.MAX_TEXT_LENGTH  # counted in UTF-16 code units after entity parsing
LINK_SCHEMES = ("http://", "https://")

# A well-formed Telegram HTML fragment is a run of tags, entities and plain text.
_TOKEN = re.compile(r"<[^<>]*>|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z]+);|[^<&]+")
_TAG_NAME = re.compile(r"</?\s*([a-zA-Z-]+)")
_SENTENCE_END = re.compile(r"(?:[.!?؟؛…]+[\"'»”)]*\s+|\n+)")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def visible_len(fragment: str) -> int:
    """UTF-16 length of an HTML fragment's text once tags are dropped and entities decoded."""
    return utf16_len(visible_text(fragment))


def esc(text: str) -> str:
    """Escape corpus text for Telegram HTML (``<``, ``>``, ``&`` and quotes)."""
    return html.escape(text, quote=True)


def split_html(chunks: Iterable[str], limit: int = MAX_MESSAGE_UNITS) -> list[str]:
    """Pack well-formed HTML chunks into messages of at most ``limit`` visible UTF-16 units.

    Chunks are kept whole when they fit (callers pass one excerpt or one sentence per chunk); a chunk larger
    than a message is cut at a sentence end or a space inside its text, never inside a tag or an entity,
    closing the tags open at the cut and reopening them in the next message. Messages with no visible text
    are dropped and each message is stripped, as Telegram strips them.
    """
    messages: list[str] = []
    current: list[str] = []
    used = 0
    for chunk in chunks:
        size = visible_len(chunk)
        if used + size <= limit:
            current.append(chunk)
            used += size
            continue
        if current:
            messages.append("".join(current))
            current, used = [], 0
        if size <= limit:
            current, used = [chunk], size
            continue
        *whole, last = _cut_fragment(chunk, limit)
        messages.extend(whole)
        current, used = [last], visible_len(last)
    if current:
        messages.append("".join(current))
    return [m.strip() for m in messages if visible_text(m).strip()]


def visible_text(fragment: str) -> str:
    """The text of an HTML fragment as Telegram shows it: tags dropped, entities decoded."""
    return "".join(html.unescape(t) for t in _TOKEN.findall(fragment) if not t.startswith("<"))


def _cut_fragment(fragment: str, limit: int) -> list[str]:
    """Cut one oversized fragment into pieces of at most ``limit`` visible units, tags kept balanced."""
    pieces: list[str] = []
    open_tags: list[tuple[str, str]] = []  # (name, opening tag as written)
    parts: list[str] = []
    used = 0

    def flush() -> None:
        nonlocal parts, used
        closing = "".join(f"</{name}>" for name, _ in reversed(open_tags))
        pieces.append("".join(parts) + closing)
        parts, used = [tag for _, tag in open_tags], 0

    for token in _TOKEN.findall(fragment):
        if token.startswith("<"):
            name = _TAG_NAME.match(token)
            if token.startswith("</"):
                if open_tags:
                    open_tags.pop()
            elif name:
                open_tags.append((name.group(1).lower(), token))
            parts.append(token)
            continue
        if token.startswith("&"):
            size = utf16_len(html.unescape(token))
            if used + size > limit:
                flush()
            parts.append(token)
            used += size
            continue
        text = token
        while text:
            room = limit - used
            if utf16_len(text) <= room:
                parts.append(text)
                used += utf16_len(text)
                break
            cut = _best_cut(text, room)
            if cut == 0 and used:
                flush()
                continue
            cut = max(cut, 1)  # a limit under one character still makes progress
            parts.append(text[:cut])
            used += utf16_len(text[:cut])
            flush()
            text = text[cut:]
    pieces.append("".join(parts) + "".join(f"</{name}>" for name, _ in reversed(open_tags)))
    return pieces


def _best_cut(text: str, room: int) -> int:
    """The longest prefix of ``text`` within ``room`` units, ending at a sentence end, else a space."""
    fit = 0
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > room:
            break
        fit = index + 1
    if fit == 0:
        return 0
    head = text[:fit]
    sentence_ends = [m.end() for m in _SENTENCE_END.finditer(head)]
    if sentence_ends and sentence_ends[-1] >= fit // 2:
        return sentence_ends[-1]
    space = max(head.rfind(" "), head.rfind("\n"))
    if space >= fit // 2:
        return space + 1
    return fit


def sentence_chunks(text: str) -> list[str]:
    """Split plain text into escaped chunks at sentence ends, so long passages split between sentences."""
    chunks: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        chunks.append(esc(text[start : match.end()]))
        start = match.end()
    if start < len(text):
        chunks.append(esc(text[start:]))
    return chunks


def citation_line(citation: Citation, passage_id: int = -1) -> str:
    """One line: title, source, date, link when there is one, and the /source command for the passage."""
    parts = [f"<i>{esc(citation.title or 'بلا عنوان')}</i>"]
    if citation.source:
        parts.append(esc(citation.source))
    if citation.published:
        parts.append(esc(citation.published[:10]))
    if citation.url.lower().startswith(LINK_SCHEMES):
        parts.append(f'<a href="{esc(citation.url)}">الرابط</a>')
    if passage_id >= 0:
        parts.append(f"<code>/source {passage_id}</code>")
    return "📰 " + " · ".join(parts)


def _marked_excerpt(excerpt: Excerpt) -> str:
    """The excerpt's text, escaped, with its best sentence in bold (found by offsets, else by search)."""
    text = excerpt.text
    start = excerpt.sentence_start - excerpt.citation.start
    end = excerpt.sentence_end - excerpt.citation.start
    if not (0 <= start < end <= len(text) and text[start:end] == excerpt.sentence):
        start = text.find(excerpt.sentence) if excerpt.sentence else -1
        end = start + len(excerpt.sentence)
    if start < 0 or not excerpt.sentence:
        return esc(text)
    a_start = excerpt.answer_start - excerpt.citation.start
    a_end = excerpt.answer_end - excerpt.citation.start
    if excerpt.answer_start >= 0 and start <= a_start < a_end <= end:  # the answer itself: bold and underlined
        sentence = f"{esc(text[start:a_start])}<u>{esc(text[a_start:a_end])}</u>{esc(text[a_end:end])}"
    else:
        sentence = esc(text[start:end])
    return f"{esc(text[:start])}<b>{sentence}</b>{esc(text[end:])}"


def excerpt_html(excerpt: Excerpt, number: int | None = None) -> str:
    """One excerpt as a single chunk: number, marked text, citation line, other sources of the same text."""
    head = f"<b>{number}.</b> " if number is not None else ""
    lines = [head + _marked_excerpt(excerpt).strip(), citation_line(excerpt.citation, excerpt.passage_id)]
    if excerpt.also_in:
        others = "، ".join(esc(" · ".join(p for p in (c.title, c.source) if p)) for c in excerpt.also_in[:3])
        lines.append(f"↪️ ورد أيضًا في: {others}")
    return "\n".join(lines) + "\n\n"


def answer_chunks(answer: Answer, *, first_number: int = 1, notices: Sequence[str] = ()) -> list[str]:
    """The chunks of a reply: notices (already HTML), then one chunk per excerpt, or the not-found text."""
    chunks = [notice + "\n\n" for notice in notices]
    if not answer.found or not answer.excerpts:
        chunks.append("لم أجد في الأخبار المفهرسة ما يجيب عن سؤالك.\n")
        if answer.message:
            chunks.append(f"<i>{esc(answer.message)}</i>\n")
        if answer.nearest_titles:
            chunks.append("أقرب العناوين إلى سؤالك:\n")
            chunks.extend(f"• {esc(title)}\n" for title in answer.nearest_titles)
        else:
            chunks.append("جرّب صياغة أخرى أو كلمات من عنوان الخبر.\n")
        return chunks
    if answer.message:  # e.g. the period the question was understood to be about
        chunks.append(f"ℹ️ <i>{esc(answer.message)}</i>\n\n")
    chunks.extend(excerpt_html(e, first_number + i) for i, e in enumerate(answer.excerpts))
    chunks.append(f"<i>الثقة / confidence: {answer.confidence:.2f}</i>\n")
    return chunks


def passage_chunks(excerpt: Excerpt) -> list[str]:
    """A whole passage for /source: citation first, then the text split between sentences."""
    return [citation_line(excerpt.citation, excerpt.passage_id) + "\n\n", *sentence_chunks(excerpt.text)]


def clip(text: str, limit: int) -> str:
    """Cut plain text to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"
