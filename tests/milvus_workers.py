"""Client processes for the Milvus tests: ``python milvus_workers.py ROLE LOCATION ARGS`` (writers and readers)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from askbot.arabic import lexical_terms  # noqa: E402
from askbot.store import IndexBusy, Manifest, milvus  # noqa: E402
from askbot.types import Article, Passage  # noqa: E402

DIM = 8


def manifest() -> Manifest:
    return Manifest(model_id="m", model_fingerprint="f", dim=DIM, normalizer_version="1", chunking="c")


def item(n: int) -> tuple[Article, list[Passage], np.ndarray, list[list[str]]]:
    """Article w{n}: two passages, vectors seeded by n."""
    body = f"خبر رقم {n} عن الاقتصاد. وجملة ثانية في الخبر {n}."
    cut = body.index(".") + 1
    passages = [Passage(f"w{n}", 0, 0, cut, body[:cut]), Passage(f"w{n}", 1, cut + 1, len(body), body[cut + 1 :])]
    vectors = np.random.default_rng(n).normal(size=(2, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    article = Article(id=f"w{n}", title=f"t{n}", text=body, source="src", published="2020-01-01")
    return article, passages, vectors, [lexical_terms(p.text) for p in passages]


def write(location: str, first: int, count: int, every: int, kill_after: int = -1) -> None:
    """Upsert w{first}..; checkpoint every ``every``; SIGKILL itself after ``kill_after`` upserts (a crash)."""
    with milvus.open_writer(location, manifest()) as w:
        for i, n in enumerate(range(first, first + count), 1):
            w.upsert(*item(n))
            if i == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
            if i % every == 0:
                w.checkpoint()
        w.commit()


def read(location: str, seconds: float) -> None:
    """Open views again and again: each must hold whole articles (2 passages each) matching its counts."""
    views, errors, seen = 0, [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            reader = milvus.open_reader(location)
            if reader is None:
                continue
            hashes = reader.content_hashes()
            info = reader.info()
            _, ids = reader.dense_search(item(0)[2][0], 1000)
            per_article: dict[str, int] = {}
            for p in reader.passages(ids.tolist()).values():
                per_article[p.article_id] = per_article.get(p.article_id, 0) + 1
            if set(per_article) != set(hashes) or any(v != 2 for v in per_article.values()):
                errors.append(f"view {info.generation}: half an article or an orphan")
            if (info.articles, info.passages) != (len(hashes), len(ids)):
                errors.append(
                    f"view {info.generation}: counts {info.articles}/{info.passages} != {len(hashes)}/{len(ids)}"
                )
            seen = max(seen, len(hashes))
            reader.close()
            views += 1
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on any
            errors.append(f"{type(exc).__name__}: {exc}")
    print(json.dumps({"views": views, "errors": errors[:5], "max_articles": seen}))


def try_write(location: str) -> None:
    """Print "busy" when another writer holds the store, else hold it for a second and print "wrote"."""
    try:
        with milvus.open_writer(location, manifest()) as w:
            time.sleep(1.0)
            w.upsert(*item(999))
            w.commit()
        print("wrote")
    except IndexBusy:
        print("busy")


if __name__ == "__main__":
    role, location, *args = sys.argv[1:]
    if role == "write":
        write(location, *map(int, args))
    elif role == "read":
        read(location, float(args[0]))
    elif role == "try-write":
        try_write(location)
