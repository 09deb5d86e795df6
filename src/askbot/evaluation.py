"""Retrieval and answer quality over a question set: recall@k, MRR@k, nDCG@k, answer-in-excerpts."""

from __future__ import annotations

import gzip
import json
import math
import random
import shutil
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from askbot import arabic, asking
from askbot.asking import EMPTY_INDEX
from askbot.types import Article

if TYPE_CHECKING:
    from askbot.kb import KnowledgeBase

# Gold paragraphs are indexed as "xq-<n>" (n counts paragraphs in file order) with an empty title and a
# neutral source, so that neither a title nor a source name can lead retrieval to them.
GOLD_PREFIX = "xq-"
GOLD_SOURCE = "xquad"
METHOD_ORDER = ("bm25", "dense", "hybrid")
ANSWER_EXCERPTS = 5  # answer@5: the gold answer inside one of the first 5 excerpts

Rank = int | None  # 1-based position of the first gold passage; None when not retrieved


# ---- metrics over the rank of the single gold item ---------------------------------------------
def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def recall_at_k(ranks: Sequence[Rank], k: int) -> float:
    """Share of questions whose gold item is in the first ``k``."""
    return _mean([1.0 if r is not None and r <= k else 0.0 for r in ranks])


def mrr_at_k(ranks: Sequence[Rank], k: int) -> float:
    """Mean reciprocal rank, counting 0 beyond ``k``."""
    return _mean([1.0 / r if r is not None and r <= k else 0.0 for r in ranks])


def ndcg_at_k(ranks: Sequence[Rank], k: int) -> float:
    """nDCG with one relevant item: 1/log2(rank+1) within ``k``, else 0 (the ideal DCG is 1)."""
    return _mean([1.0 / math.log2(r + 1) if r is not None and r <= k else 0.0 for r in ranks])


# ---- question sets -----------------------------------------------------------------------------
@dataclass(frozen=True)
class EvalQuestion:
    """A question, the accepted answer texts, and the id of the article (paragraph) that holds them."""

    id: str
    question: str
    answers: tuple[str, ...]
    gold: str


@dataclass(frozen=True)
class EvalSet:
    """The gold paragraphs as articles and the questions asked about them."""

    articles: list[Article]
    questions: list[EvalQuestion]
    unmatched: int = 0  # questions dropped because the contexts file has no question with their id


def _squad_paragraphs(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # not JSON, or not UTF-8
        raise ValueError(f"{path}: not a SQuAD v1.1 file (not UTF-8 JSON: {exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError(f"{path}: not a SQuAD v1.1 file (expected an object with a 'data' list)")
    paragraphs = (p for item in data["data"] for p in item.get("paragraphs", []))
    yield from enumerate(paragraphs)


def load_squad(questions: str | Path, contexts: str | Path | None = None) -> EvalSet:
    """Gold paragraphs and questions from SQuAD v1.1 files.

    Paragraphs (and the accepted answers) come from ``contexts`` when given, else from ``questions``;
    each question is matched to its paragraph by question id, so English questions can be asked of
    the Arabic paragraphs they were translated with (XQuAD shares ids across languages).
    """
    articles: list[Article] = []
    gold: dict[str, tuple[str, tuple[str, ...]]] = {}  # question id -> (article id, answers)
    for n, paragraph in _squad_paragraphs(Path(contexts or questions)):
        article_id = f"{GOLD_PREFIX}{n}"
        articles.append(Article(id=article_id, title="", text=paragraph["context"], source=GOLD_SOURCE))
        for qa in paragraph.get("qas", []):
            gold[qa["id"]] = (article_id, tuple(a["text"] for a in qa.get("answers", [])))
    asked: list[EvalQuestion] = []
    unmatched = 0
    for _, paragraph in _squad_paragraphs(Path(questions)):
        for qa in paragraph.get("qas", []):
            if qa["id"] not in gold:
                unmatched += 1
                continue
            article_id, answers = gold[qa["id"]]
            asked.append(EvalQuestion(qa["id"], qa["question"], answers, article_id))
    return EvalSet(articles, asked, unmatched)


def open_text(path: str | Path) -> TextIO:
    """A JSONL file for reading its lines: gzipped when its name ends in .gz (the news corpus), else plain."""
    if str(path).endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def sample_lines(path: str | Path, n: int | None, seed: int = 0) -> list[str]:
    """The non-blank lines of a (possibly gzipped) JSONL file; with ``n``, the first ``n`` after a seeded shuffle."""
    try:
        with open_text(path) as f:
            lines = [line.rstrip("\n") for line in f if line.strip()]
    except OSError as exc:  # missing, unreadable, or not gzip
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    if n is None:
        return lines
    random.Random(seed).shuffle(lines)
    return lines[:n]


def article_line(article: Article) -> str:
    """``article`` as one line of askbot's JSONL schema."""
    fields = ("id", "url", "source", "category", "title", "published", "text")
    return json.dumps({f: getattr(article, f) for f in fields}, ensure_ascii=False)


# ---- leaving paragraphs out: unanswerable questions ------------------------------------------------
PROTOCOLS = ("odd", "even")


def left_out_by(protocol: str, articles: Sequence[Article]) -> list[str]:
    """Gold article ids that ``protocol`` leaves out of the index: "odd" the odd-numbered paragraphs, "even" the
    even ones (numbered in file order). Their questions become unanswerable."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown --unanswerable protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    parity = 1 if protocol == "odd" else 0
    return [a.id for a in articles if a.id.startswith(GOLD_PREFIX) and int(a.id[len(GOLD_PREFIX) :]) % 2 == parity]


def held_out_copy(kb: KnowledgeBase, protocol: str, left_out: Sequence[str]) -> Path:
    """A copy of ``kb``'s index beside it without the ``left_out`` articles (made once by removal: no embedding)."""
    target = kb.index_dir.with_name(f"{kb.index_dir.name}-without-{protocol}")
    if target.exists():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(kb.index_dir, partial, ignore=shutil.ignore_patterns(".writer.lock"))
    copy = type(kb)(replace(kb.settings, index=partial))
    copy.remove(list(left_out))
    partial.rename(target)
    return target


# ---- the evaluator ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """How one method did on one question."""

    question_id: str
    method: str
    rank: Rank
    answered: bool
    answer_in_excerpts: bool
    answer_in_sentence: bool
    retrieved: tuple[str, ...]  # article ids of the ranked passages, best first
    passage_ids: tuple[int, ...] = ()  # the ranked passages themselves
    answerable: bool = True  # False when the protocol left the question's paragraph out of the index
    confidence: float = 0.0


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """Whether any answer, normalized, is inside the normalized ``text``."""
    folded = arabic.normalize(text)
    return any(a and a in folded for a in (arabic.normalize(x) for x in answers))


def gold_rank(retrieved: Sequence[str], gold: str) -> Rank:
    """1-based position of the first passage of the gold article, or None."""
    return next((i for i, article_id in enumerate(retrieved, 1) if article_id == gold), None)


class Evaluator:
    """Asks every question by each retrieval method and scores the rankings and the answers.

    A passage counts as gold when it belongs to the question's article; the rank is the position of
    the first such passage among the ranked passages (others from the same article are not skipped,
    as a reader of the excerpts would not skip them either). Answer metrics read what ``kb.ask``
    would show with k=5 (the steps after encoding are the same): an honest "not found" counts as a miss.
    """

    def __init__(
        self, questions: Sequence[EvalQuestion], ks: Sequence[int] = (1, 5, 10), left_out: Collection[str] = ()
    ) -> None:
        if not ks or min(ks) < 1:
            raise ValueError("ks must be positive cut-offs, e.g. (1, 5, 10)")
        self.questions = list(questions)
        self.ks = tuple(sorted(set(ks)))
        self.left_out = frozenset(left_out)  # gold articles not in the index: their questions are unanswerable

    def outcomes(
        self,
        kb: KnowledgeBase,
        methods: Sequence[str] = METHOD_ORDER,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Outcome]:
        """One Outcome per question and method, asked through the pipeline ``kb.ask`` uses (``asking``)."""
        reader = kb.reader
        if reader is None or reader.info().passages == 0:
            raise ValueError(EMPTY_INDEX)
        encoder = kb.encoder
        texts = [q.question for q in self.questions]
        by_method = {}
        for n, method in enumerate(methods):
            step = None
            if progress is not None:
                step = lambda done, total, n=n: progress(n * total + done, len(methods) * total)  # noqa: E731
            by_method[method] = asking.ask_many(
                reader,
                encoder,
                texts,
                k=ANSWER_EXCERPTS,
                method=method,
                max_chars=kb.settings.max_question_chars,
                depth=self.ks[-1],
                progress=step,
                lexicon=kb.lexicon,
            )
        return [
            self._score(question, by_method[method][i], method)
            for i, question in enumerate(self.questions)
            for method in methods
        ]

    def _score(self, question: EvalQuestion, asked: asking.Asked, method: str) -> Outcome:
        excerpts = asked.answer.excerpts
        return Outcome(
            question_id=question.id,
            method=method,
            rank=gold_rank(asked.articles[: self.ks[-1]], question.gold),
            answered=asked.answer.found,
            answer_in_excerpts=any(contains_answer(e.text, question.answers) for e in excerpts),
            answer_in_sentence=bool(excerpts) and contains_answer(excerpts[0].sentence, question.answers),
            retrieved=asked.articles,
            passage_ids=tuple(h.passage_id for h in asked.hits),
            answerable=question.gold not in self.left_out,
            confidence=asked.answer.confidence,
        )

    def summarize(self, outcomes: Sequence[Outcome], passages: int = 0) -> dict[str, dict[str, float]]:
        """Metrics per method (in the order the methods first appear), with the question and passage counts."""
        by_method: dict[str, list[Outcome]] = {}
        for o in outcomes:
            by_method.setdefault(o.method, []).append(o)
        top = self.ks[-1]
        report: dict[str, dict[str, float]] = {}
        for method, every in by_method.items():
            rows = [o for o in every if o.answerable]
            unanswerable = [o for o in every if not o.answerable]
            ranks = [o.rank for o in rows]
            metrics = {f"R@{k}": recall_at_k(ranks, k) for k in self.ks}
            metrics[f"MRR@{top}"] = mrr_at_k(ranks, top)
            metrics[f"nDCG@{top}"] = ndcg_at_k(ranks, top)
            metrics[f"answer@{ANSWER_EXCERPTS}"] = _mean([float(o.answer_in_excerpts) for o in rows])
            metrics["answer@sentence"] = _mean([float(o.answer_in_sentence) for o in rows])
            metrics["answered"] = _mean([float(o.answered) for o in rows])
            if unanswerable:
                metrics["found_unanswerable"] = _mean([float(o.answered) for o in unanswerable])
                # found, yet no excerpt holds a gold answer (a sibling paragraph that does is a fair answer)
                metrics["false_answers"] = _mean([float(o.answered and not o.answer_in_excerpts) for o in unanswerable])
                metrics["unanswerable"] = len(unanswerable)
            metrics.update(questions=len(rows), passages=passages)
            report[method] = metrics
        return report

    def run(
        self,
        kb: KnowledgeBase,
        methods: Sequence[str] = METHOD_ORDER,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, dict[str, float]]:
        """Metrics per method: R@k, MRR, nDCG, answer@5, answer@sentence, answered, questions, passages."""
        outcomes = self.outcomes(kb, methods, progress)
        reader = kb.reader
        return self.summarize(outcomes, reader.info().passages if reader is not None else 0)
