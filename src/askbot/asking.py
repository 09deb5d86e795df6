"""The one ask pipeline, used by ``kb.ask``, the evaluator and the bot: clean -> encode -> search -> fetch -> compose.

Everything a face shows for a question comes out of :func:`ask` (one question) or :func:`ask_many` (a batch
whose questions are encoded together), so the yardstick measures exactly what users get.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from askbot import arabic
from askbot.answer import SentenceScorer, compose
from askbot.retrieval import search
from askbot.store.base import StoreReader
from askbot.types import Answer, Filters, Hit, Retrieved

EMPTY_QUESTION = "السؤال فارغ أو بلا كلمات. اكتب سؤالاً بكلمات. / The question has no words to search for."
EMPTY_INDEX = "الفهرس فارغ. / The index is empty: add articles with `askbot index PATH`."
SPARE_HITS = 2  # hits fetched per excerpt shown: duplicates of one story fold into one excerpt before the page is cut
ENCODE_BATCH = 64  # questions encoded at once by ask_many


class QueryEncoder(Protocol):
    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str], batch_size: int = ...) -> np.ndarray: ...


@dataclass(frozen=True)
class Asked:
    """An answer, with the ranked hits it was composed from and the article of each (for evaluation)."""

    answer: Answer
    hits: tuple[Hit, ...] = ()
    articles: tuple[str, ...] = ()  # article id of each hit, "" where the passage is gone
    timings_ms: dict[str, float] = field(default_factory=dict, compare=False)


def clean_question(question: str, limit: int) -> tuple[str, str]:
    """The question without control/format characters, cut to ``limit``; and a note when it was cut."""
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in question)
    text = " ".join(text.split())
    if len(text) > limit:
        return text[:limit], f"السؤال طويل جداً فاقتُطع إلى {limit} حرفاً. / Question cut to {limit} characters."
    return text, ""


def sentence_scorer(encoder: QueryEncoder | None, query_vector: np.ndarray | None) -> SentenceScorer | None:
    """Similarity of sentences to the question, by the encoder (used only when words don't decide)."""
    if encoder is None or query_vector is None:
        return None
    return lambda sentences: encoder.encode_passages(sentences) @ query_vector


def fetch(reader: StoreReader, hits: Sequence[Hit]) -> list[Retrieved]:
    """The hits with their passages and articles, in rank order; hits whose passage is gone are dropped."""
    passages = reader.passages([h.passage_id for h in hits])
    articles = reader.articles([p.article_id for p in passages.values()])
    out = []
    for hit in hits:
        passage = passages.get(hit.passage_id)
        article = articles.get(passage.article_id) if passage is not None else None
        if passage is not None and article is not None:
            out.append(Retrieved(hit, passage, article))
    return out


def ask(
    reader: StoreReader | None,
    encoder: QueryEncoder | None,
    question: str,
    *,
    k: int = 5,
    offset: int = 0,
    filters: Filters | None = None,
    method: str = "hybrid",
    max_chars: int = 1000,
    depth: int = 0,
    vector: np.ndarray | None = None,
) -> Asked:
    """Answer one question. ``encoder`` may be None for ``method="bm25"``; ``vector`` skips encoding.

    ``depth`` ranks at least that many hits (the evaluator ranks 10); the answer reads the first ``offset + 2k``.
    """
    text, note = clean_question(question, max_chars)
    if not arabic.tokens(text):
        return Asked(Answer(question, False, message=EMPTY_QUESTION))
    if reader is None or reader.info().passages == 0:
        return Asked(Answer(question, False, message=EMPTY_INDEX))
    t0 = time.perf_counter()
    if vector is None and method != "bm25" and encoder is not None:
        vector = encoder.encode_queries([text])[0]
    t1 = time.perf_counter()
    wanted = offset + SPARE_HITS * k
    hits = search(reader, text, vector, max(wanted, depth), filters=filters, method=method)
    t2 = time.perf_counter()
    retrieved = fetch(reader, hits)
    shown_ids = {h.passage_id for h in hits[:wanted]}
    shown = [r for r in retrieved if r.hit.passage_id in shown_ids]
    idf = reader.idf(arabic.content_words(text))
    answer = compose(text, shown, idf, k=k, offset=offset, scorer=sentence_scorer(encoder, vector))
    t3 = time.perf_counter()
    if note or text != question:  # matched as cleaned, reported as asked
        answer = replace(answer, question=question, message=" ".join(filter(None, [note, answer.message])))
    timings = {"encode": (t1 - t0) * 1e3, "search": (t2 - t1) * 1e3, "answer": (t3 - t2) * 1e3}
    answer.timings_ms.update(timings)
    article_of = {r.hit.passage_id: r.article.id for r in retrieved}
    return Asked(answer, tuple(hits), tuple(article_of.get(h.passage_id, "") for h in hits), timings)


def ask_many(
    reader: StoreReader | None,
    encoder: QueryEncoder | None,
    questions: Sequence[str],
    *,
    k: int = 5,
    method: str = "hybrid",
    max_chars: int = 1000,
    depth: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[Asked]:
    """:func:`ask` for each question, the questions encoded in batches (what ``askbot eval`` measures)."""
    out: list[Asked] = []
    for start in range(0, len(questions), ENCODE_BATCH):
        batch = list(questions[start : start + ENCODE_BATCH])
        texts = [clean_question(q, max_chars)[0] for q in batch]
        encodable = [i for i, t in enumerate(texts) if arabic.tokens(t)]
        vectors: dict[int, np.ndarray] = {}
        if method != "bm25" and encoder is not None and encodable:
            encoded = encoder.encode_queries([texts[i] for i in encodable])
            vectors = {i: encoded[row] for row, i in enumerate(encodable)}
        for i, q in enumerate(batch):
            out.append(
                ask(
                    reader,
                    encoder,
                    q,
                    k=k,
                    method=method,
                    max_chars=max_chars,
                    depth=depth,
                    vector=vectors.get(i),
                )
            )
        if progress:
            progress(start + len(batch), len(questions))
    return out
