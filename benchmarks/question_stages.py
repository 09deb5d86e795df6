"""What a warm question costs, stage by stage (search, fetch, rerank, answer), on any store, for one or more
checkouts of askbot taking turns (the machine's load hits them alike).

Usage:
    python benchmarks/question_stages.py --store DIR_OR_URI [--questions 200] [--rounds 2] [--method hybrid]
                                         [--src A/src --src B/src] [--data ../shared/data] [--xquad FILE]

Each round runs every ``--src`` (default: this checkout's src) in a fresh process: 20 warm-up questions, then
``--questions`` XQuAD-ar questions (DIR/xquad-ar/xquad.ar.json under ``--data``, or ``--xquad``) through
``asking.ask`` with stand-in query vectors (no encoding: that is the encoder's, the same for every store and
checkout), by ``--method`` (hybrid). It prints the wall p50 / p95, the process's CPU a question, and each stage's
mean from the answer's own ``timings_ms``.
A Milvus store's engine works in another process: its CPU is not in the column (benchmarks/milvus.py reads it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # shared_data, also when loaded by importlib

import shared_data  # noqa: E402

CHILD = r"""
import json, os, sys, time
import numpy as np
from pathlib import Path
from askbot import asking
from askbot.store import factory
store, xquad, n, method = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
data = json.loads(Path(xquad).read_text(encoding="utf-8"))["data"]
questions = [qa["question"] for a in data for p in a["paragraphs"] for qa in p["qas"]][: n + 20]
reader = factory.open_reader(store)
dim = reader.info().dim
rng = np.random.default_rng(7)
vectors = rng.normal(size=(len(questions), dim)).astype(np.float32)
vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
for q, v in zip(questions[:20], vectors[:20]):
    asking.ask(reader, None, q, vector=v, method=method)
walls, stages, cpu = [], {}, time.process_time()
for q, v in zip(questions[20:], vectors[20:]):
    t = time.perf_counter()
    answer = asking.ask(reader, None, q, vector=v, method=method).answer
    walls.append((time.perf_counter() - t) * 1e3)
    for stage, ms in answer.timings_ms.items():
        stages.setdefault(stage, []).append(ms)
cpu = (time.process_time() - cpu) / len(walls) * 1e3
print(json.dumps({"p50": float(np.percentile(walls, 50)), "p95": float(np.percentile(walls, 95)), "cpu": cpu,
                  "method": method, "stages": {s: float(np.mean(v)) for s, v in stages.items() if s != "encode"}}))
"""


def run(src: Path, store: str, questions: int, xquad: Path, method: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_WAIT_POLICY": "passive"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, store, str(xquad), str(questions), method],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", required=True, help="an index folder, or milvus:PATH.db / milvus://host:port")
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--src", type=Path, action="append", help="a checkout's src folder (repeat to compare)")
    ap.add_argument("--method", default="hybrid", help="dense on a Milvus 2.3 server (it has no BM25)")
    shared_data.add_options(ap, xquad=shared_data.XQUAD_AR)
    args = shared_data.resolve(ap.parse_args())
    shared_data.need(args.xquad, "--xquad")
    sources = args.src or [ROOT / "src"]
    print("| round | src | method | p50 | p95 | CPU a question | stages (mean ms) |")
    print("|---|---|---|---|---|---|---|")
    for n in range(1, args.rounds + 1):
        for src in sources:
            r = run(src, args.store, args.questions, args.xquad, args.method)
            stages = ", ".join(f"{s} {ms:.1f}" for s, ms in r["stages"].items())
            print(
                f"| {n} | {src} | {r['method']} | {r['p50']:.1f} ms | {r['p95']:.1f} ms | {r['cpu']:.1f} ms "
                f"| {stages} |",
                flush=True,
            )
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
