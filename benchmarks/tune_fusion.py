"""Dev-only: compare fusion rules and the not-found gate on the XQuAD-ar yardstick index, offline.

Usage: python benchmarks/tune_fusion.py [--index /tmp/evalidx] [--lang ar|en] [--data ../shared/data]
Needs an index built by `benchmarks/eval_xquad.sh`, and the XQuAD files it was built from: the questions
DIR/xquad-ar/xquad.LANG.json and the paragraphs DIR/xquad-ar/xquad.ar.json under ``--data``. Each question is
encoded once; every rule then ranks the same candidates (union of dense top-50 and BM25 top-50, both scores exact
for each), so the figures differ only by the rule. "Unanswerable" cases for the gate are made by searching with the
question's own gold paragraph excluded.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # shared_data, also when loaded by importlib

import shared_data  # noqa: E402

import askbot  # noqa: E402
from askbot.arabic import lexical_terms  # noqa: E402
from askbot.evaluation import load_squad  # noqa: E402

Rule = Callable[[np.ndarray, np.ndarray], np.ndarray]


def minmax(x: np.ndarray) -> np.ndarray:
    span = x.max() - x.min()
    return (x - x.min()) / span if span > 0 else np.ones_like(x)


def bymax(x: np.ndarray) -> np.ndarray:
    return x / x.max() if x.max() > 0 else np.zeros_like(x)


def zscore(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


RULES: dict[str, Rule] = {
    "dense": lambda d, lx: d,
    "bm25": lambda d, lx: lx,
    "minmax+max w1": lambda d, lx: minmax(d) + bymax(lx),
    "minmax+max w.7": lambda d, lx: minmax(d) + 0.7 * bymax(lx),
    "minmax+max w.5": lambda d, lx: minmax(d) + 0.5 * bymax(lx),
    "minmax+minmax w1": lambda d, lx: minmax(d) + minmax(lx),
    "minmax+minmax w.7": lambda d, lx: minmax(d) + 0.7 * minmax(lx),
    "z+z w1": lambda d, lx: zscore(d) + zscore(lx),
    "z+z w.7": lambda d, lx: zscore(d) + 0.7 * zscore(lx),
    "z+z w.5": lambda d, lx: zscore(d) + 0.5 * zscore(lx),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", default="/tmp/evalidx")
    parser.add_argument("--lang", default="ar")
    shared_data.add_options(parser)
    args = parser.parse_args()
    qfile = shared_data.need(args.data / shared_data.XQUAD_AR.with_name(f"xquad.{args.lang}.json"))
    evalset = load_squad(qfile, contexts=shared_data.need(args.data / shared_data.XQUAD_AR))
    kb = askbot.open(args.index)
    reader = kb.reader
    assert reader is not None
    article_of = {pid: p.article_id for pid, p in reader.passages(reader.passage_ids().tolist()).items()}
    vectors = kb.encoder.encode_queries([q.question for q in evalset.questions])
    ranks: dict[str, list[int | None]] = {name: [] for name in RULES}
    gate: list[tuple[float, float, bool]] = []  # (top dense, peak = top - mean of top10, answerable)
    for q, vec in zip(evalset.questions, vectors, strict=True):
        d_scores, d_ids = reader.dense_search(vec, 50)
        terms = lexical_terms(q.question)
        _, l_ids = reader.lexical_search(terms, 50)
        cand = np.unique(np.concatenate([d_ids, l_ids]))
        cd = reader.dense_scores(vec, cand)
        cl = reader.lexical_scores(terms, cand)
        for name, rule in RULES.items():
            order = cand[np.argsort(-rule(cd, cl), kind="stable")]
            arts = [article_of[int(p)] for p in order[:10]]
            ranks[name].append(arts.index(q.gold) + 1 if q.gold in arts else None)
        gold_mask = np.array([article_of[int(p)] == q.gold for p in d_ids])
        for answerable, scores in ((True, d_scores), (False, d_scores[~gold_mask])):
            top10 = scores[:10]
            gate.append((float(top10[0]), float(top10[0] - top10[1:].mean()), answerable))
    n = len(evalset.questions)
    print(f"{n} {args.lang} questions, {reader.info().passages} passages")
    print(f"{'rule':<20} {'R@1':>6} {'R@5':>6} {'MRR@10':>7}")
    for name, rs in ranks.items():
        r1 = sum(r == 1 for r in rs if r) / n
        r5 = sum(1 for r in rs if r and r <= 5) / n
        mrr = sum(1 / r for r in rs if r) / n
        print(f"{name:<20} {r1:6.3f} {r5:6.3f} {mrr:7.3f}")
    arr = np.array(gate)
    for label, mask in (("answerable", arr[:, 2] == 1), ("gold removed", arr[:, 2] == 0)):
        top, peak = arr[mask, 0], arr[mask, 1]
        print(
            f"{label:<13} top cosine q10/q50/q90 {np.quantile(top, [0.1, 0.5, 0.9]).round(3)}  "
            f"peak q10/q50/q90 {np.quantile(peak, [0.1, 0.5, 0.9]).round(3)}"
        )


if __name__ == "__main__":
    main()
