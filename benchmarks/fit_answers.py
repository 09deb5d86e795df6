"""Fit the reranker (askbot.rerank), the sentence model (askbot.sentences) and the not-found model
(askbot.confidence) on the dev set.

The dev set is XQuAD-ar (Arabic questions, and the English ones asked of the same Arabic paragraphs) among the
2,000 ANT distractor articles of the evaluation index. Unanswerable questions come from leaving paragraphs out:
two copies of the index, one without the odd-numbered gold paragraphs, one without the even ones (removed, not
re-embedded), so every question is asked once where its paragraph is indexed and once where it is not.

Everything is cross-validated by XQuAD article (5 folds; the paragraphs of one Wikipedia article, and so the
sibling paragraphs that may also hold an answer, never straddle training and test): the figures printed are
out-of-fold. The weights printed at the end are fitted on all of it and go into askbot/rerank.py,
askbot/sentences.py and askbot/confidence.py.

The reranker's gate (how far its best candidate must lead the retrieval first to replace it, and whether the others
follow the model) is chosen from out-of-fold rankings of the full index and both held-out copies; the figures after
it choose the gate on the other folds (nested). The sentence and not-found models are fitted on the retrieval order:
where the gate keeps the first passage, the answer is the one they were fitted on.

    python benchmarks/fit_answers.py --index /work/eval/idx --data ../shared/data --work /work/eval/fit

``--index`` is an evaluation index as ``askbot eval ... --sample 2000 --seed 0 --index DIR`` builds it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # shared_data, also when loaded by importlib

import numpy as np  # noqa: E402
import shared_data  # noqa: E402

import askbot  # noqa: E402
from askbot import answer, asking, rerank, sentences  # noqa: E402
from askbot import confidence as conf  # noqa: E402
from askbot.evaluation import EvalQuestion, contains_answer, load_squad  # noqa: E402
from askbot.types import Article, Hit, Passage, Retrieved  # noqa: E402

FOLDS = 5
PARITIES = ("odd", "even")


@dataclass
class Case:
    """One question asked in one index: what was retrieved, and what the models need of it."""

    question: EvalQuestion
    lang: str  # "ar" | "en"
    context: str  # "full" | "odd" | "even" (which paragraphs were left out)
    answerable: bool
    found: asking.Retrieval
    group: int  # XQuAD article
    sims: dict[int, np.ndarray] = field(default_factory=dict)  # passage id -> encoder cosine of each sentence


def xquad_groups(path: Path) -> dict[str, int]:
    """Gold article id ("xq-<n>") -> index of the XQuAD article it belongs to."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    out, n = {}, 0
    for group, item in enumerate(data):
        for _ in item["paragraphs"]:
            out[f"xq-{n}"] = group
            n += 1
    return out


def held_out_index(full: Path, work: Path, parity: str) -> Path:
    """A copy of ``full`` without the gold paragraphs of that parity (made once, by removal)."""
    target = work / f"idx-{parity}"
    if not target.exists():
        tmp = work / f"idx-{parity}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(full, tmp, ignore=shutil.ignore_patterns(".writer.lock"))
        kb = askbot.open(tmp)
        assert kb.reader is not None
        gold = [a for a in kb.reader.content_hashes() if a.startswith("xq-")]
        left_out = [a for a in gold if int(a[3:]) % 2 == (1 if parity == "odd" else 0)]
        kb.remove(left_out)
        tmp.rename(target)
    return target


def left_out(parity: str, article_id: str) -> bool:
    return int(article_id[3:]) % 2 == (1 if parity == "odd" else 0)


def collect(args: argparse.Namespace) -> list[Case]:
    arabic, english = (shared_data.need(args.data / f) for f in (shared_data.XQUAD_AR, shared_data.XQUAD_EN))
    ar = load_squad(arabic)
    en = load_squad(english, contexts=arabic)
    groups = xquad_groups(arabic)
    args.work.mkdir(parents=True, exist_ok=True)
    indexes = {"full": args.index} | {p: held_out_index(args.index, args.work, p) for p in PARITIES}
    kb = askbot.open(args.index)
    cases: list[Case] = []
    for lang, evalset in (("ar", ar), ("en", en)):
        step = max(1, len(evalset.questions) // args.limit) if args.limit else 1
        questions = evalset.questions[::step]
        vectors: np.ndarray | None = None  # encoded only when a retrieval is not cached
        for context, index in indexes.items():
            saved = args.work / f"retrieved-{lang}-{context}-{len(questions)}.jsonl"
            found_all = load_retrievals(saved) if saved.exists() else None
            if found_all is None:
                if vectors is None:
                    started = time.process_time()
                    vectors = kb.encoder.encode_queries([asking.query_text(q.question) for q in questions])
                    spent = time.process_time() - started
                    print(f"{lang}: {len(questions)} questions encoded ({spent:.1f} CPU s)", file=sys.stderr)
                reader = askbot.open(index).reader
                assert reader is not None
                found_all = [  # English questions searched by their words' translations too, as kb.ask does
                    asking.retrieve(reader, None, q.question, depth=10, vector=v, lexicon=kb.lexicon)
                    for q, v in zip(questions, vectors, strict=True)
                ]
                save_retrievals(saved, found_all)
            for q, found in zip(questions, found_all, strict=True):
                answerable = context == "full" or not left_out(context, q.gold)
                cases.append(Case(q, lang, context, answerable, found, groups[q.gold]))
    return cases


def save_retrievals(path: Path, found: Sequence[asking.Retrieval]) -> None:
    """What retrieval gave, as JSON lines, so a refit needs no index (the question vectors come along)."""
    with open(path, "w", encoding="utf-8") as f:
        for r in found:
            row = {
                "text": r.text,
                "vector": None if r.vector is None else r.vector.tolist(),
                "hits": [[h.passage_id, h.score, h.dense, h.lexical] for h in r.hits],
                "retrieved": [[asdict(x.hit), asdict(x.passage), asdict(x.article)] for x in r.retrieved],
                "idf": r.idf,
                "corpus_passages": r.corpus_passages,
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def load_retrievals(path: Path) -> list[asking.Retrieval]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        retrieved = tuple(Retrieved(Hit(**h), Passage(**p), Article(**a)) for h, p, a in row["retrieved"])
        vector = None if row["vector"] is None else np.asarray(row["vector"], np.float32)
        hits = tuple(Hit(*h) for h in row["hits"])
        out.append(asking.Retrieval(row["text"], "", vector, hits, retrieved, row["idf"], row["corpus_passages"]))
    return out


def add_sentence_similarities(cases: Sequence[Case], encoder: object, cache: Path) -> None:
    """Encoder cosines of the sentences of each case's first three passages; sentence vectors cached in ``cache``."""
    stored: dict[str, np.ndarray] = dict(np.load(cache)) if cache.exists() else {}
    wanted: list[tuple[Case, int, list[str]]] = []
    for case in cases:
        for r in case.found.retrieved[:3]:
            text = r.passage.text
            wanted.append((case, r.hit.passage_id, [text[s:e] for s, e in sentences.split(text)]))
    missing = sorted({s for _, _, ss in wanted for s in ss if _key(s) not in stored})
    if missing:
        started = time.process_time()
        vectors = encoder.encode_passages(missing, batch_size=64)  # type: ignore[attr-defined]
        print(f"{len(missing)} sentences encoded ({time.process_time() - started:.1f} CPU s)", file=sys.stderr)
        stored.update(zip(map(_key, missing), vectors, strict=True))
        np.savez(cache, **stored)
    for case, pid, ss in wanted:
        assert case.found.vector is not None
        case.sims[pid] = np.asarray([stored[_key(s)] for s in ss]) @ case.found.vector


def _key(sentence: str) -> str:
    return "s" + hashlib.sha1(sentence.encode("utf-8", "surrogatepass")).hexdigest()


def describe(case: Case, r_index: int, use_encoder: bool) -> sentences.Sentences:
    r = case.found.retrieved[r_index]
    sims = case.sims.get(r.hit.passage_id) if use_encoder else None
    scorer = (lambda _s, sims=sims: sims) if sims is not None else None
    asked = answer.Question.of(case.found.text, case.found.idf).asked
    return sentences.describe(r.passage.text, case.found.text, case.found.idf, asked, scorer)


def sentence_labels(case: Case, described: sentences.Sentences, r_index: int) -> np.ndarray:
    text = case.found.retrieved[r_index].passage.text
    return np.array([contains_answer(text[s:e], case.question.answers) for s, e in described.spans])


# ---- the sentence model: a conditional logit over each passage's sentences ---------------------------------
def fit_conditional_logit(groups: Sequence[tuple[np.ndarray, np.ndarray]], l2: float = 0.1) -> np.ndarray:
    from scipy.optimize import minimize

    dim = groups[0][0].shape[1]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = l2 * float(w @ w), 2 * l2 * w
        for x, y in groups:
            s = x @ w
            s = s - s.max()
            p = np.exp(s) / np.exp(s).sum()
            pos = p * y
            total -= float(np.log(pos.sum() + 1e-12))
            grad -= (pos / (pos.sum() + 1e-12)) @ x - p @ x
        return total / len(groups), grad / len(groups)

    return minimize(loss, np.zeros(dim), jac=True, method="L-BFGS-B").x


def fit_sentences(cases: Sequence[Case], cross: bool, use_encoder: bool, train_groups: set[int]) -> np.ndarray:
    data = []
    seen = set()
    for case in cases:
        if (case.lang != "ar") != cross or case.group not in train_groups:
            continue
        for i in range(min(3, len(case.found.retrieved))):
            key = (case.question.id, case.found.retrieved[i].hit.passage_id)
            if key in seen:
                continue
            seen.add(key)
            d = describe(case, i, use_encoder)
            y = sentence_labels(case, d, i)
            if y.any() and not y.all():
                data.append((d.features, y.astype(float)))
    if not data:
        return sentences.WEIGHTS["cross" if cross else "same"].astype(float)
    return fit_conditional_logit(data)


# ---- the reranker: a conditional logit over each question's first passages --------------------------------
CONTEXTS = ("full", "odd", "even")  # the full index and the two held-out copies
# (lead, reorder_rest) tried for askbot.rerank's LEAD and REORDER_REST, chosen out of fold
LEADS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, math.inf)  # inf: the first passage never moves
GATES = tuple((lead, rest) for rest in (True, False) for lead in LEADS)


def rank_of(case: Case, order: Sequence[int] = ()) -> int | None:
    """1-based rank of the gold paragraph among the first 10 passages, the first ``len(order)`` in that order."""
    retrieved = [case.found.retrieved[i] for i in order] + list(case.found.retrieved[len(order) :])
    return next((i for i, r in enumerate(retrieved[:10], 1) if r.article.id == case.question.gold), None)


def ranking_figures(ranks: Sequence[int | None]) -> dict[str, float]:
    """R@1, R@5 and MRR@10 of the gold paragraph (as askbot eval counts them)."""
    r = np.array([x or 99 for x in ranks])
    return {
        "R@1": float((r <= 1).mean()),
        "R@5": float((r <= 5).mean()),
        "MRR@10": float(np.where(r <= 10, 1.0 / r, 0.0).mean()),
    }


def by_context(mine: Sequence[Case], indices: Sequence[int], ranks: Sequence[int | None]) -> dict[str, object]:
    return {
        ctx: ranking_figures([ranks[i] for i in indices if mine[i].context == ctx])
        for ctx in CONTEXTS
        if any(mine[i].context == ctx for i in indices)
    }


def changes(
    mine: Sequence[Case], indices: Sequence[int], before: Sequence[int | None], after: Sequence[int | None]
) -> list[float]:
    """The change of R@1, R@5 and MRR@10, in questions, in the full index and in each held-out copy."""
    out = []
    for ctx in CONTEXTS:
        mine_ctx = [i for i in indices if mine[i].context == ctx]
        if mine_ctx:
            b = ranking_figures([before[i] for i in mine_ctx])
            a = ranking_figures([after[i] for i in mine_ctx])
            out += [(a[k] - b[k]) * len(mine_ctx) for k in a]
    return out


def choose_gate(
    mine: Sequence[Case], indices: Sequence[int], before: Sequence[int | None], after: dict[tuple, list[int | None]]
) -> tuple[float, bool]:
    """The gate under which no figure drops in the full index or either held-out copy (:func:`changes`), else the
    one whose worst drop is least; among those the one gaining most questions in all; ties: the larger lead."""

    def key(gate: tuple[float, bool]) -> tuple[float, float, float]:
        c = changes(mine, indices, before, after[gate])
        return (round(min(0.0, *c), 6), round(sum(c), 6), gate[0])

    return max(GATES, key=key)


def rerank_rows(cases: Sequence[Case], cross: bool, sentence_weights: dict[int, np.ndarray]) -> list[np.ndarray]:
    """The reranker's features of each case's candidates; the sentence model's weights are those of the fold the
    case's article is tested in (``sentence_weights``: group -> weights), so no case is scored by a model fitted
    on it."""
    rows = []
    for c in cases:
        f = c.found
        asked = answer.Question.of(f.text, f.idf).asked
        described = rerank.describe(f.retrieved, f.text, f.idf, asked)
        rows.append(rerank.features(f.retrieved, described, f.text, f.idf, asked, cross, sentence_weights[c.group]))
    return rows


def fit_rerank(rows: Sequence[np.ndarray], cases: Sequence[Case], l2: float = 0.1) -> np.ndarray:
    """Raw-scale weights of the conditional logit (fitted on standardized features) that ranks gold passages first,
    from the questions whose candidates hold both a gold and another passage."""
    data = []
    for x, c in zip(rows, cases, strict=True):
        y = np.array([r.article.id == c.question.gold for r in c.found.retrieved[: len(x)]], float)
        if y.any() and not y.all():
            data.append((x, y))
    stacked = np.concatenate([x for x, _ in data])
    mean, sd = stacked.mean(axis=0), stacked.std(axis=0)
    sd[sd == 0] = 1.0
    return fit_conditional_logit([((x - mean) / sd, y) for x, y in data], l2=l2) / sd


def rerank_cv(
    mine: Sequence[Case], cross: bool, folds: Sequence[set[int]], groups: Sequence[int]
) -> tuple[dict[str, object], np.ndarray, tuple[float, bool]]:
    """The reranker out of fold: its weights fitted on the other folds, its gate (LEAD, REORDER_REST) chosen on the
    other folds' out-of-fold rankings (nested), so every figure after is out of fold. Returns the figures, the
    weights fitted on all and the gate chosen on all out-of-fold rankings. The cases keep their retrieval order."""
    sentence_weights = {}
    for fold in folds:
        w = fit_sentences(mine, cross, False, set(groups) - fold)
        sentence_weights.update(dict.fromkeys(fold, w))
    rows = rerank_rows(mine, cross, sentence_weights)
    # trained on every case whose paragraph is indexed: in the full index its siblings compete, in the held-out
    # copies news articles do, and a reranker fitted on the first alone lost R@1 on the second
    indexed = [i for i, c in enumerate(mine) if c.answerable]
    before = [rank_of(c) for c in mine]
    after: dict[tuple, list[int | None]] = {g: list(before) for g in GATES}
    for fold in folds:
        train = [i for i in indexed if mine[i].group not in fold]
        weights = fit_rerank([rows[i] for i in train], [mine[i] for i in train])
        for i, c in enumerate(mine):
            if c.group in fold:
                for lead, rest in GATES:
                    view = rerank.order(rows[i], cross, weights, lead, rest)
                    after[(lead, rest)][i] = rank_of(c, view.order)
    nested = list(before)
    chosen_in_fold = []
    for fold in folds:
        gate = choose_gate(mine, [i for i in indexed if mine[i].group not in fold], before, after)
        chosen_in_fold.append(gate)
        for i, c in enumerate(mine):
            if c.group in fold:
                nested[i] = after[gate][i]
    final_gate = choose_gate(mine, indexed, before, after)
    report = {
        "before": by_context(mine, indexed, before),
        "after (out of fold, gate chosen out of fold)": by_context(mine, indexed, nested),
        "gates chosen in the folds": chosen_in_fold,
        "R@1, R@5, MRR@10 change in questions (full, odd, even) by gate, out of fold": {
            f"lead {lead} {'rest reordered' if rest else 'rest kept'}": [
                round(x, 1) for x in changes(mine, indexed, before, after[(lead, rest)])
            ]
            for lead, rest in GATES
        },
        "ungated (lead 0, rest reordered)": by_context(mine, indexed, after[(0.0, True)]),
    }
    final = fit_rerank([rows[i] for i in indexed], [mine[i] for i in indexed])
    return report, final, final_gate


# ---- the not-found model -----------------------------------------------------------------------------------
def fit_logistic(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> np.ndarray:
    """Logistic regression on standardized features (column 0 is the bias), returned as raw-scale weights."""
    from sklearn.linear_model import LogisticRegression

    mean, sd = x[:, 1:].mean(axis=0), x[:, 1:].std(axis=0)
    sd[sd == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=5000).fit((x[:, 1:] - mean) / sd, y)
    w = model.coef_[0] / sd
    return np.concatenate([[model.intercept_[0] - float(w @ mean)], w])


def outcome(case: Case, weights: np.ndarray, use_encoder: bool, cross: bool) -> tuple[np.ndarray, bool, bool]:
    """(confidence features, whether the shown excerpts hold an answer, whether the marked sentence does)."""
    found = case.found
    if not found.retrieved:
        return np.zeros(len(conf.FEATURES)), False, False
    q = answer.Question.of(found.text, found.idf)
    marked = answer.marked(describe(case, 0, use_encoder), cross, weights)
    start, end = marked.start, marked.end
    evidence = answer.evidence(q, found.retrieved[:10], marked, found.corpus_passages)
    built = answer.build_excerpts(found.retrieved[:10], found.idf, found.text)
    shown = answer.collapse_duplicates([(e, m.coverage) for e, m in built])[:5]
    holds = any(contains_answer(e.text, case.question.answers) for e, _ in shown)
    text = found.retrieved[0].passage.text
    return conf.features(evidence), holds, contains_answer(text[start:end], case.question.answers)


def threshold_for(probability: np.ndarray, holds: np.ndarray, answerable: np.ndarray, target: float) -> float:
    """The lowest threshold (in steps of 0.01) whose out-of-fold false-answer rate on unanswerable questions is at
    most ``target``: as many answers as can be given without misleading more often than that."""
    for t in np.arange(0.05, 1.0, 0.01):
        found = probability >= t
        if (found & ~holds.astype(bool))[~answerable].mean() <= target:
            return round(float(t), 2)
    return 1.0


def without(
    x: np.ndarray,
    y: np.ndarray,
    ctx: Sequence[tuple[Case, set[int]]],
    folds: Sequence[set[int]],
    answerable: np.ndarray,
    names: Sequence[str],
    target: float,
) -> dict[str, float]:
    """Out-of-fold found / false answers at the target's threshold when the not-found model does without the
    features ``names`` (to tell which features pay)."""
    keep = [i for i, n in enumerate(conf.FEATURES) if n not in names]
    oof = np.zeros(len(y))
    for fold in folds:
        test = np.array([c.group in fold for c, _ in ctx])
        oof[test] = 1 / (1 + np.exp(-(x[test][:, keep] @ fit_logistic(x[~test][:, keep], y[~test]))))
    threshold = threshold_for(oof, y, answerable, target)
    found = oof >= threshold
    return {
        "threshold": threshold,
        "found_answerable": float(found[answerable].mean()),
        "false_answers": float((found & ~y.astype(bool))[~answerable].mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True, help="the evaluation index (all gold paragraphs)")
    shared_data.add_options(parser)
    parser.add_argument("--work", type=Path, required=True, help="where the held-out index copies are kept")
    parser.add_argument(
        "--limit", type=int, default=None, help="about N questions of each language, spread over the set"
    )
    parser.add_argument(
        "--false-answers", type=float, default=0.12, help="out-of-fold false-answer rate the thresholds aim at"
    )
    parser.add_argument(
        "--ablate",
        action="append",
        default=[],
        metavar="NAMES",
        help="also report the not-found model without these comma-separated features (repeatable)",
    )
    args = parser.parse_args()

    cases = collect(args)  # a missing XQuAD file ends it here, in one line
    for lang in ("ar", "en"):
        full = [c for c in cases if c.lang == lang and c.context == "full"]
        first = np.mean(
            [
                bool(c.found.retrieved) and contains_answer(c.found.retrieved[0].passage.text, c.question.answers)
                for c in full
            ]
        )
        top3 = np.mean(
            [any(contains_answer(r.passage.text, c.question.answers) for r in c.found.retrieved[:3]) for c in full]
        )
        print(f"{lang}: first passage holds an answer {first:.3f}, one of the first three {top3:.3f}", file=sys.stderr)
    add_sentence_similarities(cases, askbot.open(args.index).encoder, args.work / "sentence-vectors.npz")
    groups = sorted({c.group for c in cases})
    folds = [set(groups[i::FOLDS]) for i in range(FOLDS)]
    report: dict[str, object] = {}
    final: dict[str, dict[str, object]] = {}
    for cross, lang in ((False, "ar"), (True, "en")):
        mine = [c for c in cases if (c.lang != "ar") == cross]
        started = time.process_time()
        report[f"{lang} rerank"], rerank_weights, (lead, rest) = rerank_cv(mine, cross, folds, groups)
        print(
            f"{lang} rerank ({time.process_time() - started:.0f} CPU s)",
            json.dumps(report[f"{lang} rerank"]),
            file=sys.stderr,
            flush=True,
        )
        final[f"{lang} rerank"] = {
            "rerank_weights": rerank_weights.round(3).tolist(),
            "lead": lead,
            "reorder_rest": rest,
        }
        for use_encoder in (False, True):
            hits_full = []
            xs, ys, ctx = [], [], []
            for fold in folds:
                train = set(groups) - fold
                w = fit_sentences(mine, cross, use_encoder, train)
                for c in mine:
                    if c.group in fold:
                        x, y, in_sentence = outcome(c, w, use_encoder, cross)
                        if c.context == "full":
                            hits_full.append(in_sentence)
                        else:
                            xs.append(x)
                            ys.append(y)
                            ctx.append((c, fold))
            x_all, y_all = np.asarray(xs), np.asarray(ys, float)
            oof = np.zeros(len(ys))
            for fold in folds:
                test = np.array([c.group in fold for c, _ in ctx])
                coef = fit_logistic(x_all[~test], y_all[~test])
                oof[test] = 1 / (1 + np.exp(-(x_all[test] @ coef)))
            answerable = np.array([c.answerable for c, _ in ctx])
            key = f"{lang}{'+encoder' if use_encoder else ''}"
            rows: dict[object, dict[str, float]] = {}
            for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
                found = oof >= threshold
                rows[threshold] = {
                    "found_answerable": float(found[answerable].mean()),
                    "found_unanswerable": float(found[~answerable].mean()),
                    "false_answers": float((found & ~y_all.astype(bool))[~answerable].mean()),
                    "false_answers_answerable": float((found & ~y_all.astype(bool))[answerable].mean()),
                }
            chosen = threshold_for(oof, y_all, answerable, args.false_answers)
            found = oof >= chosen
            rows["chosen"] = {
                "threshold": chosen,
                "found_answerable": float(found[answerable].mean()),
                "found_unanswerable": float(found[~answerable].mean()),
                "false_answers": float((found & ~y_all.astype(bool))[~answerable].mean()),
            }
            report[key] = {
                "answer@sentence (first passage, full index)": float(np.mean(hits_full)),
                "by threshold": rows,
                "without": {
                    names: without(x_all, y_all, ctx, folds, answerable, names.split(","), args.false_answers)
                    for names in args.ablate
                },
            }
            print(key, json.dumps(report[key]), file=sys.stderr, flush=True)
            final[key] = {
                "threshold": chosen,
                "sentence_weights": fit_sentences(mine, cross, use_encoder, set(groups)).round(3).tolist(),
                "confidence_weights": fit_logistic(x_all, y_all).round(3).tolist(),
            }
    print(json.dumps({"cv": report, "weights": final}, indent=1))


if __name__ == "__main__":
    main()
