"""Issue-2 figures: fresh-venv setup time, indexing rate vs raw encoder rate, cold `askbot ask` latency.

Usage:
    python benchmarks/core_figures.py [--fresh-venv] [--runs 7]

--fresh-venv times `make demo VENV=<tmp>` from nothing, as on a fresh machine: a new venv (it installs torch
and the package) and an empty model cache (ASKBOT_CACHE_DIR=<tmp>: the default model is rebuilt and exported
to int8 ONNX), split into `make setup` and the rest; then the first `askbot ask` after it. Without it, only
the index/encoder rate and cold-ask figures run, against a temporary index built from seeds/ with the current
environment.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
ROOT = Path(__file__).resolve().parents[1]
QUESTION = "من وقّع المحضر الأمني المشترك مع شمخاني؟"


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, the command and its children) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def fresh_venv() -> None:
    venv = Path(tempfile.mkdtemp(prefix="askbot-venv-"))
    shutil.rmtree(venv)
    index = Path(tempfile.mkdtemp(prefix="askbot-idx-"))
    cache = Path(tempfile.mkdtemp(prefix="askbot-cache-"))
    env = {**os.environ, "ASKBOT_INDEX": str(index), "ASKBOT_CACHE_DIR": str(cache)}
    (setup, setup_cpu), (rest, rest_cpu) = (
        run(["make", "setup", f"VENV={venv}"], env),
        run(["make", "demo", f"VENV={venv}"], env),
    )
    print(
        f"README first command (make demo) on a fresh venv and an empty model cache: {setup + rest:.0f} s "
        f"({setup:.0f} s make setup, {rest:.0f} s building the model, indexing seeds/ and answering; "
        f"CPU {setup_cpu:.0f} s + {rest_cpu:.0f} s; load average {os.getloadavg()[0]:.1f})"
    )
    seconds, cpu = run([str(venv / "bin" / "askbot"), "ask", "متى وصل شمخاني إلى بغداد؟"], env)
    print(f"first answer after it (cold askbot ask): {seconds:.2f} s, {cpu:.2f} CPU s")
    for folder in (venv, index, cache):
        shutil.rmtree(folder, ignore_errors=True)


def rates() -> Path:
    import askbot
    from askbot.indexing import chunk
    from askbot.ingest import read_paths
    from askbot.types import Article

    index = Path(tempfile.mkdtemp(prefix="askbot-idx-"))
    kb = askbot.open(index)
    articles = [a for a in read_paths([ROOT / "seeds"]) if isinstance(a, Article)]
    texts = [p.text for a in articles for p in chunk(a, kb.settings, kb.encoder)]
    kb.encoder.encode_passages(texts[:64])  # warm up: load the engine once
    t0 = time.perf_counter()
    kb.encoder.encode_passages(texts, batch_size=kb.settings.batch_size)
    raw = len(texts) / (time.perf_counter() - t0)
    report = kb.add([ROOT / "seeds"])
    indexing = report.passages / report.seconds
    engine = f"{kb.model}, engine {kb.encoder.engine}"
    print(f"raw encoder rate ({engine}): {raw:.1f} passages/s over {len(texts)} seed passages")
    print(f"indexing rate (read+chunk+embed+write, end to end): {indexing:.1f} passages/s = {indexing / raw:.2f} x raw")
    return index


def cold_ask(index: Path, runs: int) -> None:
    exe = Path(sys.executable).with_name("askbot")
    env = {**os.environ, "ASKBOT_INDEX": str(index)}
    timed = [run([str(exe), "ask", QUESTION], env) for _ in range(runs)]
    times, cpus = [t for t, _ in timed], [c for _, c in timed]
    print(
        f"cold askbot ask on the seeds index: median {statistics.median(times):.2f} s, "
        f"min {min(times):.2f} s, max {max(times):.2f} s over {runs} runs; median {statistics.median(cpus):.2f} CPU s; "
        f"load average {os.getloadavg()[0]:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fresh-venv", action="store_true")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if args.fresh_venv:
        fresh_venv()
    index = rates()
    cold_ask(index, args.runs)
    shutil.rmtree(index, ignore_errors=True)


if __name__ == "__main__":
    main()
