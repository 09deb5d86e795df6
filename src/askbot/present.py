"""Answers as terminal text and as JSON (the documented `askbot ask --json` shape)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from askbot.types import Answer, Citation, Excerpt

BOLD, DIM, UNDERLINE, RESET = "\033[1m", "\033[2m", "\033[4m", "\033[0m"
MARK_OPEN, MARK_CLOSE = "⟦", "⟧"  # the answering sentence where there is no bold (a pipe, a log)


def citation_line(c: Citation) -> str:
    parts = [c.title or c.article_id, c.source, c.published[:16].replace("T", " "), c.url]
    where = f"[{c.article_id} @{c.start}-{c.end}]"
    return " — ".join(p for p in parts if p) + f" {where}"


def excerpt_text(e: Excerpt, color: bool) -> str:
    """The excerpt with its marked sentence: bold on a terminal, ⟦…⟧ otherwise (not «…», the quotation marks of
    Arabic news: most articles quote someone, and a quoted sentence looked marked)."""
    rel_start = e.sentence_start - e.citation.start
    rel_end = e.sentence_end - e.citation.start
    before, sentence, after = e.text[:rel_start], e.text[rel_start:rel_end], e.text[rel_end:]
    a_start, a_end = e.answer_start - e.sentence_start, e.answer_end - e.sentence_start
    if color and e.answer_start >= 0 and 0 <= a_start < a_end <= len(sentence):  # the answer: underlined too
        sentence = f"{sentence[:a_start]}{UNDERLINE}{sentence[a_start:a_end]}{RESET}{BOLD}{sentence[a_end:]}"
    mark = (BOLD, RESET) if color else (MARK_OPEN, MARK_CLOSE)
    return f"{before}{mark[0]}{sentence}{mark[1]}{after}".strip()


def as_text(answer: Answer, color: bool = False) -> str:
    if not answer.found:
        lines = [answer.message]
        if answer.nearest_titles:
            lines.append("أقرب العناوين / nearest titles:")
            lines += [f"  - {t}" for t in answer.nearest_titles]
        return "\n".join(lines)
    blocks = [answer.message] if answer.message else []
    for n, e in enumerate(answer.excerpts, 1):
        cite = citation_line(e.citation)
        if color:
            cite = f"{DIM}{cite}{RESET}"
        also = ""
        if e.also_in:
            also = "\n   " + "also in: " + "; ".join(filter(None, (c.source or c.title for c in e.also_in)))
        blocks.append(f"{n}. {excerpt_text(e, color)}\n   {cite}{also}")
    trust = f"الثقة / confidence: {answer.confidence:.2f}"
    blocks.append(f"{DIM}{trust}{RESET}" if color else trust)
    return "\n\n".join(blocks)


def as_dict(answer: Answer) -> dict[str, Any]:
    """{"question", "found", "message", "excerpts": [{"text", "sentence", "score", "citation": {...}}], ...}"""
    return {
        "question": answer.question,
        "found": answer.found,
        "confidence": answer.confidence,
        "message": answer.message,
        "nearest_titles": list(answer.nearest_titles),
        "excerpts": [
            {
                "text": e.text,
                "sentence": e.sentence,
                "sentence_start": e.sentence_start,
                "sentence_end": e.sentence_end,
                "answer_start": e.answer_start,
                "answer_end": e.answer_end,
                "score": e.score,
                "passage_id": e.passage_id,
                "citation": asdict(e.citation),
                "also_in": [asdict(c) for c in e.also_in],
            }
            for e in answer.excerpts
        ],
    }


def as_json(answer: Answer) -> str:
    return json.dumps(as_dict(answer), ensure_ascii=False, indent=2)
