"""`askbot eval`: index gold paragraphs among distractor articles, ask every question, print the metrics."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from askbot.config import Settings
from askbot.evaluation import (
    METHOD_ORDER,
    PROTOCOLS,
    EvalQuestion,
    Evaluator,
    Outcome,
    article_line,
    held_out_copy,
    left_out_by,
    load_squad,
    sample_lines,
)
from askbot.kb import KnowledgeBase
from askbot.progress import EXIT_OK, bounded, progress_bar
from askbot.progress import index_with_progress as _index
from askbot.progress import say as _say
from askbot.retrieval import METHODS


def _line_ids(lines: Iterable[str]) -> set[str]:
    ids = set()
    for line in lines:
        try:
            article_id = json.loads(line).get("id")
        except (ValueError, AttributeError):
            continue
        if article_id:
            ids.add(str(article_id))
    return ids


def _refuse_foreign(kb: KnowledgeBase, wanted: set[str]) -> None:
    """A reused index must hold nothing but this evaluation's articles, or the figures would mislead."""
    reader = kb.reader
    foreign = sorted(set(reader.content_hashes()) - wanted) if reader is not None else []
    if foreign:
        raise ValueError(
            f"the index {kb.location} holds {len(foreign)} article(s) that are not part of this evaluation "
            f"(e.g. {foreign[0]!r}: another --sample/--seed/--distractors, or not an eval index); "
            "pass a new --index folder (or --store) or delete this one"
        )


def format_table(report: dict[str, dict[str, float]]) -> str:
    """Methods side by side, one metric per row."""
    methods = list(report)
    first = report[methods[0]]
    metrics = [m for m in first if m not in ("questions", "passages", "unanswerable")]
    unanswerable = f" (+ {int(first['unanswerable'])} unanswerable)" if "unanswerable" in first else ""
    lines = [
        f"{int(first['questions'])} questions{unanswerable}, {int(first['passages'])} passages",
        f"{'':<16}" + "".join(f"{m:>9}" for m in methods),
    ]
    lines += [f"{metric:<16}" + "".join(f"{report[m][metric]:>9.3f}" for m in methods) for metric in metrics]
    return "\n".join(lines)


def _write_details(path: Path, questions: Sequence[EvalQuestion], outcomes: Sequence[Outcome]) -> None:
    by_id = {q.id: q for q in questions}
    with open(path, "w", encoding="utf-8") as f:
        for o in outcomes:
            q = by_id[o.question_id]
            row: dict[str, Any] = {"question": q.question, "gold": q.gold, "answers": q.answers, **asdict(o)}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def cmd_eval(args: argparse.Namespace) -> int:
    if args.details and not args.details.parent.is_dir():  # said now, not after the whole evaluation has run
        raise ValueError(f"--details {args.details}: the folder {args.details.parent} does not exist")
    evalset = load_squad(args.questions, args.contexts)
    questions = evalset.questions[: args.limit] if args.limit else evalset.questions
    if evalset.unmatched:
        _say(f"{evalset.unmatched} question(s) have no paragraph in {args.contexts} (matched by id); not asked")
    if not questions:
        raise ValueError(f"no questions to ask in {args.questions}")
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown retrieval method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    if args.unanswerable and (args.eval_store or args.store):
        raise ValueError("--unanswerable makes a held-out copy of a folder index: use --index DIR, not --store")
    distractors = sample_lines(args.distractors, args.sample, args.seed) if args.distractors else []
    _say(f"{len(evalset.articles)} gold paragraphs, {len(distractors)} distractor articles, {len(questions)} questions")
    with tempfile.TemporaryDirectory(prefix="askbot-eval-") as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        with open(corpus, "w", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in [*map(article_line, evalset.articles), *distractors])
        index = args.eval_index or args.index or Path(tmp) / "index"
        # only a store named here: ASKBOT_STORE (a deployment's store) must not receive the evaluation's articles
        store = args.eval_store or args.store or ""
        kb = KnowledgeBase(Settings.from_env(index=index, model=args.model, store=store))
        _refuse_foreign(kb, {a.id for a in evalset.articles} | _line_ids(distractors))
        code = _index(kb, [str(corpus)])
        if code != EXIT_OK:
            return code
        left_out: list[str] = []
        if args.unanswerable:
            left_out = left_out_by(args.unanswerable, evalset.articles)
            kb = KnowledgeBase(replace(kb.settings, index=held_out_copy(kb, args.unanswerable, left_out)))
            _say(f"{len(left_out)} gold paragraphs left out of {kb.index_dir}: their questions are unanswerable")
        evaluator = Evaluator(questions, left_out=left_out)
        update, close = progress_bar("asking", unit="question")
        started = time.perf_counter()
        try:
            outcomes = evaluator.outcomes(kb, args.methods, progress=update)
        finally:
            close()
        _say(f"asked {len(questions)} questions x {len(args.methods)} methods in {time.perf_counter() - started:.1f}s")
        reader = kb.reader
        report = evaluator.summarize(outcomes, reader.info().passages if reader is not None else 0)
    if args.details:
        _write_details(args.details, questions, outcomes)
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return EXIT_OK


def add_eval_parser(subparsers: Any) -> None:
    """Register ``askbot eval`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "eval",
        help="measure retrieval and answers on a SQuAD-style question set (R@k, MRR, nDCG, answer@5)",
        description="Index the question set's paragraphs among distractor articles, ask every question with "
        "bm25, dense and hybrid retrieval, and print the metrics side by side.",
    )
    p.add_argument("questions", type=Path, help="questions in SQuAD v1.1 layout (e.g. xquad.ar.json)")
    p.add_argument(
        "--contexts",
        type=Path,
        default=None,
        help="take the gold paragraphs and answers from this SQuAD file instead, matched by question id "
        "(e.g. English questions against xquad.ar.json)",
    )
    p.add_argument("--distractors", type=Path, default=None, help="news articles to mix in (.jsonl or .jsonl.gz)")
    p.add_argument(
        "--sample",
        type=bounded(0),
        default=None,
        metavar="N",
        help="use N distractor articles, drawn after a seeded shuffle (default: all)",
    )
    p.add_argument("--seed", type=int, default=0, help="shuffle seed for --sample (default 0)")
    p.add_argument("--limit", type=bounded(1), default=None, metavar="Q", help="ask only the first Q questions")
    p.add_argument(
        "--index",
        dest="eval_index",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep the index in DIR and reuse it: a rerun with the same inputs embeds nothing "
        "(default: a temporary index)",
    )
    p.add_argument(
        "--store",
        dest="eval_store",
        default=None,
        metavar="LOCATION",
        help="keep the index in this store instead (milvus:PATH.db or milvus://HOST:PORT), reused like --index DIR; "
        "ASKBOT_STORE is not read here",
    )
    p.add_argument(  # as every command takes it, after the command too (the top parser's when not given here)
        "--model", default=argparse.SUPPRESS, help="model of the index built (env ASKBOT_MODEL; default: bundled)"
    )
    p.add_argument(
        "--methods",
        type=lambda value: value.split(","),
        default=list(METHOD_ORDER),
        help=f"comma-separated retrieval methods, of {', '.join(METHODS)} (default: {','.join(METHOD_ORDER)})",
    )
    p.add_argument(
        "--unanswerable",
        choices=PROTOCOLS,
        default=None,
        help="leave the odd- (or even-) numbered gold paragraphs out of the index (a copy beside --index, made by "
        "removal): their questions become unanswerable, and found_unanswerable and false_answers are reported",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object keyed by method")
    p.add_argument(
        "--details",
        type=Path,
        default=None,
        metavar="FILE",
        help="write one JSON line per question and method (rank, retrieved article ids) to FILE",
    )
    p.set_defaults(func=cmd_eval)
