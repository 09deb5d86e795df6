"""The one ask pipeline, used by ``kb.ask``, the evaluator and the bot: clean -> encode -> search -> fetch -> compose.

Everything a face shows for a question comes out of :func:`ask` (one question) or :func:`ask_many` (a batch
whose questions are encoded together), so the yardstick measures exactly what users get.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Protocol

import numpy as np

from askbot import arabic, rerank, when
from askbot.answer import EVIDENCE_HITS, Question, build_excerpts, compose, shown_hits, unseen
from askbot.lexicon import Lexicon
from askbot.retrieval import search
from askbot.sentences import SentenceScorer
from askbot.store.base import StoreReader
from askbot.types import Answer, Excerpt, Filters, Hit, Retrieved

EMPTY_QUESTION = "السؤال فارغ أو بلا كلمات. اكتب سؤالاً بكلمات. / The question has no words to search for."
EMPTY_INDEX = "الفهرس فارغ. / The index is empty: add articles with `askbot index PATH`."
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


def passage(reader: StoreReader, passage_id: int) -> Excerpt | None:
    """The whole passage ``passage_id`` as an excerpt with its citation (None when it is not indexed)."""
    found = build_excerpts(fetch(reader, [Hit(int(passage_id), 1.0)]), {})
    return found[0][0] if found else None


@dataclass(frozen=True)
class Retrieval:
    """What the search found for a question, before an answer is composed from it."""

    text: str  # the question as matched (cleaned)
    note: str  # said about the cleaning ("cut to 1000 characters"), or ""
    vector: np.ndarray | None
    hits: tuple[Hit, ...]
    retrieved: tuple[Retrieved, ...]  # the hits with their passages and articles, rank order
    idf: dict[str, float]  # of the question's content words (of their translations: askbot.lexicon)
    corpus_passages: int
    timings_ms: dict[str, float] = field(default_factory=dict, compare=False)


def query_text(text: str) -> str:
    """The question as the encoder reads it: harakat, tatweel and other marks folded away, since a fully vowelled
    question otherwise lands far from the bare passages it asks about (letters and hamza forms are kept)."""
    return " ".join(arabic.strip_marks(text).split())


def translates(text: str, method: str) -> bool:
    """Whether ``text`` is searched lexically by its words' translations (askbot.lexicon): a question in another
    script than the Arabic passages' and Persian (which shares their words), by a method that reads words."""
    return method != "dense" and arabic.script_of(text) not in ("ar", "fa")


def question_idf(reader: StoreReader, text: str, translated: Sequence[str], passages: int) -> dict[str, float]:
    """The weight of each of the question's content words; a translated question's are its translations (and those
    of its own words the index, of ``passages`` passages, holds: digits, names in Latin letters), what every later
    stage reads it as."""
    if not translated:
        return reader.idf(arabic.content_words(text))
    own = set(arabic.content_words(text))
    return {t: w for t, w in reader.idf(list(translated)).items() if t not in own or not unseen(w, passages)}


def retrieve(
    reader: StoreReader,
    encoder: QueryEncoder | None,
    text: str,
    *,
    depth: int,
    filters: Filters | None = None,
    method: str = "hybrid",
    vector: np.ndarray | None = None,
    lexicon: Lexicon | None = None,
) -> Retrieval:
    """Encode (unless ``vector`` is given), search ``depth`` hits deep and fetch their passages. A question in
    another script than Arabic and Persian is searched lexically by its words' translations (``lexicon``).

    Every hit carries its dense cosine when there is a query vector, whatever ranked it (bm25 too): the
    not-found decision reads it."""
    t0 = time.perf_counter()
    if vector is None and encoder is not None:
        vector = encoder.encode_queries([query_text(text)])[0]
    t1 = time.perf_counter()
    translated = lexicon.translate(reader, text) if lexicon is not None and translates(text, method) else []
    hits = search(reader, text, vector, depth, filters=filters, method=method, translated=translated)
    if vector is not None and any(h.dense is None for h in hits):
        cosines = reader.dense_scores(vector, np.asarray([h.passage_id for h in hits], np.int64))
        hits = [replace(h, dense=float(c)) if h.dense is None else h for h, c in zip(hits, cosines, strict=True)]
    t2 = time.perf_counter()
    retrieved = fetch(reader, hits)
    passages = reader.info().passages
    idf = question_idf(reader, text, translated, passages)
    timings = {"encode": (t1 - t0) * 1e3, "search": (t2 - t1) * 1e3, "fetch": (time.perf_counter() - t2) * 1e3}
    return Retrieval(text, "", vector, tuple(hits), tuple(retrieved), idf, passages, timings)


def reordered(found: Retrieval, retrieved: Sequence[Retrieved]) -> Retrieval:
    """``found`` with its passages in the order of ``retrieved`` (the same passages), hits alike; hits whose
    passage is gone keep their place after them."""
    order = [r.hit for r in retrieved]
    kept = {h.passage_id for h in order}
    return replace(
        found, hits=(*order, *(h for h in found.hits if h.passage_id not in kept)), retrieved=tuple(retrieved)
    )


def reranked(found: Retrieval, method: str) -> Retrieval:
    """``found`` with its first passages reordered by answer-level evidence (askbot.rerank), for the methods the
    reranker was fitted on."""
    if method not in rerank.METHODS or len(found.retrieved) < 2:
        return found
    t0 = time.perf_counter()
    q = Question.of(found.text, found.idf)
    retrieved, _ = rerank.rerank(found.retrieved, q.text, q.idf, q.asked, q.cross_lingual)
    timings = {**found.timings_ms, "rerank": (time.perf_counter() - t0) * 1e3}
    return replace(reordered(found, retrieved), timings_ms=timings)


def answer_from(
    found: Retrieval, encoder: QueryEncoder | None, *, k: int, offset: int = 0, question: str | None = None
) -> Answer:
    """Compose the answer of a :class:`Retrieval`, paged ``offset:offset+k``."""
    t0 = time.perf_counter()
    scorer = sentence_scorer(encoder, found.vector)
    answer = compose(
        found.text, found.retrieved, found.idf, k=k, offset=offset, scorer=scorer, corpus_passages=found.corpus_passages
    )
    asked = found.text if question is None else question
    if found.note or found.text != asked:  # matched as cleaned, reported as asked
        answer = replace(answer, question=asked, message=_joined(found.note, answer.message))
    answer.timings_ms.update(found.timings_ms, answer=(time.perf_counter() - t0) * 1e3)
    return answer


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
    as_of: date | None = None,
    lexicon: Lexicon | None = None,
) -> Asked:
    """Answer one question. ``vector`` skips encoding; without an encoder only ``method="bm25"`` ranks, and the
    not-found decision has no cosine to read.

    ``depth`` ranks at least that many hits (the evaluator ranks 10); the answer reads the first ``offset + 2k``.
    A period the question names ("أمس", "last week") is read against ``as_of`` (default: now) and is the date
    filter unless ``filters`` give dates (nothing in it answers: all dates, said so); "latest" puts the newest of the
    clearly relevant excerpts first; the message names the period understood.
    """
    text, note = clean_question(question, max_chars)
    if not arabic.tokens(text):
        return Asked(Answer(question, False, message=EMPTY_QUESTION))
    if reader is None or reader.info().passages == 0:
        return Asked(Answer(question, False, message=EMPTY_INDEX))
    depth = max(offset + shown_hits(k), EVIDENCE_HITS, depth)
    period, searched = _period_of(text, as_of)
    dated = when.with_period(filters, period)
    if period and period.recency and as_of and not (dated and dated.until):
        dated = replace(dated or Filters(), until=as_of.isoformat()[:10])  # nothing after the archive's "today"
    found = reranked(
        retrieve(reader, encoder, searched, depth=depth, filters=dated, method=method, vector=vector, lexicon=lexicon),
        method,
    )
    if period and period.recency:
        found = _newest_first(found, offset + k)
    answer = answer_from(
        replace(found, note=_joined(note, when.label(period)) if period else note),
        encoder,
        k=k,
        offset=offset,
        question=question,
    )
    if period and dated != filters and not answer.found:
        # nothing in that period answers: say so, and answer from all dates the question as asked (its years are
        # then content: "ماذا أعلن تنظيم الدولة الإسلامية نفسه في عام 2014؟" asks of 2014, not of articles from it)
        again = found.vector if searched == text else None
        found = reranked(
            retrieve(reader, encoder, text, depth=depth, filters=filters, method=method, vector=again, lexicon=lexicon),
            method,
        )
        if period.recency:
            found = _newest_first(found, offset + k)
        answer = answer_from(
            replace(found, note=_joined(note, when.nothing_in(period))), encoder, k=k, offset=offset, question=question
        )
    article_of = {r.hit.passage_id: r.article.id for r in found.retrieved}
    return Asked(answer, found.hits, tuple(article_of.get(h.passage_id, "") for h in found.hits), answer.timings_ms)


def _joined(*notes: str) -> str:
    """An answer's message: each note on a line of its own (bilingual notes run together were one unreadable line)."""
    return "\n".join(filter(None, notes))


def _period_of(text: str, as_of: date | None) -> tuple[when.Period | None, str]:
    """The period ``text`` names (read against ``as_of``, default now) and the question searched for within it."""
    period = when.read_period(text, as_of or datetime.now(UTC))
    return period, period.question if period else text


def _newest_first(found: Retrieval, relevant: int) -> Retrieval:
    published = {r.hit.passage_id: r.article.published for r in found.retrieved}
    hits = tuple(when.newest_first(found.hits, published, relevant))
    rank = {h.passage_id: i for i, h in enumerate(hits)}
    return replace(found, hits=hits, retrieved=tuple(sorted(found.retrieved, key=lambda r: rank[r.hit.passage_id])))


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
    lexicon: Lexicon | None = None,
) -> list[Asked]:
    """:func:`ask` for each question, the questions encoded in batches (what ``askbot eval`` measures)."""
    out: list[Asked] = []
    for start in range(0, len(questions), ENCODE_BATCH):
        batch = list(questions[start : start + ENCODE_BATCH])
        texts = [clean_question(q, max_chars)[0] for q in batch]
        encodable = [i for i, t in enumerate(texts) if arabic.tokens(t)]
        vectors: dict[int, np.ndarray] = {}
        if encoder is not None and encodable:  # what ask() itself would encode: the question searched for
            encoded = encoder.encode_queries([query_text(_period_of(texts[i], None)[1]) for i in encodable])
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
                    lexicon=lexicon,
                )
            )
        if progress:
            progress(start + len(batch), len(questions))
    return out
