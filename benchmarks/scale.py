"""How cost grows with the number of passages: FAISS flat vs HNSW (vectors) and BM25 (real text), time and disk.

Usage:
    python benchmarks/scale.py [--sizes 1000,10000,100000,1000000] [--hnsw-max 300000]
                               [--bm25-sizes 1000,10000,100000] [--queries 200] [--vectors-from /tmp/evalidx]

Search part: vectors are synthetic but shaped like real ones: each is a real e5 passage vector (from the index
``--vectors-from``, e.g. the eval index; random unit vectors without it) plus Gaussian noise, renormalized, so
neighbourhoods are as crowded as in a news corpus. Queries are held-out vectors made the same way. For each size:
build time, bytes on disk, single-query latency p50/p95 of exact search (askbot's ``dense.search``) and, up to
``--hnsw-max``, of HNSW at askbot's parameters with its recall@10 against exact. HNSW build time beyond that is
extrapolated (it grows ~linearly: n log n). BM25 part: real passages (ANT news packed to ~800 characters), askbot's
own LexicalIndex: tokenize, commit (score matrix build), bytes, query latency for XQuAD-ar questions, and adding 100
articles' worth of passages (~340) to the largest index then committing again.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from askbot.store import current_generation, dense  # noqa: E402
from askbot.store.lexical import LexicalIndex  # noqa: E402

NEWS = Path("/work/shared/data/news/ant-v2.1.jsonl.gz")
XQUAD = Path("/work/shared/data/xquad-ar/xquad.ar.json")
DIM = 384
NOISE = 0.35  # per-vector noise norm relative to the unit base: cosine to its base ~0.94
NEW_ARTICLES_PASSAGES = 340  # 100 ANT articles make ~340 passages


def percentiles(samples: list[float]) -> tuple[float, float]:
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 95))


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def base_vectors(index_dir: Path | None, rng: np.random.Generator) -> np.ndarray:
    generation = current_generation(index_dir) if index_dir else None
    if generation is None:
        base = rng.standard_normal((4096, DIM)).astype(np.float32)
        return base / np.linalg.norm(base, axis=1, keepdims=True)
    _, vectors = dense.vectors_of(dense.load(generation / "dense.faiss", DIM))
    return vectors


def synthetic(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((n, DIM), np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        chunk = base[rng.integers(0, len(base), m)] + rng.standard_normal((m, DIM), dtype=np.float32) * (
            NOISE / np.sqrt(DIM)
        )
        out[start : start + m] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out


def search_part(sizes: list[int], hnsw_max: int, queries: int, base_from: Path | None) -> list[dict[str, float]]:
    rng = np.random.default_rng(0)
    base = base_vectors(base_from, rng)
    rows: list[dict[str, float]] = []
    work = Path(tempfile.mkdtemp(prefix="askbot-scale-"))
    try:
        for n in sizes:
            vectors = synthetic(base, n, rng)
            qs = synthetic(base, queries, rng)
            ids = np.arange(n, dtype=np.int64)
            flat = dense.empty(DIM)
            build_flat, _ = timed(partial(dense.add, flat, vectors, ids))
            exact, flat_ms = [], []
            for q in qs:
                seconds, (_, top) = timed(lambda q=q, flat=flat: dense.search(flat, q, 10))
                flat_ms.append(seconds * 1e3)
                exact.append(top)
            # an IndexIDMap2(IndexFlatIP) file is the vectors and the ids, plus a header of a few dozen bytes
            row: dict[str, float] = {"n": n, "flat_build_s": build_flat, "flat_bytes": n * (DIM * 4 + 8)}
            row["flat_p50_ms"], row["flat_p95_ms"] = percentiles(flat_ms)
            if n <= hnsw_max:
                build_hnsw, graph = timed(lambda flat=flat: dense.rebuilt(flat, hnsw=True))
                hnsw_ms, recalls = [], []
                for q, truth in zip(qs, exact, strict=True):
                    seconds, (_, top) = timed(lambda q=q, graph=graph: dense.search(graph, q, 10))
                    hnsw_ms.append(seconds * 1e3)
                    recalls.append(len(set(top.tolist()) & set(truth.tolist())) / max(1, len(truth)))
                path = work / "hnsw.faiss"
                faiss.write_index(graph, str(path))
                row |= {
                    "hnsw_build_s": build_hnsw,
                    "hnsw_bytes": path.stat().st_size,
                    "recall@10": float(np.mean(recalls)),
                }
                path.unlink()
                row["hnsw_p50_ms"], row["hnsw_p95_ms"] = percentiles(hnsw_ms)
                more = synthetic(base, NEW_ARTICLES_PASSAGES, rng)
                add_s, _ = timed(partial(dense.add, graph, more, np.arange(n, n + len(more))))
                row["hnsw_add_340_s"] = add_s
                del graph
            rows.append(row)
            print(json.dumps(row), flush=True)
            del flat, vectors
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def news_passages(count: int, chars: int = 800) -> Iterator[str]:
    """Real text: ANT articles cut at sentence-ish boundaries into passages of about ``chars`` characters.

    Past the end of the corpus (~90k such passages) it starts over: duplicates cost BM25 what new text would.
    """
    made = 0
    while True:
        for passage in _cut(chars):
            yield passage
            made += 1
            if made >= count:
                return


def _cut(chars: int) -> Iterator[str]:
    with gzip.open(NEWS, "rt", encoding="utf-8") as fh:
        for line in fh:
            text = json.loads(line)["text"]
            start = 0
            while start < len(text):
                end = text.rfind(".", start, start + chars)
                end = start + chars if end <= start else end + 1
                yield text[start:end]
                start = end


def xquad_questions() -> list[str]:
    data = json.loads(XQUAD.read_text(encoding="utf-8"))
    return [qa["question"] for item in data["data"] for p in item["paragraphs"] for qa in p["qas"]]


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def bm25_part(sizes: list[int], queries: int) -> list[dict[str, float]]:
    questions = xquad_questions()[:queries]
    texts = list(news_passages(max(sizes) + NEW_ARTICLES_PASSAGES))
    rows: list[dict[str, float]] = []
    work = Path(tempfile.mkdtemp(prefix="askbot-bm25-"))
    try:
        for n in sizes:
            lexical = LexicalIndex.empty()
            tokenize_s, _ = timed(lambda lexical=lexical, n=n: lexical.add(range(n), texts[:n]))
            folder = work / f"n{n}"
            commit_s, _ = timed(lambda lexical=lexical, folder=folder: lexical.save(folder))
            reader = LexicalIndex.load(folder)
            ms = []
            for q in questions:
                seconds, _ = timed(lambda q=q, reader=reader: reader.top(reader.scores(q), 50))
                ms.append(seconds * 1e3)
            row: dict[str, float] = {
                "n": n,
                "tokenize_s": tokenize_s,
                "commit_s": commit_s,
                "bytes": folder_bytes(folder),
            }
            row["query_p50_ms"], row["query_p95_ms"] = percentiles(ms)
            if n == max(sizes):  # the same commit by bm25s (askbot's writer before), for comparison
                row["bm25s_commit_s"], _ = timed(lexical._build)
            if n == max(sizes):  # an incremental add: load, tokenize the new passages only, rebuild scores, save

                def add_more(folder: Path = folder, n: int = n) -> None:
                    grown = LexicalIndex.load(folder, mmap=False)
                    grown.add(range(n, n + NEW_ARTICLES_PASSAGES), texts[n : n + NEW_ARTICLES_PASSAGES])
                    grown.save(work / "grown")

                row["add_340_commit_s"], _ = timed(add_more)
            rows.append(row)
            print(json.dumps(row), flush=True)
            shutil.rmtree(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--hnsw-max", type=int, default=300_000)
    parser.add_argument("--bm25-sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--vectors-from", type=Path, default=Path("/tmp/evalidx"))
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--skip-bm25", action="store_true")
    args = parser.parse_args()
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; HNSW from {dense.HNSW_MIN_VECTORS:,}")
    base = args.vectors_from if args.vectors_from.exists() else None
    if not args.skip_search:
        search_part([int(s) for s in args.sizes.split(",")], args.hnsw_max, args.queries, base)
    if not args.skip_bm25:
        bm25_part([int(s) for s in args.bm25_sizes.split(",")], args.queries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
