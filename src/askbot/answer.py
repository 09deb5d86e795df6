"""Ranked passages -> an Answer: exact excerpts, the answering sentence (and answer) marked, a confidence, citations.

Pure: it reads only what it is given (the retrieved passages with their articles, the idf of the question's
words, the size of the corpus, optionally an encoder's sentence scorer) and never the store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from askbot import confidence as conf
from askbot import sentences
from askbot.arabic import content_words as tokenize
from askbot.arabic import script_of
from askbot.asks import DATE, NUMBER, answer_spans, asked_type
from askbot.sentences import SentenceScorer
from askbot.types import Answer, Article, Citation, Excerpt, Retrieved

__all__ = ["NOT_FOUND", "SentenceScorer", "best_sentence", "build_excerpts", "collapse_duplicates", "compose", "unseen"]

# Share of distinct words two passages of different articles must have in common to count as one story.
DUPLICATE_OVERLAP = 0.5
SPARE_HITS = 2  # passages read per excerpt shown: duplicates of one story fold into one excerpt before the page is cut
EVIDENCE_HITS = 10  # the confidence reads this many ranked passages, whatever k is: the same decision for every k
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


@dataclass(frozen=True)
class Question:
    """What composing an answer needs to know of the question."""

    text: str
    idf: Mapping[str, float]  # weight of each of its content words
    asked: str  # what it asks for (askbot.asks.TYPES)
    cross_lingual: bool  # in another script than the (Arabic) passages

    @classmethod
    def of(cls, text: str, idf: Mapping[str, float]) -> Question:
        return cls(text, dict(idf), asked_type(text), script_of(text) != "ar")


@dataclass(frozen=True)
class Marked:
    """The sentence marked in a passage (offsets into the passage), with what the decision needs of it."""

    start: int
    end: int
    coverage: float
    probability: float
    holds_type: bool


def mark(text: str, q: Question, scorer: SentenceScorer | None = None) -> Marked:
    """The sentence of ``text`` that best answers ``q`` (by askbot.sentences' model)."""
    return marked(sentences.describe(text, q.text, q.idf, q.asked, scorer), q.cross_lingual)


def marked(described: sentences.Sentences, cross_lingual: bool, weights: np.ndarray | None = None) -> Marked:
    """The sentence the model (or ``weights``, when fitting it) chooses among ``described``."""
    best, probability = sentences.choose(described, cross_lingual, weights)
    start, end = described.spans[best]
    holds_type = bool(described.features[best, sentences.FEATURES.index("holds_type")])
    return Marked(start, end, float(described.coverage[best]), probability, holds_type)


def best_sentence(
    text: str, question_terms: dict[str, float], scorer: SentenceScorer | None = None, question: str = ""
) -> tuple[int, int, float]:
    """(start, end, coverage) of the sentence in ``text`` that best answers a question of these weighted terms."""
    q = Question(question, question_terms, asked_type(question), bool(question) and script_of(question) != "ar")
    m = mark(text, q, scorer)
    return m.start, m.end, m.coverage


def _excerpt(r: Retrieved, m: Marked, q: Question) -> Excerpt:
    start, text = r.passage.start, r.passage.text
    answer_start = answer_end = -1
    spans = answer_spans(text[m.start : m.end], q.text, q.asked)
    if len(spans) == 1:  # one number or date the question asks for and does not state: that is the answer
        answer_start, answer_end = (start + m.start + spans[0][0], start + m.start + spans[0][1])
    return Excerpt(
        text=text,
        sentence=text[m.start : m.end],
        sentence_start=start + m.start,
        sentence_end=start + m.end,
        score=round(r.hit.score, 6),
        citation=citation(r.article, start, r.passage.end),
        passage_id=r.hit.passage_id,
        answer_start=answer_start,
        answer_end=answer_end,
    )


def build_excerpts(
    retrieved: Sequence[Retrieved], idf: Mapping[str, float], question: str = "", scorer: SentenceScorer | None = None
) -> list[tuple[Excerpt, Marked]]:
    """Each retrieved passage as an Excerpt with its marked sentence; ``scorer`` helps on the first one only
    (each sentence costs an encoder call)."""
    q = Question.of(question, idf) if question else Question("", dict(idf), "other", False)
    if not sentences.USES_ENCODER["cross" if q.cross_lingual else "same"]:
        scorer = None
    out = []
    for n, r in enumerate(retrieved):
        m = mark(r.passage.text, q, scorer if n == 0 else None)
        out.append((_excerpt(r, m, q), m))
    return out


def unseen(weight: float, corpus_passages: int) -> bool:
    """Whether ``weight`` is the BM25 idf of a word none of the ``corpus_passages`` holds (what the store gives it)."""
    return weight >= math.log(1.0 + (corpus_passages + 0.5) / 0.5) - 1e-6


def evidence(q: Question, retrieved: Sequence[Retrieved], first: Marked, corpus_passages: int) -> conf.Evidence:
    """What the confidence model reads of the first excerpt."""
    top = retrieved[0]
    dense = [r.hit.dense if r.hit.dense is not None else 0.0 for r in retrieved]
    lexical = [r.hit.lexical if r.hit.lexical is not None else 0.0 for r in retrieved]
    passage_tokens = tokenize(top.passage.text)
    passage_words = set(passage_tokens)
    question_words = tokenize(q.text)
    pairs = set(zip(question_words, question_words[1:], strict=False))
    passage_pairs = set(zip(passage_tokens, passage_tokens[1:], strict=False))
    total_idf = sum(q.idf.values())
    return conf.Evidence(
        dense=dense[0],
        dense_next=conf.next_best(dense),
        passage_coverage=sentences.coverage(q.idf, passage_words),
        rare_coverage=sentences.coverage(q.idf, passage_words, power=2.0),
        sentence_coverage=first.coverage,
        unseen=sum(w for w in q.idf.values() if unseen(w, corpus_passages)) / total_idf if total_idf > 0 else 0.0,
        typed=q.asked in (NUMBER, DATE),
        holds_type=first.holds_type,
        sentence_probability=first.probability,
        content_words=len(q.idf),
        lexical=lexical[0] / total_idf if total_idf > 0 else 0.0,
        pair_coverage=len(pairs & passage_pairs) / len(pairs) if pairs else 0.0,
        lexical_next=conf.next_best(lexical) / total_idf if total_idf > 0 else 0.0,
        dense_mean=sum(dense) / len(dense),
    )


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


def shown_hits(k: int) -> int:
    return SPARE_HITS * k


def compose(
    question: str,
    retrieved: Sequence[Retrieved],
    idf: Mapping[str, float],
    k: int,
    offset: int = 0,
    scorer: SentenceScorer | None = None,
    corpus_passages: int = 0,
) -> Answer:
    """Decide between an answer and an honest 'not found'; page ``offset:offset+k`` of the collapsed excerpts.

    ``retrieved`` is the ranking, at least :data:`EVIDENCE_HITS` deep where the index has that many passages;
    the excerpts come from its first ``offset + 2k``.
    ``idf`` weighs the question's content words (the store's BM25 idf); ``scorer`` rates sentences by the encoder;
    ``corpus_passages`` is the index's size (for telling words the corpus never saw). The decision reads the
    first excerpt only, so it is the same for every ``k`` and page.
    """
    q = Question.of(question, idf)
    built = build_excerpts(retrieved[: offset + shown_hits(k)], idf, question, scorer)
    if not built:
        return Answer(question, False, (), (), NOT_FOUND, confidence=0.0)
    score = conf.confidence(evidence(q, retrieved[:EVIDENCE_HITS], built[0][1], corpus_passages), q.cross_lingual)
    scored = collapse_duplicates([(e, m.coverage) for e, m in built])
    if not conf.is_found(score, q.cross_lingual):
        titles = tuple(dict.fromkeys(e.citation.title for e, _ in scored if e.citation.title))[:3]
        return Answer(question, False, (), titles, NOT_FOUND, confidence=round(score, 4))
    excerpts = tuple(e for e, _ in scored[offset : offset + k])
    return Answer(question, True, excerpts, confidence=round(score, 4))
