"""What a write costs in the segmented store, at the size of the whole corpus: adds, removes, many segments, merges.

Usage:
    python benchmarks/store_writes.py build   [--news ant-v2.1.jsonl.gz] --work /tmp/storew [--hold-out 200]
    python benchmarks/store_writes.py measure --work /tmp/storew [--questions xquad.ar.json] [--asks 100] [--cold 5]
    (each also [--data ../shared/data]: --news defaults to DIR/news/ant-v2.1.jsonl.gz under it, --questions to
    DIR/xquad-ar/xquad.ar.json; without a questions file the held-out articles' titles are asked)

``build`` writes every ANT article but the last ``--hold-out`` (after a seeded shuffle) into one segment through the
store writer directly, chunked as askbot chunks (by its approximate token count, not the model's tokenizer) with
**stand-in vectors**: a unit vector hashed from each passage's text (no model run: 100k real embeddings take ~50
minutes here). SQLite, BM25 and FAISS hold what they would hold. ``measure`` works on a hard-linked copy of that
index (segments are never modified, so the copy costs nothing) and embeds what it adds with the real encoder:

1. add 100 held-out articles with ``kb.add``: wall, CPU, encoding seconds, bytes written (/proc/self/io
   write_bytes, and the index's size before/after);
2. remove 100 articles of the big segment (tombstones);
3. 50 small adds (2 articles each, real encoder): 50 more segments, no merge (MAX_SEGMENTS is 64);
4. warm ``kb.ask`` p50/p95 over ``--asks`` questions, and dense search alone, with those segments and after
   ``kb.compact()`` (also timed, with its bytes written);
5. cold ``askbot ask`` (a fresh process, median of ``--cold``) with the segments, and merged.

``compare`` repeats only steps 4 and 5 on the two indexes a ``measure`` run left (``index-segmented``, ``index``);
with ``--without-pool`` also on the segmented one with its small segments searched one by one (no
:mod:`askbot.store.pooled`), all three interleaved.

Every figure is printed as JSON with the CPU seconds beside the wall seconds. ``--smoke`` runs the whole thing on a
few seed articles with stand-in vectors for the adds too (the test suite runs it so a refactor cannot break it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # shared_data, also when loaded by importlib

import numpy as np  # noqa: E402
import shared_data  # noqa: E402

import askbot  # noqa: E402
from askbot.arabic import lexical_terms  # noqa: E402
from askbot.chunking import chunk_article  # noqa: E402
from askbot.config import Settings  # noqa: E402
from askbot.store import factory, pooled  # noqa: E402
from askbot.store.lexical import TEXT_VERSION  # noqa: E402
from askbot.store.manifest import Manifest  # noqa: E402
from askbot.types import Article  # noqa: E402

SMALL_ADDS, SMALL_ADD_ARTICLES, ADD, REMOVE = 50, 2, 100, 100


def read_news(path: Path) -> list[Article]:
    fields = ("id", "title", "text", "source", "url", "published", "category")
    with shared_data.open_text(path) as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    articles = [Article(**{f: str(r.get(f) or "") for f in fields}) for r in records if r.get("text")]
    random.Random(0).shuffle(articles)
    return articles


def standin(texts: Sequence[str], dim: int) -> np.ndarray:
    """A unit vector per text, hashed from it: what the store holds costs the same, no model runs."""
    out = np.stack([np.random.default_rng(zlib.crc32(t.encode())).standard_normal(dim) for t in texts])
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def write_bytes() -> int:
    """Bytes this process has caused to be written to storage so far (Linux)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def du(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def measured(fn: Callable[[], object]) -> tuple[dict[str, float], object]:
    wall, cpu, written = time.perf_counter(), time.process_time(), write_bytes()
    out = fn()
    return {
        "wall_s": round(time.perf_counter() - wall, 3),
        "cpu_s": round(time.process_time() - cpu, 3),
        "bytes_written": write_bytes() - written,
    }, out


def build(args: argparse.Namespace) -> dict[str, object]:
    articles = read_news(args.news)
    base, held = articles[: len(articles) - args.hold_out], articles[len(articles) - args.hold_out :]
    encoder = askbot.open(args.work / "scratch").encoder  # its model id and fingerprint, for the manifest
    index = args.work / "base"
    shutil.rmtree(index, ignore_errors=True)
    settings = Settings.from_env()
    manifest = Manifest(encoder.model_id, encoder.fingerprint, encoder.dim, TEXT_VERSION, "standin")
    manifest.chunking = f"sentences<={settings.chunk_tokens}tok,overlap={settings.chunk_overlap_sentences}"

    def write() -> int:
        passages = 0
        with factory.open_writer(index, manifest) as writer:
            for article in base:
                chunks = chunk_article(
                    article, max_tokens=settings.chunk_tokens, overlap=settings.chunk_overlap_sentences
                )
                texts = [p.text for p in chunks]
                writer.upsert(article, chunks, standin(texts, encoder.dim), [lexical_terms(t) for t in texts])
                passages += len(chunks)
            writer.commit()
        return passages

    figures, passages = measured(write)
    (args.work / "held-out.jsonl").write_text(
        "".join(json.dumps(vars(a), ensure_ascii=False) + "\n" for a in held), encoding="utf-8"
    )
    result = {"articles": len(base), "passages": passages, "index_bytes": du(index), "build": figures}
    print(json.dumps(result, indent=2))
    return result


def cold_ask(index: Path, question: str, runs: int) -> dict[str, float]:
    walls = []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "askbot.cli", "--index", str(index), "ask", question, "-k", "3"],
            capture_output=True,
            text=True,
        )
        walls.append(time.perf_counter() - started)
        assert proc.returncode in (0, 1), proc.stderr
    return {"median_s": round(statistics.median(walls), 3), "runs": runs}


def warm(kbs: dict[str, askbot.KnowledgeBase], questions: list[str]) -> dict[str, dict[str, float]]:
    """Warm ``kb.ask`` and dense search alone, question by question on each index in turn (the load of a shared
    machine drifts: interleaving hits every index alike)."""
    readers = {name: kb.reader for name, kb in kbs.items()}
    vectors = next(iter(kbs.values())).encoder.encode_queries(questions)
    times: dict[str, dict[str, list[float]]] = {name: {"ask": [], "dense": [], "bm25": []} for name in kbs}
    cpu: dict[str, dict[str, float]] = {name: {"ask": 0.0, "dense": 0.0, "bm25": 0.0} for name in kbs}
    for kb in kbs.values():
        kb.ask(questions[0])
    for question, vector in zip(questions, vectors, strict=True):
        terms = lexical_terms(question)
        for name, kb in kbs.items():
            reader = readers[name]
            assert reader is not None
            for part, call, arg in (
                ("ask", kb.ask, question),
                ("dense", reader.dense_search, vector),
                ("bm25", reader.lexical_search, terms),
            ):
                started, cpu_started = time.perf_counter(), time.process_time()
                call(arg) if part == "ask" else call(arg, 50)  # type: ignore[operator]
                times[name][part].append((time.perf_counter() - started) * 1e3)
                cpu[name][part] += time.process_time() - cpu_started
    out = {}
    for name, parts in times.items():
        out[name] = {
            f"{part}_p{q}_ms": round(float(np.percentile(ms, q)), 2) for part, ms in parts.items() for q in (50, 95)
        }
        per_question = {part: seconds * 1e3 / len(questions) for part, seconds in cpu[name].items()}
        out[name] |= {f"{part}_cpu_ms_per_question": round(ms, 3) for part, ms in per_question.items()}
        out[name]["segments"] = readers[name].info().segments  # type: ignore[union-attr]
    return out


def measure(args: argparse.Namespace) -> dict[str, object]:
    base = args.work / "base"
    index = args.work / "index"
    shutil.rmtree(index, ignore_errors=True)
    subprocess.run(["cp", "-al", str(base), str(index)], check=True)  # segments are immutable: links are a copy
    (index / ".writer.lock").unlink(missing_ok=True)
    held = [Article(**json.loads(line)) for line in (args.work / "held-out.jsonl").read_text("utf-8").splitlines()]
    kb = askbot.open(index)
    if args.smoke:
        kb._encoder = StandInPassages(kb.encoder)
    kb.encoder.encode_passages(["تحميل النموذج"] * 8)  # load the model before any clock starts
    questions = load_questions(args.questions, held, args.asks)
    result: dict[str, object] = {"passages": kb.info().passages, "index_bytes_before": du(index)}

    adds, later = held[: args.add], held[args.add :]
    writes_only = args.work / "index-writes-only"  # the same add with stand-in vectors: what is not encoding
    shutil.rmtree(writes_only, ignore_errors=True)
    subprocess.run(["cp", "-al", str(index), str(writes_only)], check=True)
    kb_writes = askbot.open(writes_only)
    kb_writes._encoder = StandInPassages(kb.encoder)
    figures, report = measured(lambda: kb_writes.add(adds))
    figures["passages"] = report.passages  # type: ignore[attr-defined]
    result["add_standin_vectors"] = figures
    shutil.rmtree(writes_only)
    figures, report = measured(lambda: kb.add(adds))
    figures["encode_s"] = round(report.encode_seconds, 3)  # type: ignore[attr-defined]
    figures["passages"] = report.passages  # type: ignore[attr-defined]
    figures["share_of_index"] = round(figures["bytes_written"] / result["index_bytes_before"], 4)  # type: ignore[operator]
    result["add"] = figures
    result["index_bytes_after_add"] = du(index)

    assert kb.reader is not None
    victims = [a for a in kb.reader.content_hashes() if a not in {x.id for x in adds}][: args.remove]
    figures, removed = measured(lambda: kb.remove(victims))
    assert len(removed) == len(victims)  # type: ignore[arg-type]
    result["remove"] = figures

    small = []
    for n in range(args.small_adds):
        group = later[n * SMALL_ADD_ARTICLES : (n + 1) * SMALL_ADD_ARTICLES]
        if not group:
            break
        figures, _ = measured(lambda group=group: kb.add(group))
        small.append(figures)
    result["small_adds"] = {
        "count": len(small),
        "wall_s_median": statistics.median(f["wall_s"] for f in small) if small else 0,
        "bytes_written_median": statistics.median(f["bytes_written"] for f in small) if small else 0,
    }
    segmented = args.work / "index-segmented"
    shutil.rmtree(segmented, ignore_errors=True)
    subprocess.run(["cp", "-al", str(index), str(segmented)], check=True)  # kept as it is while `index` merges
    figures, info = measured(kb.compact)
    result["compact"] = figures | {"segments_after": info.segments}  # type: ignore[attr-defined]
    result |= compared(segmented, index, questions, args.cold)
    print(json.dumps(result, indent=2))
    return result


def compared(
    segmented: Path, merged: Path, questions: list[str], cold: int, without_pool: bool = False
) -> dict[str, object]:
    """Warm and cold questions on the segmented index and the merged one, interleaved; ``without_pool``: also the
    segmented index with its small segments searched one by one (as before askbot.store.pooled)."""
    kb, kb_segmented = askbot.open(merged), askbot.open(segmented)
    kb_segmented._encoder = kb.encoder
    kbs = {"segmented": kb_segmented, "merged": kb}
    if without_pool:
        kbs["segmented_without_pool"] = unpooled = askbot.open(segmented)
        unpooled._encoder = kb.encoder
        limit, pooled.POOL_MAX_PASSAGES = pooled.POOL_MAX_PASSAGES, 0
        try:
            assert unpooled.reader is not None  # opened now, while nothing is pooled (nothing re-opens it later)
        finally:
            pooled.POOL_MAX_PASSAGES = limit
    result: dict[str, object] = {}
    cpu = time.process_time()
    found = warm(kbs, questions)
    result["warm_cpu_s"] = round(time.process_time() - cpu, 2)
    for name, figures in found.items():
        result[f"warm_{name}"] = figures
    colds = [(cold_ask(segmented, questions[0], 1), cold_ask(merged, questions[0], 1)) for _ in range(cold)]
    result["cold_segmented_median_s"] = statistics.median(c[0]["median_s"] for c in colds)
    result["cold_merged_median_s"] = statistics.median(c[1]["median_s"] for c in colds)
    whole = found["merged"]
    for name in [n for n in found if n != "merged"]:
        prefix = "" if name == "segmented" else f"{name.removeprefix('segmented_')}_"
        for part in ("ask", "dense", "bm25"):
            for q in (50, 95):
                ratio = found[name][f"{part}_p{q}_ms"] / max(whole[f"{part}_p{q}_ms"], 1e-6)
                result[f"{prefix}{part}_p{q}_ratio"] = round(ratio, 3)
            ratio = found[name][f"{part}_cpu_ms_per_question"] / max(whole[f"{part}_cpu_ms_per_question"], 1e-6)
            result[f"{prefix}{part}_cpu_ratio"] = round(ratio, 3)
    assert kb.check() == [] and kb_segmented.check() == []
    return result


def compare(args: argparse.Namespace) -> dict[str, object]:
    """``compare``: only the warm and cold part, on the indexes a ``measure`` run left."""
    held = [Article(**json.loads(line)) for line in (args.work / "held-out.jsonl").read_text("utf-8").splitlines()]
    questions = load_questions(args.questions, held, args.asks)
    result = compared(args.work / "index-segmented", args.work / "index", questions, args.cold, args.without_pool)
    print(json.dumps(result, indent=2))
    return result


class StandInPassages:
    """--smoke: the real encoder for queries and token counts, hashed vectors for passages."""

    def __init__(self, real: object) -> None:
        self._real = real

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)

    def encode_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return standin(list(texts), self._real.dim)  # type: ignore[attr-defined]


def load_questions(path: Path | None, held: list[Article], count: int) -> list[str]:
    if path is not None and path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
        found = [qa["question"] for item in data for p in item["paragraphs"] for qa in p["qas"]]
        return found[:count]
    print(f"no questions file {path} (--questions FILE or --data DIR): asking titles", file=sys.stderr)
    return [a.title for a in held[:count]]  # the titles of held-out articles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("build", "measure", "both", "compare"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/storew"))
    shared_data.add_options(parser, news=shared_data.NEWS, questions=shared_data.XQUAD_AR)
    parser.add_argument("--hold-out", type=int, default=ADD + SMALL_ADDS * SMALL_ADD_ARTICLES)
    parser.add_argument("--add", type=int, default=ADD)
    parser.add_argument("--remove", type=int, default=REMOVE)
    parser.add_argument("--small-adds", type=int, default=SMALL_ADDS)
    parser.add_argument("--asks", type=int, default=100)
    parser.add_argument("--cold", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="stand-in vectors for the adds too (tests)")
    parser.add_argument(
        "--without-pool", action="store_true", help="compare: also the segmented index with no small segments pooled"
    )
    args = shared_data.resolve(parser.parse_args(argv))
    if args.command in ("build", "both"):
        shared_data.need(args.news, "--news")
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", file=sys.stderr)
    if args.command in ("build", "both"):
        build(args)
    if args.command in ("measure", "both"):
        measure(args)
    if args.command == "compare":
        compare(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
