"""How likely the first excerpt answers the question: one calibrated score (0–1) that decides "not found".

No single signal separates an answerable question from one the corpus cannot answer: the dense cosine of a
right and of a wrong top passage overlap (0.84 vs 0.83 at the median for Arabic questions), and a passage can
hold every word of the question and still not the answer. The score combines them in a logistic model:
the dense cosine and its margin over the next passage, how much of the question's idf weight the passage and
the marked sentence hold (rare words, names above all, weigh most), words of the question the corpus never saw,
whether the sentence holds the kind of thing asked for, and the sentence model's own certainty. It reads the first
excerpt only, so it is the same for every ``-k`` and every page. Weights and the threshold are fitted on the
XQuAD-ar dev set with paragraphs left out of the index (benchmarks/fit_answers.py, cross-validated by article).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FEATURES = (
    "bias",
    "dense",  # cosine of the question with the first passage (0 without an encoder)
    "dense_margin",  # ... minus the best cosine among the other retrieved passages
    "passage_coverage",  # share of the question's idf weight the first passage holds
    "rare_coverage",  # the same with idf squared: names and rare words count most
    "sentence_coverage",  # share the marked sentence holds
    "unseen",  # share of the question's idf weight on words no indexed passage has
    "typed",  # the question asks for a number or a date
    "holds_type",  # ... and the marked sentence holds one
    "sentence_probability",  # the sentence model's probability for the marked sentence
    "log_words",  # log(1 + content words of the question)
    "lexical",  # top BM25 score / the question's total idf (0 when no word matched)
    "pair_coverage",  # share of the question's adjacent word pairs that stand together in the first passage
    "lexical_margin",  # (first passage's BM25 - the best other's) / the question's total idf
    "dense_spread",  # first passage's cosine minus the mean cosine of the retrieved passages
)
# Fitted by benchmarks/fit_answers.py; see docs/evaluation.md. "same": questions in the passages' script.
WEIGHTS = {
    "same": np.array(
        [-26.726, 27.762, 6.101, 4.592, -0.884, 1.046, 0.184, -0.96, 0.666, 1.406, 0.062, -1.73, 0.218, 4.572, 13.99]
    ),
    "cross": np.array(
        [
            -11.758,
            11.431,
            -23.926,
            7.106,
            -4.225,
            2.371,
            0.0,
            -0.942,
            1.016,
            0.388,
            0.255,
            -6.294,
            29.316,
            2.248,
            114.199,
        ]
    ),
}
# Found when the confidence reaches this. Out of fold on the dev set (questions whose paragraph was left out of the
# index): Arabic 0.137 false answers with 0.849 of the answerable questions found; English 0.117 / 0.550 (refitted
# on English questions read as their words' translations, askbot.lexicon: 0.118 / 0.546 before).
THRESHOLD = {"same": 0.48, "cross": 0.56}


@dataclass(frozen=True)
class Evidence:
    """What is known of the first excerpt when deciding whether it answers."""

    dense: float
    dense_next: float
    passage_coverage: float
    rare_coverage: float
    sentence_coverage: float
    unseen: float
    typed: bool
    holds_type: bool
    sentence_probability: float
    content_words: int
    lexical: float
    pair_coverage: float = 0.0
    lexical_next: float = 0.0
    dense_mean: float = 0.0


def features(e: Evidence) -> np.ndarray:
    return np.array(
        [
            1.0,
            e.dense,
            e.dense - e.dense_next,
            e.passage_coverage,
            e.rare_coverage,
            e.sentence_coverage,
            e.unseen,
            float(e.typed),
            float(e.typed and e.holds_type),
            e.sentence_probability,
            math.log1p(e.content_words),
            e.lexical,
            e.pair_coverage,
            e.lexical - e.lexical_next,
            e.dense - e.dense_mean,
        ]
    )


def confidence(e: Evidence, cross_lingual: bool) -> float:
    """Probability that the first excerpt answers (logistic model over :data:`FEATURES`)."""
    z = float(features(e) @ WEIGHTS["cross" if cross_lingual else "same"])
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def is_found(score: float, cross_lingual: bool) -> bool:
    return score >= THRESHOLD["cross" if cross_lingual else "same"]


def next_best(values: Sequence[float]) -> float:
    """The best of ``values`` after the first (the first itself when there is none: no margin to speak of)."""
    return max(values[1:], default=values[0] if values else 0.0)
