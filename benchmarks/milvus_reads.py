"""What a question costs on Milvus, A/B in one process, alternating question by question (the load hits both alike).

    python benchmarks/milvus_reads.py state-check [--seeds DIR]     # Milvus Lite, warm kb.ask
    python benchmarks/milvus_reads.py read-level [--passages 3000]  # standalone server 2.3.5, warm asking.ask (dense)
                                      [--data ../shared/data] [--news FILE] [--xquad FILE]

state-check: the check for a new commit a serving KnowledgeBase makes before every question, through the open
reader's client (now) or a new client each time (before); a Lite store built from --seeds with the real model.
read-level: the data reads at the commit's data timestamp (now) or Strong (before), on the server of the tests
(.ci/milvus-server.sh), real ANT passages with stand-in vectors (benchmarks/milvus.py's corpus) and XQuAD-ar
questions: DIR/news/ant-v2.1.jsonl.gz and DIR/xquad-ar/xquad.ar.json under --data, or --news and --xquad.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "benchmarks")]

import numpy as np  # noqa: E402
import shared_data  # noqa: E402


def alternate(variants: dict[str, Callable[[int], None]], rounds: int) -> None:
    """Run each variant once a round, in turn; print wall and CPU medians."""
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for i in range(rounds):
        for name, run in variants.items():
            t, c = time.perf_counter(), time.process_time()
            run(i)
            wall[name].append((time.perf_counter() - t) * 1e3)
            cpu[name].append((time.process_time() - c) * 1e3)
    for name in variants:
        w = sorted(wall[name])
        print(
            f"{name}: p50 {statistics.median(w):.0f} ms, p95 {w[int(len(w) * 0.95)]:.0f} ms wall; "
            f"CPU p50 {statistics.median(cpu[name]):.1f} ms (n={len(w)})"
        )


def state_check(args: argparse.Namespace, work: Path) -> None:
    import askbot
    from askbot.store.milvus import reader as milvus_reader

    kb = askbot.open(store=f"milvus:{work}/kb.db")
    print(kb.add([str(args.seeds)]).summary())
    questions = ["من وقّع المحضر الأمني المشترك مع شمخاني؟", "أسعار النفط", "الانتخابات العراقية", "كأس العالم"]
    for q in questions:
        kb.ask(q)
    through_reader = milvus_reader.open_reader_of

    def ask(reuse: bool) -> Callable[[int], None]:
        def run(i: int) -> None:
            milvus_reader.open_reader_of = through_reader if reuse else (lambda loc: None)  # type: ignore[assignment]
            kb.ask(questions[i % len(questions)])

        return run

    alternate({"state check on the open reader (now)": ask(True), "a new client (before)": ask(False)}, args.rounds)


def read_level(args: argparse.Namespace, work: Path) -> None:
    import milvus as bench  # benchmarks/milvus.py
    from milvus_standalone import Standalone, launcher

    from askbot import asking
    from askbot.store import milvus

    program = launcher()
    if program is None:
        sys.exit("run .ci/milvus-server.sh first")
    server = Standalone(work / "server", program)
    print(f"server started in {server.start(timeout_s=420):.0f} s")
    try:
        items = bench.corpus(args.news, args.passages)
        seconds = bench.build(milvus.open_writer, server.uri, items)
        print(f"built {sum(len(p) for _, p, _, _ in items)} passages in {seconds:.0f} s")
        questions = bench.xquad_questions(args.xquad, args.rounds + 5)
        rng = np.random.default_rng(1)
        vectors = rng.normal(size=(len(questions), bench.DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        reader = milvus.open_reader(server.uri)
        assert reader is not None
        now = dict(reader.level)
        print(f"data_ts {reader.head.data_ts}")
        for q, v in zip(questions[:5], vectors[:5], strict=True):
            asking.ask(reader, None, q, vector=v, method="dense")

        def ask(level: dict[str, object]) -> Callable[[int], None]:
            def run(i: int) -> None:
                reader.level = level
                asking.ask(reader, None, questions[5 + i], vector=vectors[5 + i], method="dense")

            return run

        alternate(
            {"at the commit's data_ts (now)": ask(now), "Strong (before)": ask({"consistency_level": "Strong"})},
            args.rounds,
        )
        reader.close()
    finally:
        server.wipe()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["state-check", "read-level"])
    ap.add_argument("--rounds", type=int, default=0, help="questions each way (default 16 / 55)")
    ap.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    ap.add_argument("--passages", type=int, default=3000)
    shared_data.add_options(ap, news=shared_data.NEWS, xquad=shared_data.XQUAD_AR)
    args = shared_data.resolve(ap.parse_args())
    if args.what == "read-level":
        shared_data.need(args.news, "--news")
        shared_data.need(args.xquad, "--xquad")
    args.rounds = args.rounds or (16 if args.what == "state-check" else 55)
    with tempfile.TemporaryDirectory(prefix="askbot-milvus-reads-") as tmp:
        (state_check if args.what == "state-check" else read_level)(args, Path(tmp))


if __name__ == "__main__":
    main()
