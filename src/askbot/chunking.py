"""Article -> Passages: sentence-aware windows that fit the model, with exact character offsets.

Passages are runs of whole sentences up to ``max_tokens`` model tokens. Consecutive passages share
``overlap`` sentences, so a sentence that answers a question is always quoted with at least one
neighbour of context, whichever side of a boundary it falls on. A sentence longer than the budget on
its own is cut into balanced pieces at clause boundaries, never into a fragment of a few words.
Every passage satisfies ``article.text[p.start:p.end] == p.text``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from askbot.arabic import sentence_spans
from askbot.types import Article, Passage

TokenCounter = Callable[[str], int]
_WORD = re.compile(r"\S+")


def _approx_tokens(text: str) -> int:
    """XLM-R averages about 1.6 tokens per Arabic word; good enough when no tokenizer is at hand."""
    return int(len(text.split()) * 1.6) + 2


# Where a sentence too long for a passage is best cut: after a clause mark, or before a word that opens a
# clause (و/ف/ثم, "which"/"and"); any other word boundary only when no such place is near.
_CLAUSE_END = re.compile(r"[،؛,;:]$")
_CLAUSE_START = re.compile(r"^(?:و|ف|ثم$|حيث$|التي$|الذي$|الذين$|and$|but$|which$|while$)")
MIN_PASSAGE_WORDS = 8  # no passage shorter than this unless the article is


def _split_long(text: str, start: int, end: int, budget: int, count: TokenCounter) -> list[tuple[int, int]]:
    """Cut one over-long sentence into balanced pieces of at most half the budget, at clause boundaries.

    Pieces of half the budget mean any two neighbours fit one passage, so with the passages' overlap every
    piece is quoted with context; balanced pieces mean no tail of a few words is left on its own.
    """
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
    if not words:
        return []
    total = count(text[start:end])
    pieces = max(2, -(-total // max(1, budget // 2)))
    target = total / pieces
    cut_at: list[int] = []  # indexes of the words that start a new piece
    first = 0
    while first < len(words):
        last = first
        while last + 1 < len(words) and count(text[words[first][0] : words[last + 1][1]]) <= target:
            last += 1
        if last + 1 >= len(words):
            break
        best = last + 1  # the next piece starts here unless a clause boundary lies near
        for j in range(last + 1, first + max(1, (last - first) * 2 // 3), -1):
            before, opening = text[words[j - 1][0] : words[j - 1][1]], text[words[j][0] : words[j][1]]
            if _CLAUSE_END.search(before) or _CLAUSE_START.match(opening):
                best = j
                break
        cut_at.append(best)
        first = best
    bounds = [0, *cut_at, len(words)]
    spans = [(words[a][0], words[b - 1][1]) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    if len(spans) > 1 and len(text[spans[-1][0] : spans[-1][1]].split()) < MIN_PASSAGE_WORDS:
        merged = (spans[-2][0], spans[-1][1])
        if count(text[merged[0] : merged[1]]) <= budget:
            spans[-2:] = [merged]
    out: list[tuple[int, int]] = []
    for s, e in spans:  # a piece still over budget (one enormous "word", a rare clause layout): cut at words
        out.extend(_fit(text, s, e, budget, count) if count(text[s:e]) > budget else [(s, e)])
    return out


def _fit(text: str, start: int, end: int, budget: int, count: TokenCounter) -> Iterator[tuple[int, int]]:
    """Word-aligned pieces within the budget, greedily (the fallback of :func:`_split_long`)."""
    piece_start = piece_end = -1
    for m in _WORD.finditer(text, start, end):
        if piece_start < 0:
            piece_start, piece_end = m.start(), m.end()
            continue
        if count(text[piece_start : m.end()]) > budget:
            yield piece_start, piece_end
            piece_start = m.start()
        piece_end = m.end()
    if piece_start >= 0:
        yield piece_start, piece_end


def _units(text: str, budget: int, count: TokenCounter) -> list[tuple[int, int, int]]:
    """Sentences as (start, end, tokens), over-long ones already cut to fit."""
    units: list[tuple[int, int, int]] = []
    for start, end in sentence_spans(text):
        n = count(text[start:end])
        if n <= budget:
            units.append((start, end, n))
        else:
            units.extend((s, e, count(text[s:e])) for s, e in _split_long(text, start, end, budget, count))
    return units


def chunk_article(
    article: Article,
    max_tokens: int = 200,
    overlap: int = 1,
    count_tokens: TokenCounter | None = None,
) -> list[Passage]:
    """Split ``article.text`` into passages of whole sentences, at most ``max_tokens`` each."""
    count = count_tokens or _approx_tokens
    text = article.text
    units = _units(text, max_tokens, count)
    passages: list[Passage] = []
    i = 0
    while i < len(units):
        j, used = i, 0
        while j < len(units) and (j == i or used + units[j][2] <= max_tokens):
            used += units[j][2]
            j += 1
        start, end = units[i][0], units[j - 1][1]
        if passages and start >= passages[-1].start and end <= passages[-1].end:
            pass  # wholly inside the previous passage (a big unit after the overlap step): nothing new to quote
        elif overlap > 0 and passages and len(text[start:end].split()) < MIN_PASSAGE_WORDS:
            # a short tail: quoted with what precedes it, as far back as the budget allows; when not even the
            # previous unit fits beside it, it joins the previous passage (over the budget by a few words, still
            # far inside the model's 512-token window)
            first = i
            while first > 0 and sum(u[2] for u in units[first - 1 : j]) <= max_tokens:
                first -= 1
            start = units[first][0] if first < i else passages[-1].start
            if start <= passages[-1].start:
                start = passages.pop().start  # the previous passage is wholly inside this one
            passages.append(Passage(article.id, len(passages), start, end, text[start:end]))
        else:
            passages.append(Passage(article.id, len(passages), start, end, text[start:end]))
        if j >= len(units):
            break
        # step forward, keeping `overlap` sentences of context, but always advancing
        i = max(j - overlap, i + 1)
    return passages
