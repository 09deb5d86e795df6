"""split_html and the answer formatting: any corpus text yields valid Telegram HTML within the limit."""

from __future__ import annotations

import html

from fakeapi import HtmlError, check_message_text, parse_html, units
from hypothesis import example, given, settings
from hypothesis import strategies as st

from askbot.telegram.formatting import (
    MAX_MESSAGE_UNITS,
    answer_chunks,
    citation_line,
    esc,
    excerpt_html,
    passage_chunks,
    sentence_chunks,
    split_html,
    visible_len,
)
from askbot.types import Answer, Citation, Excerpt

HOSTILE = "<b>bold?</b> & &amp; &lt;script&gt; <a href='x'> \"quoted\" 'single' </i> ]]> &#0; &#xD800; <"
# Arabic, emoji (two UTF-16 units each), markup characters, whitespace and sentence ends.
corpus_text = st.lists(
    st.one_of(
        st.sampled_from(list("ابتثجحخدذرسشصضطظعغفقكلمنهوي ءآأإؤئةى٠١٢،؛؟.!\n \t<>&\"';#/")),
        st.sampled_from(["😀", "👍🏽", "𝕏", "\u200f", "\u200d", "&amp;", "</b>", "<b>", "&#1576;", ". ", "؟ "]),
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
    ),
    max_size=400,
).map("".join)


def _check(messages: list[str], limit: int) -> str:
    """Every message parses as Telegram HTML, fits the limit; returns the visible text of all."""
    shown = []
    for message in messages:
        text, _ = parse_html(message)
        assert units(text) <= limit, (units(text), limit)
        assert text.strip()
        shown.append(text)
    return "".join(shown)


def _squash(text: str) -> str:
    return "".join(text.split())


@given(st.lists(corpus_text, max_size=12), st.sampled_from([8, 40, 200, MAX_MESSAGE_UNITS]))
@example([HOSTILE * 60], MAX_MESSAGE_UNITS)
@example(["ا" * 5000], MAX_MESSAGE_UNITS)
@example(["😀" * 3000], MAX_MESSAGE_UNITS)
@settings(max_examples=300, deadline=None)
def test_split_escaped_text_is_valid_and_loses_nothing(texts: list[str], limit: int) -> None:
    chunks = [f"<b>{esc(t)}</b>" if i % 3 == 0 else esc(t) for i, t in enumerate(texts)]
    messages = split_html(chunks, limit)
    shown = _check(messages, limit)
    assert _squash(shown) == _squash("".join(texts))


@given(corpus_text, corpus_text, corpus_text, st.sampled_from([16, 100, MAX_MESSAGE_UNITS]))
@settings(max_examples=200, deadline=None)
def test_split_keeps_nested_tags_balanced(before: str, inner: str, after: str, limit: int) -> None:
    fragment = f'{esc(before)}<i><a href="https://example.com/?a=1&amp;b=2">{esc(inner)}<b>{esc(after)}</b></a></i>'
    messages = split_html([fragment * 3], limit)
    shown = _check(messages, limit)
    assert _squash(shown) == _squash((before + inner + after) * 3)


@given(st.lists(corpus_text, min_size=1, max_size=6))
@settings(max_examples=100, deadline=None)
def test_answers_from_any_corpus_text_are_valid(texts: list[str]) -> None:
    excerpts = tuple(_excerpt(t * 8, title=t[:50], url="https://example.com/<x>&y") for t in texts)
    answer = Answer("سؤال", True, excerpts)
    for message in split_html(answer_chunks(answer, notices=["<i>ملاحظة</i>"])):
        check_message_text(message, "HTML")
    for excerpt in excerpts:
        for message in split_html(passage_chunks(excerpt)):
            check_message_text(message, "HTML")


def test_whole_chunks_are_kept_together_when_they_fit() -> None:
    chunks = [f"<b>{i}.</b> " + "كلمة " * 300 + "\n\n" for i in range(6)]  # ~1500 units each
    messages = split_html(chunks)
    assert len(messages) == 3
    for message in messages:
        assert message.count("<b>") == 2  # two whole excerpts per message, none cut
        assert visible_len(message) <= MAX_MESSAGE_UNITS


def test_long_text_is_cut_at_a_sentence_end() -> None:
    sentence = "وقّع الطرفان اتفاقية أمنية مشتركة لحماية الحدود. "
    messages = split_html(sentence_chunks(sentence * 200))
    assert len(messages) > 1
    for message in messages:
        assert message.endswith("الحدود.")


def test_oversized_chunk_closes_and_reopens_tags() -> None:
    messages = split_html(['<a href="https://x.org">' + "كلمة " * 2000 + "</a>"])
    assert len(messages) == 3
    for message in messages:
        assert message.startswith('<a href="https://x.org">') and message.endswith("</a>")
        parse_html(message)


def test_emoji_count_two_units() -> None:
    assert visible_len("😀&amp;") == 3
    messages = split_html(["😀" * 2049])
    assert [units(parse_html(m)[0]) for m in messages] == [4096, 2]


def test_excerpt_marks_the_sentence_and_escapes_everything() -> None:
    excerpt = _excerpt(f"قبل. {HOSTILE} بعد.", title="<عنوان> & ملحق", url="https://news.example/a?x=1&y=<2>")
    body = excerpt_html(excerpt, 1)
    text, entities = parse_html(body)
    assert HOSTILE in text and "<عنوان> & ملحق" in text
    bold = [text[e["offset"] : e["offset"] + e["length"]] for e in entities if e["type"] == "bold"]
    assert any(HOSTILE.strip() in b for b in bold)
    [link] = [e for e in entities if e["type"] == "text_link"]
    assert link["url"] == "https://news.example/a?x=1&y=<2>"


def test_not_found_lists_the_nearest_titles_escaped() -> None:
    answer = Answer("سؤال", False, nearest_titles=("أسعار <النفط> & الغاز", "برشلونة"))
    [message] = split_html(answer_chunks(answer))
    text, _ = parse_html(message)
    assert text.startswith("لم أجد") and "• أسعار <النفط> & الغاز\n• برشلونة" in text


def test_citation_line_drops_links_that_are_not_http() -> None:
    line = citation_line(Citation("t", "s", "2023-03-19T04:46:00", "javascript:alert(1)", "a", 0, 1), 7)
    assert "href" not in line and "2023-03-19" in line and "/source 7" in line
    parse_html(line)


def test_parser_refuses_what_telegram_refuses() -> None:
    for bad in ["<b>x", "x</b>", "<script>x</script>", "a < b", "a & b", "<b><i>x</b></i>", "&nbsp;", "<span>x</span>"]:
        try:
            parse_html(bad)
        except HtmlError:
            continue
        raise AssertionError(f"accepted {bad!r}")
    assert parse_html("&lt;&#1576;&#x628;&quot;")[0] == '<بب"'
    assert html.unescape(esc(HOSTILE)) == HOSTILE


def _excerpt(text: str, title: str = "عنوان", url: str = "") -> Excerpt:
    sentence_start = text.find(".") + 1 if "." in text else 0
    sentence = text[sentence_start:].strip()
    start = text.find(sentence, sentence_start) if sentence else 0
    citation = Citation(title, "المصدر", "2023-03-19", url, "a1", 100, 100 + len(text))
    return Excerpt(text, sentence, 100 + start, 100 + start + len(sentence), 0.9, citation, passage_id=3)
