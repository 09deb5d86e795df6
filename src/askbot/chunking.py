"""Article -> Passages: sentence-aware windows that fit the model, with exact character offsets.

Passages are runs of whole sentences up to ``max_tokens`` model tokens. Consecutive passages share
``overlap`` sentences, so a sentence that answers a question is always quoted with at least one
neighbour of context, whichever side of a boundary it falls on. A sentence longer than the budget on
its own is cut at word boundaries. Every passage satisfies ``article.text[p.start:p.end] == p.text``.
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


def _split_long(text: str, start: int, end: int, budget: int, count: TokenCounter) -> Iterator[tuple[int, int]]:
    """Cut one over-long sentence into word-aligned pieces that fit the budget."""
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
        passages.append(Passage(article.id, len(passages), start, end, text[start:end]))
        if j >= len(units):
            break
        # step forward, keeping `overlap` sentences of context, but always advancing
        i = max(j - overlap, i + 1)
    return passages
