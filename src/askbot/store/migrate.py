"""Copy an index between backends (``vectors/`` <-> ``milvus:...``) without re-embedding, then check the copy.

The copy reads ``StoreReader.iter_articles()`` (articles, passages, their vectors and lexical terms) and writes
them with a rebuilding ``StoreWriter``, checkpointing as it goes; the check compares counts, then the rankings of a
sample of queries on both sides (stored passage vectors as dense queries, their terms as lexical ones), by
(article, ordinal) since passage ids are the target's own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from askbot.store.base import StoreReader
from askbot.store.factory import committed_manifest, open_reader, open_writer

CHECKPOINT_ARTICLES = 2000
SAMPLE = 200
DEPTH = 10


@dataclass
class MigrationReport:
    articles: int = 0
    passages: int = 0
    seconds: float = 0.0
    checked: int = 0  # sample queries compared
    differing: list[str] = field(default_factory=list)  # one line per query whose rankings differ

    def summary(self) -> str:
        verdict = "equal" if not self.differing else f"{len(self.differing)} differ"
        return (
            f"copied {self.articles} articles, {self.passages} passages in {self.seconds:.1f}s; "
            f"rankings of {self.checked} sample queries: {verdict}"
        )


def migrate(
    source: str | Path, target: str | Path, progress: Callable[[int, int], None] | None = None, sample: int = SAMPLE
) -> MigrationReport:
    """Copy the committed index at ``source`` into ``target`` (replacing what is there), then compare them."""
    if str(source) == str(target):
        raise ValueError("migrate: --from and --to are the same store")
    manifest = committed_manifest(source)
    reader = open_reader(source)
    if manifest is None or reader is None:
        raise ValueError(f"migrate: {source} holds no index")
    report = MigrationReport()
    started = time.perf_counter()
    try:
        total = reader.info().articles
        fresh = replace(manifest, articles=0, passages=0, next_passage_id=0, built="", files={})
        with open_writer(target, fresh, rebuild=True) as writer:
            for n, (article, passages, vectors, terms) in enumerate(reader.iter_articles(), 1):
                writer.upsert(article, passages, vectors, terms)
                report.articles += 1
                report.passages += len(passages)
                if n % CHECKPOINT_ARTICLES == 0:
                    writer.checkpoint()
                if progress:
                    progress(n, total)
            writer.commit()
        report.seconds = time.perf_counter() - started
        copy = open_reader(target)
        assert copy is not None
        try:
            compare(reader, copy, report, sample)
        finally:
            copy.close()
    finally:
        reader.close()
    return report


def compare(a: StoreReader, b: StoreReader, report: MigrationReport, sample: int = SAMPLE) -> None:
    """Counts, then dense and lexical rankings of ``sample`` stored passages used as queries, on both sides."""
    ia, ib = a.info(), b.info()
    if (ia.articles, ia.passages) != (ib.articles, ib.passages):
        report.differing.append(f"counts {ia.articles}/{ia.passages} != {ib.articles}/{ib.passages}")
    rng = np.random.default_rng(0)
    queries: list[tuple[str, np.ndarray, list[str]]] = []
    for article, passages, vectors, terms in a.iter_articles():
        for i in range(len(passages)):
            if len(queries) < sample:
                queries.append((f"{article.id}#{passages[i].ordinal}", vectors[i], terms[i][:6]))
            elif rng.random() < sample / (len(queries) + 1):
                queries[int(rng.integers(sample))] = (f"{article.id}#{passages[i].ordinal}", vectors[i], terms[i][:6])
    for name, vector, query_terms in queries:
        for kind, (sa, ka), (sb, kb) in (
            ("dense", _ranked(a, a.dense_search(vector, DEPTH)), _ranked(b, b.dense_search(vector, DEPTH))),
            (
                "lexical",
                _ranked(a, a.lexical_search(query_terms, DEPTH)),
                _ranked(b, b.lexical_search(query_terms, DEPTH)),
            ),
        ):
            ties = len(sa) == len(sb) and np.allclose(sa, sb, rtol=1e-4, atol=1e-5)  # equal scores: ties may swap
            if ka != kb and not ties:
                report.differing.append(f"{kind} ranking of {name}: {ka[:3]} != {kb[:3]}")
        report.checked += 1


def _ranked(reader: StoreReader, found: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, list[tuple[str, int]]]:
    scores, ids = found
    passages = reader.passages(ids.tolist())
    return scores, [(passages[i].article_id, passages[i].ordinal) for i in ids.tolist() if i in passages]
