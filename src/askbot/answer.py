"""Ranked passages -> an Answer: exact excerpts, the sentence that answers marked, citations."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from askbot.arabic import content_words as tokenize
from askbot.arabic import script_of, sentence_spans, tokens
from askbot.types import Answer, Article, Citation, Excerpt, Retrieved

# An answer is given when the best sentence holds this share of the question's (idf-weighted) terms ...
COVERAGE_FLOOR = 0.5
# ... or when the best passage is this close to the question (cosine, e5 scale). Questions in another
# script than the passages share no words with them and score lower across languages, hence two floors.
# Chosen on the XQuAD-ar dev set (benchmarks/tune_fusion.py): at 0.84 an Arabic question whose paragraph
# is indexed passes 88% of the time, one whose paragraph was removed 49%; at 0.78 an English question 73%
# against 40%. Cosine alone separates them poorly; the word-coverage path does the rest for Arabic.
DENSE_FLOOR = {"ar": 0.84}
DENSE_FLOOR_CROSS_LINGUAL = 0.78
# Below this coverage the words say little about which sentence answers: ask the encoder instead.
WEAK_COVERAGE = 0.34
SENTENCE_RERANK_EXCERPTS = 1  # each costs one encoder call over its sentences (~30 ms a sentence)
# A marked sentence shorter than this many words is marked together with the next one.
SHORT_SENTENCE_WORDS = 8
# Share of distinct words two passages of different articles must have in common to count as one story.
DUPLICATE_OVERLAP = 0.5

SentenceScorer = Callable[[list[str]], np.ndarray]  # sentences -> similarity to the question
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


def best_sentence(
    text: str, question_terms: dict[str, float], scorer: SentenceScorer | None = None
) -> tuple[int, int, float]:
    """(start, end, coverage) of the sentence in ``text`` that best answers.

    Sentences are ranked by the share of the question's weighted terms they hold; when no sentence
    holds enough (a question in another language, or in other words), by ``scorer`` if given.
    Spans without a letter or digit (rules like "-----") are never chosen. A short sentence (under
    ``SHORT_SENTENCE_WORDS``) is marked with the one after it: on the XQuAD-ar dev set such matches
    mostly restate the question ("it is also known as X.") and the answer follows.
    """
    total = sum(question_terms.values()) or 1.0
    spans = [(s, e) for s, e in sentence_spans(text) if tokens(text[s:e])] or [(0, len(text))]
    sentence_terms = [set(tokenize(text[s:e])) for s, e in spans]
    coverage = [sum(w for t, w in question_terms.items() if t in terms) / total for terms in sentence_terms]
    best = int(np.argmax(coverage))
    if scorer is not None and coverage[best] < WEAK_COVERAGE and len(spans) > 1:
        best = int(np.argmax(scorer([text[s:e] for s, e in spans])))
    start, end = spans[best]
    if len(text[start:end].split()) < SHORT_SENTENCE_WORDS and best + 1 < len(spans):
        end = spans[best + 1][1]  # a short match names the topic; what it says of it follows
    return start, end, coverage[best]


def build_excerpts(retrieved: Sequence[Retrieved], idf: Mapping[str, float]) -> list[tuple[Excerpt, float]]:
    """Each retrieved passage as an Excerpt, with the coverage of its marked sentence (``idf``: question terms)."""
    out = []
    for r in retrieved:
        start, end, text = r.passage.start, r.passage.end, r.passage.text
        s_start, s_end, coverage = best_sentence(text, dict(idf))
        excerpt = Excerpt(
            text=text,
            sentence=text[s_start:s_end],
            sentence_start=start + s_start,
            sentence_end=start + s_end,
            score=round(r.hit.score, 6),
            citation=citation(r.article, start, end),
            passage_id=r.hit.passage_id,
        )
        out.append((excerpt, coverage))
    return out


def is_relevant(question: str, best_dense: float, best_coverage: float) -> bool:
    floor = DENSE_FLOOR.get(script_of(question), DENSE_FLOOR_CROSS_LINGUAL)
    return best_coverage >= COVERAGE_FLOOR or best_dense >= floor


def collapse_duplicates(scored: Sequence[tuple[Excerpt, float]]) -> list[tuple[Excerpt, float]]:
    """Show the same story once: an excerpt whose words mostly repeat a better-ranked excerpt of another
    article (a wire story in several outlets) is folded into it, its citation listed in ``also_in``."""
    kept: list[tuple[Excerpt, float, set[str]]] = []
    for excerpt, coverage in scored:
        words = set(tokenize(excerpt.text))
        for i, (other, other_cov, other_words) in enumerate(kept):
            same_article = other.citation.article_id == excerpt.citation.article_id
            overlap = len(words & other_words) / max(1, len(words | other_words))
            if not same_article and overlap >= DUPLICATE_OVERLAP:
                kept[i] = (replace(other, also_in=(*other.also_in, excerpt.citation)), other_cov, other_words)
                break
        else:
            kept.append((excerpt, coverage, words))
    return [(e, c) for e, c, _ in kept]


def compose(
    question: str,
    retrieved: Sequence[Retrieved],
    idf: Mapping[str, float],
    k: int,
    offset: int = 0,
    scorer: SentenceScorer | None = None,
) -> Answer:
    """Decide between an answer and an honest 'not found'; page ``offset:offset+k`` of the collapsed excerpts.

    ``idf`` weighs the question's content words (the store's BM25 idf); ``scorer`` rates sentences by the encoder.
    """
    scored = collapse_duplicates(build_excerpts(retrieved, idf))
    best_dense = max((r.hit.dense for r in retrieved if r.hit.dense is not None), default=0.0)
    best_coverage = max((c for _, c in scored[:k]), default=0.0)
    if not scored or not is_relevant(question, best_dense, best_coverage):
        titles = tuple(dict.fromkeys(e.citation.title for e, _ in scored if e.citation.title))[:3]
        return Answer(question, False, (), titles, NOT_FOUND)
    page = scored[offset : offset + k]
    excerpts = tuple(e for e, _ in page)
    lead = page[:SENTENCE_RERANK_EXCERPTS]
    cross_lingual = script_of(question) != "ar"
    if scorer is not None and cross_lingual and lead and min(c for _, c in lead) < WEAK_COVERAGE:
        # the words cannot pick the sentence across languages: let the encoder pick it, for the first excerpts
        # only (each sentence costs an encoder call, ~30 ms: too slow for every Arabic question)
        excerpts = tuple(_with_sentence(e, idf, scorer) for e, _ in lead) + excerpts[len(lead) :]
    return Answer(question, True, excerpts)


def _with_sentence(excerpt: Excerpt, idf: Mapping[str, float], scorer: SentenceScorer) -> Excerpt:
    s_start, s_end, _ = best_sentence(excerpt.text, dict(idf), scorer)
    base = excerpt.citation.start
    return replace(
        excerpt, sentence=excerpt.text[s_start:s_end], sentence_start=base + s_start, sentence_end=base + s_end
    )
