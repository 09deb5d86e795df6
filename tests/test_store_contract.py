"""The store interface's contract: one set of tests, run against every backend (``backend`` fixture).

A backend is a pair of factories: ``open_reader(location) -> StoreReader | None`` and
``open_writer(location, manifest, rebuild=False) -> StoreWriter``. A new backend proves itself by passing
this file unchanged; nothing here touches SQLite, FAISS or BM25 objects.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from askbot.arabic import lexical_terms
from askbot.store import IndexBusy, Manifest
from askbot.store.base import StoreReader, StoreWriter
from askbot.types import Article, Filters, Passage

DIM = 8


@dataclass
class Backend:
    name: str
    location: Callable[[Path], str | Path]
    open_reader: Callable[[str | Path], StoreReader | None]
    open_writer: Callable[..., StoreWriter]


def _local() -> Backend:
    from askbot.store.index import IndexReader, IndexWriter

    return Backend(
        "local",
        lambda tmp: tmp / "vectors",
        lambda loc: IndexReader.open(Path(loc)),
        lambda loc, manifest, rebuild=False: IndexWriter(Path(loc), manifest, rebuild=rebuild),
    )


def _milvus_lite() -> Backend:
    # the optional milvus extra (not in the test extra): without it this backend is skipped, saying so
    missing = "not installed: pip install 'askbot[milvus]' to test the Milvus backend"
    pytest.importorskip("pymilvus", reason=missing)
    if importlib.util.find_spec("milvus_lite") is None:  # not imported here: it needs askbot's pkg_resources shim
        pytest.skip(missing)
    from askbot.store import milvus
    from askbot.store.milvus.connection import lite_problem

    if problem := lite_problem():
        pytest.skip(f"Milvus Lite cannot start here ({problem}); pip install 'askbot[milvus]'")

    return Backend("milvus-lite", lambda tmp: f"milvus:{tmp}/kb.db", milvus.open_reader, milvus.open_writer)


BACKENDS = {"local": _local, "milvus-lite": _milvus_lite}
# under pytest -n, with tests/test_milvus.py: one worker starts Milvus Lite at a time (two starting at once in two
# workers raced on creating ~/.cache/milvus: "create dir failed", then "Mmap manager has not been init")
ON_ONE_WORKER = {"milvus-lite": pytest.mark.xdist_group("milvus-lite")}


@pytest.fixture(params=[pytest.param(name, marks=ON_ONE_WORKER.get(name, ())) for name in sorted(BACKENDS)])
def backend(request: pytest.FixtureRequest) -> Backend:
    return BACKENDS[request.param]()


def manifest() -> Manifest:
    return Manifest(model_id="m", model_fingerprint="f", dim=DIM, normalizer_version="1", chunking="c")


TEXTS = {
    "a1": "وقّع المستشار المحضر الأمني في بغداد. ثم عاد إلى طهران مساء.",
    "a2": "ارتفعت أسعار النفط اليوم في الأسواق. وتراجع الذهب قليلا.",
    "a3": "فاز المنتخب المغربي على نظيره الإسباني. واحتفل الجمهور في الرباط.",
}
META = {"a1": ("العالم", "politics", "2018-03-01"), "a2": ("BBC", "economy", "2018-05-10"), "a3": ("BBC", "sport", "")}
A4 = "ارتفعت أسعار الذهب في الرباط. وتراجع النفط قليلا."


def vector(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def item(aid: str, text: str | None = None) -> tuple[Article, list[Passage], np.ndarray, list[list[str]]]:
    body = text or TEXTS[aid]
    source, category, published = META.get(aid, ("src", "", ""))
    art = Article(id=aid, title=f"عنوان {aid}", text=body, source=source, category=category, published=published)
    cut = body.index(".") + 1
    passages = [Passage(aid, 0, 0, cut, body[:cut]), Passage(aid, 1, cut + 1, len(body), body[cut + 1 :])]
    seed = sum(map(ord, aid + body))
    vectors = np.stack([vector(seed), vector(seed + 1)])
    return art, passages, vectors, [lexical_terms(p.text) for p in passages]


def write(backend: Backend, loc: str | Path, *aids: str, remove: tuple[str, ...] = (), rebuild: bool = False) -> None:
    with backend.open_writer(loc, manifest(), rebuild=rebuild) as w:
        for aid in aids:
            w.upsert(*item(aid))
        if remove:
            w.remove(list(remove))
        w.commit()


def reader_of(backend: Backend, loc: str | Path) -> StoreReader:
    reader = backend.open_reader(loc)
    assert reader is not None
    return reader


def pids_of(reader: StoreReader, aid: str) -> list[int]:
    everything = reader.allowed_ids(Filters(since="0"))  # every dated article ...
    undated = reader.allowed_ids(Filters(source="BBC"))  # ... and a3, the undated one
    assert everything is not None and undated is not None
    ids = sorted({*everything.tolist(), *undated.tolist()})
    return sorted(pid for pid, p in reader.passages(ids).items() if p.article_id == aid)


def test_an_empty_location_has_no_reader(backend, tmp_path):
    assert backend.open_reader(backend.location(tmp_path)) is None


def test_what_is_written_reads_back_exactly(backend, tmp_path):
    loc = backend.location(tmp_path)
    write(backend, loc, "a1", "a2")
    reader = reader_of(backend, loc)
    info = reader.info()
    assert (info.articles, info.passages, info.dim, info.model) == (2, 4, DIM, "m")
    assert info.built
    articles = reader.articles(["a1", "a2", "nope"])
    assert set(articles) == {"a1", "a2"} and articles["a1"].text == TEXTS["a1"]
    assert articles["a2"].source == "BBC" and articles["a2"].published == "2018-05-10"
    hashes = reader.content_hashes()
    assert hashes == {"a1": item("a1")[0].content_hash, "a2": item("a2")[0].content_hash}
    passages = reader.passages(pids_of(reader, "a1"))
    for p in passages.values():
        assert articles["a1"].text[p.start : p.end] == p.text
    assert sorted(p.ordinal for p in passages.values()) == [0, 1]
    assert reader.passages([10**9]) == {}
    assert reader.verify() == []


def test_dense_search_is_exact_and_scores_by_id(backend, tmp_path):
    loc = backend.location(tmp_path)
    write(backend, loc, "a1", "a2", "a3")
    reader = reader_of(backend, loc)
    _, _, vectors, _ = item("a2")
    scores, ids = reader.dense_search(vectors[1], 3)
    assert reader.passages([int(ids[0])])[int(ids[0])].article_id == "a2"
    assert scores[0] == pytest.approx(1.0, abs=1e-5) and list(scores) == sorted(scores, reverse=True)
    by_id = reader.dense_scores(vectors[1], ids)
    np.testing.assert_allclose(by_id, scores, atol=1e-5)
    allowed = np.asarray(pids_of(reader, "a1"), np.int64)
    scores, ids = reader.dense_search(vectors[1], 3, allowed)
    assert set(ids.tolist()) <= set(allowed.tolist()) and len(ids) == 2


def test_lexical_search_scores_and_idf(backend, tmp_path):
    loc = backend.location(tmp_path)
    write(backend, loc, "a1", "a2", "a3")
    reader = reader_of(backend, loc)
    terms = lexical_terms("من وَقَّعَ المحضر الامني؟")  # other spelling than the passage
    scores, ids = reader.lexical_search(terms, 5)
    assert len(ids) >= 1 and reader.passages([int(ids[0])])[int(ids[0])].article_id == "a1"
    assert all(s > 0 for s in scores)
    again = reader.lexical_scores(terms, ids)
    np.testing.assert_allclose(again, scores, rtol=1e-5)
    other = np.asarray(pids_of(reader, "a2"), np.int64)
    assert reader.lexical_scores(terms, other).tolist() == [0.0, 0.0]
    _, ids = reader.lexical_search(terms, 5, allowed=other)
    assert len(ids) == 0
    idf = reader.idf(["محضر", "في"])
    assert idf["محضر"] > 0


def test_words_are_the_single_word_terms_by_passage_count(backend, tmp_path):
    loc = backend.location(tmp_path)
    write(backend, loc, "a1", "a2", "a3")
    with backend.open_writer(loc, manifest()) as w:  # a second commit: its counts add to the first's
        w.upsert(*item("a4", A4))
        w.commit()
    reader = reader_of(backend, loc)
    df: dict[str, int] = {}
    for aid in ("a1", "a2", "a3", "a4"):
        for terms in item(aid, A4 if aid == "a4" else None)[3]:
            for t in set(terms):
                if "_" not in t:
                    df[t] = df.get(t, 0) + 1
    assert reader.words() == sorted(df)
    assert reader.words(min_df=2) == sorted(t for t, n in df.items() if n >= 2)
    assert "نفط" in reader.words(min_df=2) and "طهران" not in reader.words(min_df=2)


def test_filters_select_articles(backend, tmp_path):
    loc = backend.location(tmp_path)
    write(backend, loc, "a1", "a2", "a3")
    reader = reader_of(backend, loc)

    def articles_of(filters: Filters) -> set[str]:
        ids = reader.allowed_ids(filters)
        assert ids is not None
        return {p.article_id for p in reader.passages(ids.tolist()).values()}

    assert reader.allowed_ids(Filters()) is None
    assert articles_of(Filters(source="bbc")) == {"a2", "a3"}
    assert articles_of(Filters(category="Sport")) == {"a3"}
    assert articles_of(Filters(since="2018-04")) == {"a2"}
    assert articles_of(Filters(until="2018-03")) == {"a1"}
    assert articles_of(Filters(source="nosuch")) == set()


def test_update_replaces_and_remove_deletes(backend, tmp_path):
    loc = backend.location(tmp_path)
    write(backend, loc, "a1", "a2")
    with backend.open_writer(loc, manifest()) as w:
        edited = item("a1", "نص جديد كليا عن الاقتصاد. وجملة ثانية فيه.")
        asked = [edited[0], item("a2")[0], item("a3")[0]]
        assert w.statuses(asked) == {"a1": "changed", "a2": "unchanged", "a3": "new"}
        w.upsert(*edited)
        assert w.remove(["a2", "nope"]) == ["a2"]
        w.commit()
    reader = reader_of(backend, loc)
    assert reader.info().articles == 1 and reader.info().passages == 2
    assert reader.articles(["a1"])["a1"].text.startswith("نص جديد")
    assert set(reader.content_hashes()) == {"a1"}
    _, ids = reader.lexical_search(lexical_terms("المحضر الأمني"), 5)
    assert len(ids) == 0  # the old text's terms are gone with it
    _, _, old_vectors, _ = item("a2")
    scores, ids = reader.dense_search(old_vectors[0], 5)
    assert len(ids) == 2 and max(scores) < 0.999  # a2's vectors are gone
    assert reader.verify() == []


def test_content_hashes_of_asked_articles(backend, tmp_path):
    """An add asks for its own articles' hashes only: those indexed come back, the unknown are left out."""
    loc = backend.location(tmp_path)
    write(backend, loc, "a1", "a2", "a3")
    edited = item("a2", "نص جديد كليا عن الاقتصاد. وجملة ثانية فيه.")[0]
    before = reader_of(backend, loc)
    with backend.open_writer(loc, manifest()) as w:
        w.upsert(*item("a2", edited.text))
        w.remove(["a3"])
        w.commit()
    reader = reader_of(backend, loc)
    assert reader.content_hashes(["a2", "nope", "a1", "a3", "a2"]) == {
        "a1": item("a1")[0].content_hash,
        "a2": edited.content_hash,
    }
    assert reader.content_hashes([]) == {} and reader.content_hashes(["nope"]) == {}
    assert reader.content_hashes(["a1", "a2"]) == reader.content_hashes()
    assert before.content_hashes(["a2", "a3"]) == {"a2": item("a2")[0].content_hash, "a3": item("a3")[0].content_hash}


def test_a_writer_not_asked_first_still_replaces_what_is_indexed(backend, tmp_path):
    """upsert and remove without statuses() first, twice in one batch, and remove-then-upsert: no article is
    duplicated or lost, and the counts stay those of what is live."""
    loc = backend.location(tmp_path)
    write(backend, loc, "a1", "a2", "a3")
    a1 = "نص جديد عن أسعار النفط في بغداد. والمنتخب فاز على نظيره."
    with backend.open_writer(loc, manifest()) as w:
        w.upsert(*item("a1", "نص أول عن الاقتصاد. وجملة ثانية فيه."))
        w.upsert(*item("a1", a1))  # twice in one batch: the second wins
        w.upsert(*item("a4", A4))  # new
        w.remove(["a2"])
        w.upsert(*item("a2"))  # removed, then written again
        w.upsert(*item("a3"))  # unchanged, written again
        w.remove(["a3"])  # upserted, then removed in the same batch
        assert w.statuses([item("a1", a1)[0], item("a3")[0]]) == {"a1": "unchanged", "a3": "new"}
        w.commit()
    reader = reader_of(backend, loc)
    assert reader.content_hashes() == {
        "a1": item("a1", a1)[0].content_hash,
        "a2": item("a2")[0].content_hash,
        "a4": item("a4", A4)[0].content_hash,
    }
    assert (reader.info().articles, reader.info().passages) == (3, 6) and len(reader.passage_ids()) == 6
    assert reader.articles(["a1"])["a1"].text == a1
    assert reader.verify() == []


def test_nothing_is_visible_before_commit_and_an_abandoned_write_changes_nothing(backend, tmp_path):
    loc = backend.location(tmp_path)
    write(backend, loc, "a1")
    with pytest.raises(RuntimeError), backend.open_writer(loc, manifest()) as w:
        w.upsert(*item("a2"))
        w.remove(["a1"])
        assert set(reader_of(backend, loc).content_hashes()) == {"a1"}
        raise RuntimeError("killed before commit")
    reader = reader_of(backend, loc)
    assert set(reader.content_hashes()) == {"a1"} and reader.info().passages == 2
    assert reader.verify() == []


def test_an_open_reader_keeps_its_view_while_a_writer_commits(backend, tmp_path):
    loc = backend.location(tmp_path)
    write(backend, loc, "a1")
    before = reader_of(backend, loc)
    write(backend, loc, "a2", remove=("a1",))
    assert set(before.content_hashes()) == {"a1"} and before.articles(["a1"])["a1"].text == TEXTS["a1"]
    assert set(reader_of(backend, loc).content_hashes()) == {"a2"}


def test_one_writer_at_a_time(backend, tmp_path):
    loc = backend.location(tmp_path)
    write(backend, loc, "a1")
    with backend.open_writer(loc, manifest()), pytest.raises(IndexBusy), backend.open_writer(loc, manifest()):
        pass


def test_checkpoint_commits_and_writing_goes_on(backend, tmp_path):
    loc = backend.location(tmp_path)
    with pytest.raises(RuntimeError), backend.open_writer(loc, manifest()) as w:
        w.upsert(*item("a1"))
        w.checkpoint()
        w.upsert(*item("a2"))
        raise RuntimeError("killed after the checkpoint")
    assert set(reader_of(backend, loc).content_hashes()) == {"a1"}


def test_rebuild_starts_over(backend, tmp_path):
    loc = backend.location(tmp_path)
    write(backend, loc, "a1", "a2")
    write(backend, loc, "a3", rebuild=True)
    reader = reader_of(backend, loc)
    assert set(reader.content_hashes()) == {"a3"} and reader.info().passages == 2


def test_passage_ids_lists_every_live_passage(backend, tmp_path):
    loc = backend.location(tmp_path)
    write(backend, loc, "a1", "a2", "a3")
    write(backend, loc, remove=("a2",))
    reader = reader_of(backend, loc)
    ids = reader.passage_ids()
    assert ids.tolist() == sorted(ids.tolist()) and len(ids) == reader.info().passages == 4
    assert {p.article_id for p in reader.passages(ids.tolist()).values()} == {"a1", "a3"}


def test_many_commits_rank_exactly_like_one(backend, tmp_path, request):
    """Writes spread over commits (with an update and a removal) score exactly like the same articles written at
    once: BM25's statistics cover what is live, not how it was written."""
    if backend.name.startswith("milvus"):  # known gap, found when the Milvus branch met main's contract suite
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason="Milvus's engine BM25 statistics count the replaced row versions an update or a removal keeps "
                "for RETAIN_S (for readers opened before the commit): the scores equal a one-shot write's once a later "
                "writer purges them (tests/test_milvus.py); idf, from askbot's df collection, matches",
            )
        )
    parts, whole = backend.location(tmp_path / "parts"), backend.location(tmp_path / "whole")
    a1 = "نص جديد عن أسعار النفط في بغداد. والمنتخب فاز على نظيره."
    write(backend, parts, "a1")
    write(backend, parts, "a2", "a3")
    with backend.open_writer(parts, manifest()) as w:
        w.upsert(*item("a1", a1))
        w.upsert(*item("a4", A4))
        w.remove(["a3"])
        w.commit()
    with backend.open_writer(whole, manifest()) as w:
        w.upsert(*item("a2"))
        w.upsert(*item("a1", a1))
        w.upsert(*item("a4", A4))
        w.commit()

    def ranked(reader: StoreReader, question: str) -> list[object]:
        names = {pid: (p.article_id, p.ordinal) for pid, p in reader.passages(reader.passage_ids().tolist()).items()}
        terms = lexical_terms(question)
        lexical = reader.lexical_search(terms, 10)
        dense = reader.dense_search(item("a4", A4)[2][0], 10)
        return [
            sorted((round(-float(s), 5), names[int(i)]) for s, i in zip(*lexical, strict=True)),
            sorted((round(-float(s), 5), names[int(i)]) for s, i in zip(*dense, strict=True)),
            {t: round(v, 5) for t, v in reader.idf(terms).items()},
        ]

    for question in ("أسعار النفط في بغداد", "المنتخب والذهب", "الرباط"):
        assert ranked(reader_of(backend, parts), question) == ranked(reader_of(backend, whole), question)


def test_a_filter_never_gets_another_filters_lexical_scores(backend, tmp_path):
    """The same terms under two filters, the first filter's array freed in between (its id may be reused)."""
    loc = backend.location(tmp_path)
    write(backend, loc, "a1", "a2", "a3")
    reader = reader_of(backend, loc)
    terms = lexical_terms("المنتخب المغربي في الرباط")
    for _ in range(20):
        bbc = reader.allowed_ids(Filters(source="BBC"))
        _, ids = reader.lexical_search(terms, 5, bbc)
        assert {reader.passages([int(i)])[int(i)].article_id for i in ids} <= {"a2", "a3"}
        del bbc
        none = reader.allowed_ids(Filters(source="nosuch"))
        _, ids = reader.lexical_search(terms, 5, none)
        assert len(ids) == 0
        del none
