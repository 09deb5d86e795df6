"""The whole ANT corpus in one index: build it (real or stand-in vectors), then time questions, cold starts, adds.

Usage:
    python benchmarks/full_corpus.py build   --index /tmp/fullidx [--vectors standin|real] [--hold-out 100]
    python benchmarks/full_corpus.py measure --index /tmp/fullidx [--questions 200] [--cold 5]
    python benchmarks/full_corpus.py recall  --index /tmp/fullidx [--questions 200]
    (each also [--data ../shared/data] [--news FILE] [--xquad FILE]: the data folder, or the files themselves)

``build`` indexes every article of the news corpus (DIR/news/ant-v2.1.jsonl.gz under ``--data``, or ``--news``) but
the last ``--hold-out`` (after a seeded shuffle) with ``kb.add``: real reading, chunking (real token counts),
SQLite, BM25, FAISS (HNSW at this size) and checkpoints. With ``--vectors real`` the default encoder embeds every
passage (hours on 2 busy cores); with ``standin`` (the default) passage vectors are real e5 vectors of other
passages (from ``--vectors-from``) plus noise, so every store holds what it would hold and only encoding is skipped:
its time is then added back from the raw encoder rate measured on 256 passages of this corpus. ``measure`` runs in
fresh processes: warm ``kb.ask`` latency (real query encoding, search, BM25, sentence marking) over XQuAD-ar
questions (DIR/xquad-ar/xquad.ar.json, or ``--xquad``), serving RSS, cold ``askbot ask`` wall time, and adding the
held-out articles with the real encoder.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # shared_data, also when loaded by importlib

import numpy as np  # noqa: E402
import shared_data  # noqa: E402

from askbot.config import Settings  # noqa: E402
from askbot.embedding import Encoder, load_encoder  # noqa: E402
from askbot.evaluation import sample_lines  # noqa: E402
from askbot.kb import KnowledgeBase  # noqa: E402
from askbot.store import dense  # noqa: E402
from askbot.store.index import IndexReader  # noqa: E402

NOISE = 0.35


class StandInEncoder(Encoder):
    """The default encoder for tokens, queries and ids; passage vectors are perturbed real ones (no model run)."""

    def __init__(self, real: Encoder, base: np.ndarray) -> None:
        super().__init__(real.model_id, real.fingerprint, real._load_bulk, real._load_fast, real.max_tokens)
        self._base = base
        self._rng = np.random.default_rng(0)

    def encode_passages(self, texts: Sequence[str], batch_size: int = 32, progress: object = None) -> np.ndarray:
        if len(texts) <= 16:  # sentence scoring at question time: the real thing
            return super().encode_passages(texts, batch_size)
        v = self._base[self._rng.integers(0, len(self._base), len(texts))]
        v = v + self._rng.standard_normal(v.shape, dtype=np.float32) * (NOISE / np.sqrt(v.shape[1]))
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def split_corpus(news: Path, hold_out: int) -> tuple[list[str], list[str]]:
    lines = sample_lines(news, None)
    import random

    random.Random(0).shuffle(lines)
    return lines[: len(lines) - hold_out], lines[len(lines) - hold_out :]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def raw_rate(kb: KnowledgeBase, texts: list[str]) -> tuple[float, float]:
    """(passages/s, CPU s/passage) of the real encoder on ``texts``, model loaded first."""
    encoder = load_encoder(kb.settings.model, kb.settings.cache_dir)
    encoder.encode_passages(texts[:64])
    started, cpu = time.perf_counter(), time.process_time()
    encoder.encode_passages(texts, batch_size=kb.settings.batch_size)
    return len(texts) / (time.perf_counter() - started), (time.process_time() - cpu) / len(texts)


def build(args: argparse.Namespace) -> dict[str, object]:
    kept, held = split_corpus(args.news, args.hold_out)
    work = Path(tempfile.mkdtemp(prefix="askbot-full-"))
    corpus = write_lines(work / "corpus.jsonl", kept)
    write_lines(args.index.parent / f"{args.index.name}-held-out.jsonl", held)
    kb = KnowledgeBase(Settings.from_env(index=args.index))
    if args.vectors == "standin":
        source = IndexReader.open(args.vectors_from)
        if source is None:
            raise SystemExit(f"--vectors-from {args.vectors_from} holds no index")
        _, base = source.vectors()
        kb._encoder = StandInEncoder(kb.encoder, base)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - last[0] > 30:
            last[0] = time.monotonic()
            print(f"  {done}/{total} articles", file=sys.stderr, flush=True)

    started, cpu = time.perf_counter(), time.process_time()
    report = kb.add([corpus], progress=progress)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    disk = sum(p.stat().st_size for p in args.index.rglob("*") if p.is_file())
    result: dict[str, object] = {
        "articles": len(report.added) + len(report.updated) + len(report.unchanged),
        "passages": kb.info().passages,
        "vectors": args.vectors,
        "wall_s": wall,
        "cpu_s": cpu,
        "encode_s": report.encode_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "disk_bytes": disk,
        "disk_bytes_per_passage": disk / max(1, int(kb.info().passages)),  # type: ignore[call-overload]
        "files": {str(p.relative_to(args.index)): p.stat().st_size for p in args.index.rglob("*") if p.is_file()},
    }
    if args.vectors == "standin":
        reader = kb.reader
        assert reader is not None
        sample = [p.text for p in reader.passages(reader.passage_ids()[5000:5256].tolist()).values()]
        rate, cpu_per = raw_rate(kb, sample)
        result |= {"raw_rate": rate, "raw_cpu_per_passage": cpu_per}
        result["estimated_real_wall_s"] = wall - report.encode_seconds + int(result["passages"]) / rate  # type: ignore[call-overload]
    print(json.dumps(result, indent=2))
    return result


def questions(xquad: Path, n: int) -> list[str]:
    data = json.loads(xquad.read_text(encoding="utf-8"))
    return [qa["question"] for item in data["data"] for p in item["paragraphs"] for qa in p["qas"]][:n]


def serve(args: argparse.Namespace) -> None:
    """In its own process: warm question latency and the RSS of a serving process."""
    import askbot

    kb = askbot.open(args.index)
    asked = questions(args.xquad, args.questions)
    kb.ask(asked[0])
    totals, parts = [], {"encode": [], "search": [], "answer": []}
    for q in asked:
        started = time.perf_counter()
        answer = kb.ask(q)
        totals.append((time.perf_counter() - started) * 1e3)
        for name, values in parts.items():
            values.append(answer.timings_ms.get(name, 0.0))
    out = {
        "questions": len(asked),
        "p50_ms": float(np.percentile(totals, 50)),
        "p95_ms": float(np.percentile(totals, 95)),
        "parts_p95_ms": {name: float(np.percentile(v, 95)) for name, v in parts.items()},
        "serving_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(out))


def measure(args: argparse.Namespace) -> None:
    env = {**os.environ, "ASKBOT_INDEX": str(args.index)}
    served = subprocess.run(
        [sys.executable, __file__, "serve", "--index", str(args.index), "--questions", str(args.questions)]
        + ["--xquad", str(args.xquad)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    print("warm questions:", served.stdout.strip().splitlines()[-1], flush=True)
    askbot_exe = Path(sys.executable).with_name("askbot")
    cold = []
    for _ in range(args.cold):
        started = time.perf_counter()
        subprocess.run([str(askbot_exe), "ask", "متى وصل شمخاني إلى بغداد؟"], env=env, capture_output=True)
        cold.append(time.perf_counter() - started)
    print(f"cold askbot ask: median {statistics.median(cold):.2f} s, max {max(cold):.2f} s over {len(cold)}")
    held = args.index.parent / f"{args.index.name}-held-out.jsonl"
    if held.exists():
        kb = KnowledgeBase(Settings.from_env(index=args.index))
        started = time.perf_counter()
        report = kb.add([held])
        wall = time.perf_counter() - started
        print(
            f"adding {len(report.added)} held-out articles ({report.passages} passages) with the real encoder: "
            f"{wall:.1f} s, of which encoding {report.encode_seconds:.1f} s"
        )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def recall(args: argparse.Namespace) -> None:
    """HNSW against exact search on the index's real vectors: recall@10 for real questions, encoded as askbot does."""
    import faiss

    import askbot

    reader = IndexReader.open(args.index)
    if reader is None:
        raise SystemExit(f"{args.index} holds no index")
    ids, vectors = reader.vectors()
    graph = dense.empty(vectors.shape[1])
    dense.add(graph, vectors, ids)
    graph = dense.by_scale(graph)  # what the store would search at this size
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    queries = askbot.open(args.index).encoder.encode_queries(questions(args.xquad, args.questions))
    hits, ms = [], []
    for q in queries:
        started = time.perf_counter()
        _, top = dense.search(graph, q, 10)
        ms.append((time.perf_counter() - started) * 1e3)
        _, truth = exact.search(q.reshape(1, -1), 10)
        hits.append(len(set(top.tolist()) & set(ids[truth[0]].tolist())) / 10)
    print(
        json.dumps(
            {
                "vectors": len(ids),
                "hnsw": dense.is_hnsw(graph),
                "questions": len(queries),
                "recall@10": float(np.mean(hits)),
                "min_recall@10": float(np.min(hits)),
                "search_p50_ms": float(np.percentile(ms, 50)),
                "search_p95_ms": float(np.percentile(ms, 95)),
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("build", "measure", "serve", "recall"))
    parser.add_argument("--index", type=Path, default=Path("/tmp/fullidx"))
    parser.add_argument("--vectors", choices=("standin", "real"), default="standin")
    parser.add_argument("--vectors-from", type=Path, default=Path("/tmp/evalidx"))
    parser.add_argument("--hold-out", type=int, default=100)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--cold", type=int, default=5)
    shared_data.add_options(parser, news=shared_data.NEWS, xquad=shared_data.XQUAD_AR)
    args = shared_data.resolve(parser.parse_args())
    if args.command == "build":
        shared_data.need(args.news, "--news")
    else:
        shared_data.need(args.xquad, "--xquad")
    {"build": build, "measure": measure, "serve": serve, "recall": recall}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
