"""askbot on Milvus beside the embedded store, one run: warm question latency at 100k passages, adding 100
articles to it, and (with --encoder-articles) the indexing rate against the raw encoder rate.

Usage:
    python benchmarks/milvus.py [--passages 100000] [--questions 200] [--server] [--encoder-articles 100]
                                [--data ../shared/data] [--news FILE] [--xquad FILE]

Latency part: real ANT passages (DIR/news/ant-v2.1.jsonl.gz under --data, or --news; askbot's chunking,
approximate token counts) with their real lexical terms, and STAND-IN vectors (seeded random unit 384-d vectors):
FLAT/exact search costs the same whatever the vectors hold, and no 100k embedding run is needed. Questions are
XQuAD-ar's (DIR/xquad-ar/xquad.ar.json, or --xquad: real Arabic, for BM25) with stand-in query vectors.
A "warm question" is ``asking.ask`` given the query vector (search + fetch + idf + compose, no encoding: that is
the encoder's, the same for every store), after 20 warm-up questions, timed twice: each store alone (no other
engine up: the embedded and Lite stores before the server starts, the server once settled, with no other reader
open), then the stores taking turns question by question (the machine's load hits them alike, and so does the
other engines' background work: a restarted server compacts for minutes); CPU per question is this process's (the
client) plus the engine processes' (Milvus Lite's ``milvus`` process, the server's process group), read from /proc.
Stores: vectors/ (embedded), milvus-lite (milvus:PATH.db), and with --server the standalone Milvus 2.3.5 (dense
only there: it has no BM25; HNSW ef 512), started once the others are built.
"Add 100": a writer opened on the 100k store, 100 more articles upserted (stand-in vectors), committed; in the
store's alone phase, its reader open.
Indexing rate: ``kb.add`` of --encoder-articles real articles with the real model into each store; the ratio is
the time the encoder worked over the whole add (1.0 = writing costs nothing beyond encoding).
With --work DIR the corpus and the three built stores are kept under DIR (``built/``) and a later run with the same
--work and --passages copies them to ``run/`` instead of building again (the build times printed are the first
run's); "add 100" then writes to the copy, so every run starts from the same 100k state.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # shared_data, also when loaded by importlib

import numpy as np  # noqa: E402
import shared_data  # noqa: E402

from askbot import asking  # noqa: E402
from askbot.arabic import lexical_terms  # noqa: E402
from askbot.chunking import chunk_article  # noqa: E402
from askbot.store import milvus  # noqa: E402
from askbot.store.index import IndexReader, IndexWriter  # noqa: E402
from askbot.store.manifest import Manifest  # noqa: E402
from askbot.types import Article, Passage  # noqa: E402

DIM = 384
ROOT = Path(__file__).resolve().parents[1]


def cpu_s() -> float:
    r, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


def articles(path: Path) -> Iterator[Article]:
    with shared_data.open_text(path) as fh:
        for line in fh:
            r = json.loads(line)
            if r.get("text"):
                yield Article(
                    id=str(r["id"]), title=r.get("title") or "", text=r["text"], source=r.get("source") or "",
                    url=r.get("url") or "", published=r.get("published") or "", category=r.get("category") or "",
                )  # fmt: skip


Item = tuple[Article, list[Passage], np.ndarray, list[list[str]]]


def corpus(path: Path, passages: int, skip: int = 0, limit: int | None = None) -> list[Item]:
    """Articles (after ``skip``) up to ``passages`` passages or ``limit`` articles: askbot's chunking, stand-in
    vectors and real lexical terms."""
    rng = np.random.default_rng(skip)
    out: list[Item] = []
    total = 0
    for n, article in enumerate(articles(path)):
        if n < skip:
            continue
        ps = chunk_article(article, max_tokens=200, overlap=1)
        if not ps:
            continue
        v = rng.normal(size=(len(ps), DIM)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        out.append((article, ps, v, [lexical_terms(p.text) for p in ps]))
        total += len(ps)
        if total >= passages or (limit is not None and len(out) >= limit):
            break
    return out


def manifest() -> Manifest:
    return Manifest(model_id="stand-in", model_fingerprint="random", dim=DIM, normalizer_version="x", chunking="c")


def build(open_writer, location, items: list[Item]) -> float:  # noqa: ANN001
    started = time.perf_counter()
    with open_writer(location, manifest(), rebuild=True) as w:
        for it in items:
            w.upsert(*it)
        w.commit()
    return time.perf_counter() - started


def add(open_writer, location, items: list[Item]) -> float:  # noqa: ANN001
    started = time.perf_counter()
    with open_writer(location, manifest()) as w:
        for it in items:
            w.upsert(*it)
        w.commit()
    return time.perf_counter() - started


def xquad_questions(path: Path, n: int) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    qs = [qa["question"] for art in data for para in art["paragraphs"] for qa in para["qas"]]
    return qs[:n]


def indexing_rate(store: str | Path, news: Path, n: int) -> dict[str, float]:
    import askbot

    todo = []
    for a in articles(news):
        todo.append(a)
        if len(todo) >= n:
            break
    kb = askbot.open(store) if not milvus.is_milvus(store) else askbot.open(store=str(store))
    report = kb.add(todo)
    return {"passages": report.passages, "seconds": report.seconds, "encode_s": report.encode_seconds}


def process_cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (/proc)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def engine_pids(kind: str, hint: str) -> list[int]:
    """The engine's processes: Milvus Lite's ``milvus`` process for the file ``hint``, or the server's group."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if kind == "lite":
                found = hint in (stat.parent / "cmdline").read_bytes().decode(errors="replace")
            else:
                found = int(stat.read_text().rsplit(")", 1)[1].split()[2]) == int(hint)  # the process group
            if found:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def settle(uri: str, group: int, timeout_s: float = 900.0) -> float:
    """Flush a server store's collections, wait until its dense index covers every row and the server's process
    ``group`` is quiet (under 20% of a core over 5 s): a freshly built or restarted server compacts segments and
    builds HNSW in the background, which would be timed with the questions; seconds waited."""
    from askbot.store.milvus.connection import connect, disconnect, parse

    started, loc = time.perf_counter(), parse(uri)
    reader = milvus.open_reader(uri)
    assert reader is not None
    names = list(reader.names.values())
    reader.close()
    client = connect(loc)
    try:
        for name in names:
            client.flush(name)
        while time.perf_counter() - started < timeout_s:
            d = client.describe_index(names[0], "vec")
            if int(d.get("indexed_rows", 0)) >= int(d.get("total_rows", 0)) > 0:
                break
            time.sleep(2)
        pids = engine_pids("server", str(group))
        while time.perf_counter() - started < timeout_s:
            before = process_cpu_s(pids)
            time.sleep(5)
            if process_cpu_s(pids) - before < 1.0:
                break
    finally:
        disconnect(client, loc)
    return time.perf_counter() - started


def interleaved(stores: list[tuple[str, object, str, list[int]]], questions: list[str]) -> dict[str, dict[str, float]]:
    """Warm ``asking.ask`` (given the query vector) on every store, the stores taking turns question by question:
    wall ms, this process's CPU ms and the engine processes' CPU ms per question."""
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(len(questions) + 20, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for _, reader, method, _ in stores:
        for i in range(20):
            asking.ask(reader, None, questions[i % len(questions)], vector=vectors[-1 - i], method=method)
    wall: dict[str, list[float]] = {name: [] for name, *_ in stores}
    client = dict.fromkeys(wall, 0.0)
    engine = dict.fromkeys(wall, 0.0)
    for q, v in zip(questions, vectors, strict=False):
        for name, reader, method, pids in stores:
            e, c, t = process_cpu_s(pids), time.process_time(), time.perf_counter()
            asking.ask(reader, None, q, vector=v, method=method)
            wall[name].append((time.perf_counter() - t) * 1e3)
            client[name] += time.process_time() - c
            engine[name] += process_cpu_s(pids) - e
    n = len(questions)
    return {
        name: {
            "p50_ms": float(np.percentile(w, 50)),
            "p95_ms": float(np.percentile(w, 95)),
            "client_cpu_ms": client[name] / n * 1e3,
            "engine_cpu_ms": engine[name] / n * 1e3,
        }
        for name, w in wall.items()
    }


def opened(name: str, reader_of, loc, server_pid: int | None) -> tuple[str, object, str, list[int]]:  # noqa: ANN001
    """(name, reader, method, engine pids) of one store: hybrid where the engine has BM25, else dense."""
    reader = reader_of(loc)
    method = "hybrid" if reader.info().backend != "milvus" else "dense"
    if name.startswith("Milvus Lite"):
        pids = engine_pids("lite", str(loc)[len("milvus:") :])
    elif name.startswith("Milvus server") and server_pid is not None:
        pids = engine_pids("server", str(server_pid))
    else:
        pids = []
    return name, reader, method, pids


def measured_alone(
    name: str,
    stored: tuple[object, object, str | Path],
    questions: list[str],
    newer: list[Item],
    server_pid: int | None,
) -> tuple[dict[str, float], float]:
    """Warm questions on one store while no other store's reader (nor the Lite engine behind it) is open, then
    "add 100" with the reader still open, as in a serving kb (Lite keeps its engine up): (latency, add seconds)."""
    opener, reader_of, loc = stored
    store = opened(name, reader_of, loc, server_pid)
    try:
        return interleaved([store], questions)[name], add(opener, loc, newer)
    finally:
        store[1].close()  # type: ignore[attr-defined]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--passages", type=int, default=100_000)
    ap.add_argument("--questions", type=int, default=200)
    shared_data.add_options(ap, news=shared_data.NEWS, xquad=shared_data.XQUAD_AR)
    ap.add_argument("--server", action="store_true", help="also the standalone Milvus 2.3.5 (.ci/milvus-server.sh)")
    ap.add_argument("--encoder-articles", type=int, default=0, help="indexing rate with the real model on N articles")
    ap.add_argument("--work", type=Path, default=None)
    args = shared_data.resolve(ap.parse_args())
    shared_data.need(args.xquad, "--xquad")
    if args.encoder_articles:
        shared_data.need(args.news, "--news")
    work = args.work or Path(tempfile.mkdtemp(prefix="askbot-milvus-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    t, c = time.perf_counter(), cpu_s()
    cached = work / f"corpus-{args.passages}.pkl"
    if args.work and cached.exists():
        items = pickle.loads(cached.read_bytes())
    else:
        items = corpus(shared_data.need(args.news, "--news"), args.passages)
        if args.work:
            cached.write_bytes(pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL))
    n_pass = sum(len(p) for _, p, _, _ in items)
    print(
        f"corpus: {len(items)} articles, {n_pass} passages in {time.perf_counter() - t:.0f}s ({cpu_s() - c:.0f} CPU s)"
    )
    questions = xquad_questions(args.xquad, args.questions)
    items, newer = items[:-100], items[-100:]  # the last 100 articles are the ones added to the built store

    def local_writer(loc, m, rebuild=False):  # noqa: ANN001, ANN202
        return IndexWriter(Path(loc), m, rebuild=rebuild)

    # built once under built/ (kept with --work), copied to run/ where the questions and "add 100" run
    kept, live = work / "built", work / "run"
    shutil.rmtree(live, ignore_errors=True)
    kept.mkdir(exist_ok=True)
    live.mkdir()
    times_file = kept / f"times-{args.passages}.json"
    built: dict[str, tuple[float, float]] = json.loads(times_file.read_text()) if times_file.exists() else {}
    stores: list[tuple[str, object, object, str | Path]] = [
        ("embedded (vectors/)", local_writer, lambda loc: IndexReader.open(Path(loc)), "vectors"),
        ("Milvus Lite 2.5.1", milvus.open_writer, milvus.open_reader, "bench.db"),
    ]
    server = None
    readers: list[tuple[str, object, str, list[int]]] = []
    alone: dict[str, tuple[dict[str, float], float]] = {}

    def located(folder: Path, where: str) -> str | Path:
        return f"milvus:{folder / where}" if where.endswith(".db") else folder / where

    try:
        for i, (name, opener, reader_of, where) in enumerate(stores):
            if name not in built:
                c = cpu_s()
                built[name] = (build(opener, located(kept, str(where)), items), cpu_s() - c)
                times_file.write_text(json.dumps(built))
                print(f"built {name} in {built[name][0]:.0f}s ({built[name][1]:.0f} CPU s)", flush=True)
            copy = shutil.copytree if (kept / str(where)).is_dir() else shutil.copy2
            copy(kept / str(where), live / str(where))
            stores[i] = (name, opener, reader_of, located(live, str(where)))
        for name, opener, reader_of, loc in stores:  # each alone, before the server starts: no other engine runs
            alone[name] = measured_alone(name, (opener, reader_of, loc), questions, newer, None)
        if args.server:  # started once the others are built (one server stage per machine at a time)
            sys.path.insert(0, str(ROOT / "tests"))
            from milvus_standalone import Standalone, launcher

            program = launcher()
            if program is None:
                sys.exit("--server: run .ci/milvus-server.sh first")
            name = "Milvus server 2.3.5 (HNSW)"
            if name not in built:
                server = Standalone(kept / "server", program)
                print(f"server started in {server.start(timeout_s=420):.0f}s", flush=True)
                c = cpu_s()
                built[name] = (build(milvus.open_writer, server.uri, items), cpu_s() - c)
                print(f"built {name} in {built[name][0]:.0f}s (client {built[name][1]:.0f} CPU s)", flush=True)
                print(f"flushed and indexed in {settle(server.uri, server.proc.pid):.0f}s more", flush=True)
                server.stop()
                times_file.write_text(json.dumps(built))
            shutil.copytree(kept / "server", live / "server", ignore=shutil.ignore_patterns("server.out"))
            server = Standalone(live / "server", program)
            print(f"server started in {server.start(timeout_s=420):.0f}s", flush=True)
            print(f"its index complete after {settle(server.uri, server.proc.pid):.0f}s more", flush=True)
            stores.append((name, milvus.open_writer, milvus.open_reader, server.uri))
            stored = (milvus.open_writer, milvus.open_reader, server.uri)
            alone[name] = measured_alone(name, stored, questions, newer, server.proc.pid)
        for name, _, reader_of, loc in stores:
            readers.append(opened(name, reader_of, loc, server.proc.pid if server is not None else None))
        together = interleaved(readers, questions)
        rows = []
        for (name, *_), (_, _, method, _) in zip(stores, readers, strict=True):
            lat, (one, added) = together[name], alone[name]
            rows.append(
                f"| {name} | {built[name][0]:.0f} s | {method} | {one['p50_ms']:.1f} / {one['p95_ms']:.1f} ms | "
                f"{one['client_cpu_ms']:.1f} + {one['engine_cpu_ms']:.1f} ms | {lat['p50_ms']:.1f} / "
                f"{lat['p95_ms']:.1f} ms | {lat['client_cpu_ms']:.1f} + {lat['engine_cpu_ms']:.1f} ms | {added:.2f} s |"
            )
            print(rows[-1], flush=True)
        for _, reader, _, _ in readers:
            reader.close()
        if args.encoder_articles:
            for name, loc in (
                ("embedded (vectors/)", work / "rate-vectors"),
                ("Milvus Lite 2.5.1", f"milvus:{work}/rate.db"),
            ):
                r = indexing_rate(loc, args.news, args.encoder_articles)
                ratio = r["encode_s"] / r["seconds"]
                print(f"indexing rate {name}: {r['passages']} passages, add {r['seconds']:.1f}s, ", end="")
                print(f"encoder {r['encode_s']:.1f}s, ratio {ratio:.2f}", flush=True)
    finally:
        if server is not None:
            server.wipe()
    print(
        "\n| store | build (stand-in vectors) | method | alone: warm p50 / p95 | alone: CPU a question (client + "
        "engine) | interleaved: p50 / p95 | interleaved: CPU | add 100 articles |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"whole run {time.perf_counter() - started:.0f} s wall, load average {os.getloadavg()}")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
