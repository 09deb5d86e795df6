"""What searching English questions by their words' translations costs (askbot.lexicon): the one-time encoding of
an index's words, and the CPU a warm question costs with and without it, in one process taking turns.

    python benchmarks/cross_lingual.py --index DIR [--data ../shared/data] [--questions 150] [--rounds 2]

``--index`` is any index (the evaluation index of ``askbot eval ... --index DIR`` for XQuAD's English questions);
the word cache is built in a fresh temporary folder (the model is the index's, loaded as usual), so the first
build is measured whatever was cached before. The recall it buys is measured by ``askbot eval``
(docs/evaluation.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # shared_data, also when loaded by importlib

import shared_data  # noqa: E402

import askbot  # noqa: E402
from askbot.evaluation import load_squad  # noqa: E402
from askbot.lexicon import Lexicon  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    shared_data.add_options(parser)
    parser.add_argument("--questions", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    english, arabic = (shared_data.need(args.data / f) for f in (shared_data.XQUAD_EN, shared_data.XQUAD_AR))
    questions = [q.question for q in load_squad(english, contexts=arabic).questions]
    questions = questions[:: max(1, len(questions) // args.questions)][: args.questions]
    kb = askbot.open(args.index)
    reader = kb.reader
    assert reader is not None, f"{args.index} holds no index"
    print(f"index {args.index}: {reader.info().passages:,} passages, model {kb.encoder.model_id}")

    with tempfile.TemporaryDirectory() as cache:
        lexicon = Lexicon(kb.encoder, Path(cache) / "lexicon")
        kb.encoder.encode_queries(["warm"])  # the model loads outside the timing
        cpu, wall = time.process_time(), time.perf_counter()
        words = lexicon.prepare(reader)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(
            f"first build: {words:,} index words encoded in {cpu:.1f} CPU s ({wall:.1f} s wall), "
            f"{cpu / max(words, 1) * 1e3:.1f} CPU ms a word"
        )
        again = Lexicon(kb.encoder, Path(cache) / "lexicon")
        cpu = time.process_time()
        again.prepare(reader)
        print(f"from the cache: {time.process_time() - cpu:.2f} CPU s")

    kb.__dict__["lexicon"] = again
    for q in questions[:10]:
        kb.ask(q)
    for n in range(args.rounds):
        for label, lex in (("translated", again), ("dense only", None)):
            kb.__dict__["lexicon"] = lex
            cpu = time.process_time()
            for q in questions:
                kb.ask(q)
            spent = (time.process_time() - cpu) / len(questions) * 1e3
            print(f"round {n + 1}, {label}: {spent:.1f} CPU ms a warm English question ({len(questions)} questions)")


if __name__ == "__main__":
    main()
