"""Ranked passages -> an Answer: exact excerpts, the sentence that answers marked, citations."""

from __future__ import annotations

from collections.abc import Sequence

from askbot.arabic import sentence_spans
from askbot.store import metadata
from askbot.store.index import IndexReader
from askbot.store.lexical import tokenize
from askbot.types import Answer, Article, Citation, Excerpt, Hit

# An answer is given when the best passage is this close to the question (cosine, e5 scale) ...
DENSE_FLOOR = 0.80
# ... or when its best sentence holds this share of the question's (idf-weighted) terms.
COVERAGE_FLOOR = 0.5
NOT_FOUND = "لم أجد إجابة في المقالات المفهرسة. / Not found in the indexed articles."


def citation(article: Article, start: int, end: int) -> Citation:
    return Citation(
        title=article.title,
        source=article.source,
        published=article.published,
        url=article.url,
        article_id=article.id,
        start=start,
        end=end,
        place=article.place,
        category=article.category,
    )


def best_sentence(text: str, question_terms: dict[str, float]) -> tuple[int, int, float]:
    """(start, end, coverage) of the sentence in ``text`` holding most of the question's weighted terms."""
    total = sum(question_terms.values()) or 1.0
    best = (0, len(text), -1.0)
    for start, end in sentence_spans(text):
        terms = set(tokenize(text[start:end]))
        coverage = sum(w for t, w in question_terms.items() if t in terms) / total
        if coverage > best[2]:
            best = (start, end, coverage)
    return best[0], best[1], max(best[2], 0.0)


def build_excerpts(reader: IndexReader, hits: Sequence[Hit], question: str) -> list[tuple[Excerpt, float]]:
    """Each hit as an Excerpt, with the coverage of its marked sentence."""
    rows = metadata.get_passages(reader.db, [h.passage_id for h in hits])
    q_tokens = tokenize(question)
    weights = reader.lexical.idf(q_tokens)
    articles: dict[str, Article | None] = {}
    out = []
    for hit in hits:
        row = rows.get(hit.passage_id)
        if row is None:
            continue
        article_id, _ordinal, start, end = row
        if article_id not in articles:
            articles[article_id] = metadata.get_article(reader.db, article_id)
        article = articles[article_id]
        if article is None:
            continue
        text = article.text[start:end]
        s_start, s_end, coverage = best_sentence(text, weights)
        excerpt = Excerpt(
            text=text,
            sentence=text[s_start:s_end],
            sentence_start=start + s_start,
            sentence_end=start + s_end,
            score=round(hit.score, 6),
            citation=citation(article, start, end),
            passage_id=hit.passage_id,
        )
        out.append((excerpt, coverage))
    return out


def compose(question: str, hits: Sequence[Hit], reader: IndexReader, k: int, offset: int = 0) -> Answer:
    """Decide between an answer and an honest 'not found'."""
    scored = build_excerpts(reader, hits, question)
    best_dense = max((h.dense for h in hits if h.dense is not None), default=0.0)
    best_coverage = max((c for _, c in scored), default=0.0)
    excerpts = tuple(e for e, _ in scored)
    if not excerpts or (best_dense < DENSE_FLOOR and best_coverage < COVERAGE_FLOOR):
        titles = tuple(dict.fromkeys(e.citation.title for e in excerpts if e.citation.title))[:3]
        return Answer(question, False, (), titles, NOT_FOUND)
    return Answer(question, True, excerpts[offset : offset + k])
