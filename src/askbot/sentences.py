"""Which sentence of a passage answers the question: features of each sentence, scored by a fitted linear model.

A sentence that shares the question's words often only restates it ("ومن المعروف أيضا باسم البلاستوم.") while the
answer stands in the next one. So besides the share of the question's idf-weighted words a sentence holds, the
model weighs what its neighbours hold, how much it says beyond the question, whether it holds the kind of thing
asked for (a number for كم, a date for متى), and, when an encoder is at hand, its similarity to the question.
The weights are fitted on the XQuAD-ar dev set with cross-validation by article (benchmarks/fit_answers.py);
one set for questions in the passages' script, one for questions in another language, where words rarely match.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from askbot.arabic import content_words, remembered, sentence_spans, tokens
from askbot.asks import holds

SentenceScorer = Callable[[list[str]], np.ndarray]  # sentences -> similarity to the question

FEATURES = (
    "coverage",  # share of the question's idf weight the sentence holds
    "coverage_next",  # ... the next sentence holds
    "coverage_prev",  # ... the previous sentence holds
    "relative",  # coverage / the passage's best coverage
    "novelty",  # share of the sentence's content words that are not the question's
    "holds_type",  # holds a number / date when the question asks for one
    "encoder",  # encoder similarity to the question, z-scored over the passage's sentences (0 without encoder)
    "first",  # the passage's first sentence
    "log_words",  # log(1 + words)
    "short",  # fewer than SHORT_SENTENCE_WORDS words (marked together with the next sentence)
)
# Fitted by benchmarks/fit_answers.py (conditional logit over each passage's sentences); see docs/evaluation.md.
WEIGHTS = {  # out of fold: answer@sentence 0.705 (Arabic questions), 0.518 (English: translated words, encoder)
    "same": np.array([4.557, 0.849, 0.733, 0.263, -3.246, 2.183, 0.0, -0.016, 0.258, 0.65]),
    "cross": np.array([1.801, -0.001, 0.853, 0.001, -1.441, 2.004, 1.031, 0.109, 0.39, 0.839]),
}
# The encoder's feature is weighed only across languages: for Arabic questions it added 0.010 answer@sentence on
# the dev set (0.715 vs 0.705) for one encoder call per sentence of the first passage (~30 ms each), so it is off.
USES_ENCODER = {"same": False, "cross": True}
# A marked sentence shorter than this many words is marked together with the next one: on the dev set such
# matches mostly name the topic, and what the question asks of it follows.
SHORT_SENTENCE_WORDS = 8


@dataclass(frozen=True)
class Sentences:
    """A passage's sentences (offsets into the passage) and their features, one row each."""

    spans: list[tuple[int, int]]  # the span marked when each sentence wins (a short one runs on to the next)
    features: np.ndarray  # (len(spans), len(FEATURES))
    coverage: np.ndarray  # coverage of each sentence alone


def coverage(idf: Mapping[str, float], words: set[str], power: float = 1.0) -> float:
    """Share of the question's ``idf``-weighted words (weights raised to ``power``) that ``words`` hold."""
    total = sum(w**power for w in idf.values())
    return sum(w**power for t, w in idf.items() if t in words) / total if total > 0 else 0.0


def split(text: str) -> list[tuple[int, int]]:
    """Sentence spans that hold a word ("-----" rules never count); the whole text when there is none."""
    return list(_split(text))


@remembered  # the reranker, the marker and the evidence split the same passages
def _split(text: str) -> tuple[tuple[int, int], ...]:
    return tuple((s, e) for s, e in sentence_spans(text) if tokens(text[s:e])) or ((0, len(text)),)


def describe(
    text: str,
    question: str,
    idf: Mapping[str, float],
    asked: str,
    scorer: SentenceScorer | None = None,
) -> Sentences:
    """The features of each sentence of ``text`` for ``question`` (``idf``: weight of each question word)."""
    spans = split(text)
    question_words = set(idf)
    words = [content_words(text[s:e]) for s, e in spans]
    covered = np.array([coverage(idf, set(ws)) for ws in words])
    best = float(covered.max()) if len(covered) else 0.0
    n = len(spans)
    lengths = [len(text[s:e].split()) for s, e in spans]
    marked = [
        (s, spans[i + 1][1]) if lengths[i] < SHORT_SENTENCE_WORDS and i + 1 < n else (s, e)
        for i, (s, e) in enumerate(spans)
    ]
    encoder = np.zeros(n)
    if scorer is not None and n > 1:
        sims = np.asarray(scorer([text[s:e] for s, e in spans]), np.float64)
        sd = float(sims.std())
        encoder = (sims - sims.mean()) / sd if sd > 0 else np.zeros(n)
    rows = []
    for i, (s, e) in enumerate(marked):
        novel = [w for w in words[i] if w not in question_words]
        rows.append(
            [
                covered[i],
                covered[i + 1] if i + 1 < n else 0.0,
                covered[i - 1] if i > 0 else 0.0,
                covered[i] / best if best > 0 else 0.0,
                len(novel) / len(words[i]) if words[i] else 0.0,
                float(holds(text[s:e], question).matches(asked)),
                encoder[i],
                float(i == 0),
                math.log1p(lengths[i]),
                float(lengths[i] < SHORT_SENTENCE_WORDS),
            ]
        )
    return Sentences(marked, np.asarray(rows, np.float64).reshape(n, len(FEATURES)), covered)


def scores(sentences: Sentences, cross_lingual: bool, weights: np.ndarray | None = None) -> np.ndarray:
    """The model's score of each sentence (higher: more likely the one that answers); ``weights`` replace the
    fitted ones (when fitting them)."""
    return sentences.features @ (WEIGHTS["cross" if cross_lingual else "same"] if weights is None else weights)


def choose(sentences: Sentences, cross_lingual: bool, weights: np.ndarray | None = None) -> tuple[int, float]:
    """(index of the answering sentence, its probability among the passage's sentences)."""
    s = scores(sentences, cross_lingual, weights)
    p = np.exp(s - s.max())
    p /= p.sum()
    best = int(np.argmax(s))
    return best, float(p[best])
