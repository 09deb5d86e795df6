"""Why `askbot eval` missed: sort each method's misses by what outranked the gold paragraph, with examples; and the
ceilings the first passage sets on what the answer metrics can reach.

    python benchmarks/eval_failures.py DETAILS.jsonl ../shared/data/xquad-ar/xquad.ar.json --index DIR

answer@sentence reads the marked sentence of the first excerpt and counts "not found" as a miss, so it can reach
neither the share of questions whose first passage holds a gold answer, nor, at a given not-found decision, the
share of those that are also answered.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from askbot.evaluation import GOLD_PREFIX, contains_answer
from askbot.store import factory
from askbot.store.base import StoreReader


def squad_topics(path: Path) -> dict[str, str]:
    """Gold article id (xq-<n>, as askbot.evaluation numbers paragraphs) -> its SQuAD article title."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    pairs = [(item["title"], p) for item in data for p in item["paragraphs"]]
    return {f"{GOLD_PREFIX}{n}": title for n, (title, _) in enumerate(pairs)}


def passage_text(reader: StoreReader, pid: int) -> str:
    passage = reader.passages([pid]).get(pid)
    return passage.text if passage else ""


def kind_of(winner: str, gold: str, topics: dict[str, str]) -> str:
    if not winner.startswith(GOLD_PREFIX):
        return "news distractor"
    return "sibling paragraph (same XQuAD article)" if topics[winner] == topics[gold] else "other XQuAD article"


def first_holds(reader: StoreReader, row: dict) -> bool:
    """Whether the passage a question's run ranked first holds one of its gold answers."""
    return bool(row["passage_ids"]) and contains_answer(passage_text(reader, row["passage_ids"][0]), row["answers"])


def ceilings(rows: list[dict], holds: dict[str, bool]) -> dict[str, float]:
    """What bounds answer@sentence for answerable questions: the first passage holding a gold answer (``holds``, by
    question id), and that with the question answered; beside the figures reached."""
    rows = [r for r in rows if r.get("answerable", True)]
    first = sum(holds[r["question_id"]] for r in rows)
    both = sum(holds[r["question_id"]] and r["answered"] for r in rows)
    in_sentence = sum(r["answer_in_sentence"] for r in rows)
    n = max(len(rows), 1)
    return {
        "first passage holds an answer": first / n,
        "... and answered": both / n,
        "answered": sum(r["answered"] for r in rows) / n,
        "answer@sentence": in_sentence / n,
        "answer@sentence / (first holds and answered)": in_sentence / max(both, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("details", type=Path, help="the --details file of an `askbot eval` run")
    parser.add_argument("contexts", type=Path, help="the SQuAD file the gold paragraphs came from")
    parser.add_argument("--index", type=Path, required=True, help="the index the run used")
    parser.add_argument("--method", default="hybrid")
    parser.add_argument("--examples", type=int, default=10)
    args = parser.parse_args()

    topics = squad_topics(args.contexts)
    reader = factory.open_reader(args.index)
    if reader is None:
        raise SystemExit(f"no index in {args.index}")
    pieces = Counter(p.article_id for p in reader.passages(reader.passage_ids().tolist()).values())
    rows = [json.loads(line) for line in args.details.read_text(encoding="utf-8").splitlines()]
    by_question: dict[str, dict[str, dict]] = {}
    for row in rows:
        by_question.setdefault(row["question_id"], {})[row["method"]] = row
    mine = [r for r in rows if r["method"] == args.method]
    holds = {r["question_id"]: first_holds(reader, r) for r in mine}
    print(
        f"{args.method}, answerable questions: " + ", ".join(f"{k} {v:.3f}" for k, v in ceilings(mine, holds).items())
    )
    misses = [r for r in mine if r["rank"] != 1]
    print(f"{args.method}: {len(misses)} of {len(by_question)} questions not at rank 1")
    print(f"  gold rank among misses: {Counter(r['rank'] if r['rank'] else 'none' for r in misses).most_common()}")
    split = sum(pieces[r["gold"]] > 1 for r in misses)
    split_gold = sum(pieces[g] > 1 for g in topics)
    print(f"  gold paragraph split into several passages: {split} misses ({split_gold} of {len(topics)} paragraphs)")
    winners = Counter(kind_of(r["retrieved"][0], r["gold"], topics) for r in misses if r["retrieved"])
    print(f"  ranked first instead: {winners.most_common()}")
    answering = sum(holds[r["question_id"]] for r in misses)
    print(f"  the passage ranked first holds a gold answer anyway: {answering}")
    methods = [m for m in ("bm25", "dense") if all(m in by_question[r["question_id"]] for r in misses)]
    others = {m: sum(by_question[r["question_id"]][m]["rank"] == 1 for r in misses) for m in methods}
    if others:
        print("  of these, rank 1 " + ", ".join(f"by {m} alone: {n}" for m, n in others.items()))
    for r in misses[: args.examples]:
        ranks = {m: q[m]["rank"] for m in ("bm25", "dense", "hybrid") if m in (q := by_question[r["question_id"]])}
        winner = r["retrieved"][0] if r["retrieved"] else "-"
        print(
            f"\n- {r['question']}  (answers {r['answers']}; gold {r['gold']} {topics[r['gold']]}, "
            f"{pieces[r['gold']]} passage(s); ranks {ranks})"
        )
        print(
            f"  first: {winner} [{kind_of(winner, r['gold'], topics) if r['retrieved'] else '-'}] "
            f"{passage_text(reader, r['passage_ids'][0])[:160] if r['passage_ids'] else ''}"
        )


if __name__ == "__main__":
    main()
