"""How cost grows with the number of passages: FAISS flat vs HNSW (vectors) and BM25 (real text), time and disk.

Usage:
    python benchmarks/scale.py [--sizes 1000,10000,100000,1000000] [--hnsw-max 300000]
                               [--bm25-sizes 1000,10000,100000] [--queries 200] [--vectors-from /tmp/evalidx]
                               [--large 10000000 [--large-queries 20] [--nlist 4096] [--nprobes 16,64]]
                               [--data ../shared/data] [--news FILE] [--xquad FILE]

Search part: vectors are synthetic but shaped like real ones: each is a real e5 passage vector (from the index
``--vectors-from``, e.g. the eval index; random unit vectors without it) plus Gaussian noise, renormalized, so
neighbourhoods are as crowded as in a news corpus. Queries are held-out vectors made the same way. For each size:
build time, bytes on disk, single-query latency p50/p95 of exact search (askbot's ``dense.search``) and, up to
``--hnsw-max``, of HNSW at askbot's parameters with its recall@10 against exact. HNSW build time beyond that is
extrapolated (it grows ~linearly: n log n). BM25 part: real passages (ANT news packed to ~800 characters), askbot's
own LexicalIndex (a component benchmark of the store's BM25 module): tokenize, commit, bytes, query latency
for XQuAD-ar questions (DIR/news/ant-v2.1.jsonl.gz and DIR/xquad-ar/xquad.ar.json under ``--data``, or ``--news``
and ``--xquad``), and adding 100
articles' worth of passages (~340) to the largest index then committing again. ``--large N``: vectors generated
and added 100,000 at a time (10M float32 vectors are 15.4 GB), exact search timed and kept as ground truth, then
an IVF-SQ8 index over the same vectors: what a single machine would switch to beyond HNSW's memory.
"""

from __future__ import annotations

import argparse
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
sys.path.insert(0, str(Path(__file__).resolve().parent))  # shared_data, also when loaded by importlib

import faiss  # noqa: E402
import numpy as np  # noqa: E402
import shared_data  # noqa: E402

from askbot.arabic import lexical_terms  # noqa: E402
from askbot.store import dense  # noqa: E402
from askbot.store.index import IndexReader  # noqa: E402
from askbot.store.lexical import LexicalIndex  # noqa: E402

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
    reader = IndexReader.open(index_dir) if index_dir else None
    if reader is None:
        base = rng.standard_normal((4096, DIM)).astype(np.float32)
        return base / np.linalg.norm(base, axis=1, keepdims=True)
    return reader.vectors()[1]


def synthetic(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((n, DIM), np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        chunk = base[rng.integers(0, len(base), m)] + rng.standard_normal((m, DIM), dtype=np.float32) * (
            NOISE / np.sqrt(DIM)
        )
        out[start : start + m] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out


def hnsw_probe(graph: faiss.Index, qs: np.ndarray, exact: list[np.ndarray]) -> dict[str, float]:
    """p50/p95 latency and mean recall@10 of askbot's ``dense.search`` on ``graph`` against the exact top 10."""
    ms, recalls = [], []
    for q, truth in zip(qs, exact, strict=True):
        started = time.perf_counter()
        _, top = dense.search(graph, q, 10)
        ms.append((time.perf_counter() - started) * 1e3)
        recalls.append(len(set(top.tolist()) & set(truth.tolist())) / max(1, len(truth)))
    p50, p95 = percentiles(ms)
    return {"p50_ms": p50, "p95_ms": p95, "recall@10": float(np.mean(recalls))}


def ef_sweep(graph: faiss.Index, qs: np.ndarray, exact: list[np.ndarray], efs: list[int]) -> dict[str, object]:
    """:func:`hnsw_probe` at each beam width (askbot's efSearch patched)."""
    out: dict[str, object] = {}
    default = dense.HNSW_EF_SEARCH
    try:
        for ef in efs:
            dense.HNSW_EF_SEARCH = ef
            out[f"ef{ef}"] = hnsw_probe(graph, qs, exact)
    finally:
        dense.HNSW_EF_SEARCH = default
    return out


def search_part(
    sizes: list[int], hnsw_max: int, queries: int, base_from: Path | None, efs: list[int] | None = None
) -> list[dict[str, float]]:
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
                probe = hnsw_probe(graph, qs, exact)
                path = work / "hnsw.faiss"
                faiss.write_index(graph, str(path))
                row |= {
                    "hnsw_build_s": build_hnsw,
                    "hnsw_bytes": path.stat().st_size,
                    "recall@10": probe["recall@10"],
                    "hnsw_p50_ms": probe["p50_ms"],
                    "hnsw_p95_ms": probe["p95_ms"],
                }
                path.unlink()
                if efs:
                    row |= ef_sweep(graph, qs, exact, efs)  # type: ignore[arg-type]
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


def streamed(base: np.ndarray, n: int, seed: int, chunk: int = 100_000) -> Iterator[np.ndarray]:
    """``n`` synthetic vectors in chunks, the same on every pass (a seed per chunk): never all in one array."""
    for k, start in enumerate(range(0, n, chunk)):
        yield synthetic(base, min(chunk, n - start), np.random.default_rng([seed, k]))


def rss_gb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        kb = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
    return kb / 2**20


def large_part(n: int, queries: int, base_from: Path | None, nlist: int, nprobes: list[int]) -> dict[str, object]:
    """Where one machine ends: exact search over ``n`` vectors (askbot's flat index, built chunk by chunk), then
    an IVF-SQ8 index (1 byte a dimension) over the same vectors, its latency and recall@10 against exact."""
    rng = np.random.default_rng(1)
    base = base_vectors(base_from, rng)
    qs = synthetic(base, queries, rng)
    row: dict[str, object] = {"n": n, "queries": queries}
    flat = dense.empty(DIM)
    started = time.perf_counter()
    done = 0
    for chunk in streamed(base, n, seed=7):
        dense.add(flat, chunk, np.arange(done, done + len(chunk)))
        done += len(chunk)
    row["flat_build_s"] = time.perf_counter() - started
    row["flat_rss_gb"] = rss_gb()
    exact, flat_ms = [], []
    for q in qs:
        started = time.perf_counter()
        _, top = dense.search(flat, q, 10)
        flat_ms.append((time.perf_counter() - started) * 1e3)
        exact.append(set(top.tolist()))
    row["flat_p50_ms"], row["flat_p95_ms"] = percentiles(flat_ms)
    print(json.dumps(row), flush=True)
    del flat

    ivf = faiss.index_factory(DIM, f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
    chunks = streamed(base, n, seed=7)
    sample = np.concatenate([next(chunks) for _ in range(max(1, min(n // 100_000, -(-40 * nlist // 100_000))))])
    started = time.perf_counter()
    ivf.train(sample)  # 40 points a list, the least FAISS's k-means takes without a warning
    row["ivf_train_s"] = time.perf_counter() - started
    del sample, chunks
    started = time.perf_counter()
    done = 0
    for chunk in streamed(base, n, seed=7):
        ivf.add_with_ids(chunk, np.arange(done, done + len(chunk), dtype=np.int64))
        done += len(chunk)
    row["ivf_add_s"] = time.perf_counter() - started
    row["ivf_bytes"] = n * (DIM + 8)  # SQ8 codes and the inverted lists' ids
    row["ivf_rss_gb"] = rss_gb()
    faiss.omp_set_num_threads(1)  # as askbot searches: one thread per query
    for nprobe in nprobes:
        ivf.nprobe = nprobe
        ms, recalls = [], []
        for q, truth in zip(qs, exact, strict=True):
            started = time.perf_counter()
            _, top = ivf.search(q.reshape(1, -1), 10)
            ms.append((time.perf_counter() - started) * 1e3)
            recalls.append(len(truth & set(top[0].tolist())) / 10)
        p50, p95 = percentiles(ms)
        row[f"ivf_nprobe{nprobe}"] = {"p50_ms": p50, "p95_ms": p95, "recall@10": float(np.mean(recalls))}
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    print(json.dumps(row), flush=True)
    return row


def news_passages(news: Path, count: int, chars: int = 800) -> Iterator[str]:
    """Real text: ANT articles cut at sentence-ish boundaries into passages of about ``chars`` characters.

    Past the end of the corpus (~90k such passages) it starts over: duplicates cost BM25 what new text would.
    """
    made = 0
    while True:
        for passage in _cut(news, chars):
            yield passage
            made += 1
            if made >= count:
                return


def _cut(news: Path, chars: int) -> Iterator[str]:
    with shared_data.open_text(news) as fh:
        for line in fh:
            text = json.loads(line)["text"]
            start = 0
            while start < len(text):
                end = text.rfind(".", start, start + chars)
                end = start + chars if end <= start else end + 1
                yield text[start:end]
                start = end


def xquad_questions(xquad: Path) -> list[str]:
    data = json.loads(xquad.read_text(encoding="utf-8"))
    return [qa["question"] for item in data["data"] for p in item["paragraphs"] for qa in p["qas"]]


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def top(scores: np.ndarray, k: int) -> np.ndarray:
    positive = np.flatnonzero(scores > 0)
    return positive[np.argsort(-scores[positive], kind="stable")[:k]]


def bm25_part(sizes: list[int], queries: int, news: Path, xquad: Path) -> list[dict[str, float]]:
    questions = xquad_questions(xquad)[:queries]
    texts = list(news_passages(news, max(sizes) + NEW_ARTICLES_PASSAGES))
    rows: list[dict[str, float]] = []
    work = Path(tempfile.mkdtemp(prefix="askbot-bm25-"))
    try:
        for n in sizes:
            lexical = LexicalIndex.empty()
            tokenize_s, _ = timed(
                lambda lexical=lexical, n=n: lexical.add(range(n), [lexical_terms(t) for t in texts[:n]])
            )
            folder = work / f"n{n}"
            commit_s, _ = timed(lambda lexical=lexical, folder=folder: lexical.save(folder))
            reader = LexicalIndex.load(folder)
            ms = []
            for q in questions:
                seconds, _ = timed(lambda q=q, reader=reader: top(reader.own_scores(lexical_terms(q)), 50))
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
                    grown.add(
                        range(n, n + NEW_ARTICLES_PASSAGES),
                        [lexical_terms(t) for t in texts[n : n + NEW_ARTICLES_PASSAGES]],
                    )
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
    parser.add_argument("--ef-search", default="", help="also HNSW latency and recall at these efSearch, e.g. 128,256")
    parser.add_argument("--large", type=int, default=0, help="also the streamed part at this many vectors (10000000)")
    parser.add_argument("--large-queries", type=int, default=20)
    parser.add_argument("--nlist", type=int, default=4096)
    parser.add_argument("--nprobes", default="16,64")
    shared_data.add_options(parser, news=shared_data.NEWS, xquad=shared_data.XQUAD_AR)
    args = shared_data.resolve(parser.parse_args())
    if not args.skip_bm25:
        shared_data.need(args.news, "--news")
        shared_data.need(args.xquad, "--xquad")
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; HNSW from {dense.HNSW_MIN_VECTORS:,}")
    base = args.vectors_from if args.vectors_from.exists() else None
    if not args.skip_search:
        efs = [int(e) for e in args.ef_search.split(",") if e]
        search_part([int(s) for s in args.sizes.split(",")], args.hnsw_max, args.queries, base, efs)
    if not args.skip_bm25:
        bm25_part([int(s) for s in args.bm25_sizes.split(",")], args.queries, args.news, args.xquad)
    if args.large:
        nprobes = [int(p) for p in args.nprobes.split(",")]
        large_part(args.large, args.large_queries, base, args.nlist, nprobes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
