"""The reader's pool of small segments (askbot.store.pooled): one search over them, and exactly the results the
segments give one by one (with tombstones, updates and filters; beside a segment too big to pool)."""

import sys
from pathlib import Path

import numpy as np
import pytest

from askbot.arabic import lexical_terms
from askbot.store import pooled
from askbot.store.index import IndexReader, IndexWriter
from askbot.types import Filters

sys.path.insert(0, str(Path(__file__).parent))  # test_store's builders, under pytest's importlib import mode
from test_store import QUERIES, article, manifest, with_terms  # noqa: E402

DIM = 8


def build(index_dir) -> None:
    with IndexWriter(index_dir, manifest()) as w:  # one big segment: 40 articles, 80 passages
        for n in range(40):
            w.upsert(*with_terms(article(n)))
        w.commit()
    for batch in range(8):  # eight small ones, with updates and deletions in both kinds
        with IndexWriter(index_dir, manifest()) as w:
            w.upsert(*with_terms(article(100 + batch)))
            w.upsert(*with_terms(article(200 + batch, f"نص جديد عن النفط في بغداد {batch}. والمنتخب فاز.")))
            if batch >= 2:
                w.upsert(*with_terms(article(batch, f"تحديث عن الحكومة والاتفاق {batch}. في الشتاء.")))
                w.remove([f"a{100 + batch - 2}", f"a{batch + 20}"])
            w.commit()


def everything(reader: IndexReader) -> list[object]:
    """Every score a question can read, raw (the same index, the same passage ids: no renaming needed)."""
    out: list[object] = []
    for n, query in enumerate(QUERIES):
        terms = lexical_terms(query)
        vector = np.random.default_rng(100 + n).normal(size=DIM).astype(np.float32)
        for allowed in (None, reader.allowed_ids(Filters(source="s1")), reader.allowed_ids(Filters(since="2018-05"))):
            for found in (reader.dense_search(vector, 1000, allowed), reader.lexical_search(terms, 1000, allowed)):
                out.append([a.tolist() for a in found])
            ids = reader.passage_ids()
            out.append(reader.lexical_scores(terms, ids, allowed).tolist())
            out.append(None if allowed is None else allowed.tolist())
        out.append(reader.dense_scores(vector, reader.passage_ids()).tolist())
        out.append(sorted(reader.idf(terms).items()))
    return out


def test_pooled_small_segments_give_exactly_the_results_of_the_segments(tmp_path, monkeypatch):
    build(tmp_path)
    monkeypatch.setattr(pooled, "POOL_MAX_PASSAGES", 50)  # the big segment (80 passages) stays out of the pool
    reader = IndexReader.open(tmp_path)
    assert len(reader.segments) == 9 and [type(u).__name__ for u in reader._units] == ["Segment", "Pool"]
    with_pool = everything(reader)
    monkeypatch.setattr(pooled, "POOL_MAX_PASSAGES", 0)  # nothing pooled: each segment searched on its own
    alone = IndexReader.open(tmp_path)
    assert len(alone._units) == 9
    assert with_pool == everything(alone)
    ids = reader.passage_ids().tolist()
    assert reader.verify() == [] and set(reader.passages(ids)) == set(ids)


@pytest.mark.parametrize("limit", [0, 10_000])
def test_a_pool_is_closed_with_its_reader(tmp_path, monkeypatch, limit):
    build(tmp_path)
    monkeypatch.setattr(pooled, "POOL_MAX_PASSAGES", limit)
    reader = IndexReader.open(tmp_path)
    pools = [u for u in reader._units if isinstance(u, pooled.Pool)]
    assert len(pools) == (1 if limit else 0)
    reader.close()
    for pool in pools:
        with pytest.raises(Exception, match="closed"):
            pool.db.execute("SELECT 1")
