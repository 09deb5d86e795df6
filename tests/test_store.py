"""The local store: segments, tombstones, merges, atomic commits, the first format, integrity checks (real FAISS +
SQLite). The interface itself is pinned by tests/test_store_contract.py."""

import json
import shutil

import numpy as np
import pytest

from askbot.arabic import lexical_terms
from askbot.store import IndexBusy, IndexCorrupt, IndexMismatch, Manifest, bm25, current_generation
from askbot.store.index import IndexReader, IndexWriter
from askbot.store.lock import WriterLock
from askbot.store.segment import file_digest
from askbot.types import Article, Filters, Passage

DIM = 8
WORDS = [
    "خبر",
    "نفط",
    "بغداد",
    "طهران",
    "ذهب",
    "سوق",
    "منتخب",
    "مباراة",
    "وزير",
    "حكومة",
    "مطر",
    "شتاء",
    "مدينة",
    "شارع",
    "محضر",
    "اتفاق",
]


def manifest() -> Manifest:
    return Manifest(model_id="m", model_fingerprint="f", dim=DIM, normalizer_version="1", chunking="c")


def article(n: int, text: str | None = None) -> tuple[Article, list[Passage], np.ndarray]:
    rng = np.random.default_rng(n)
    body = text or (
        " ".join(rng.choice(WORDS, 6)) + f" رقم {n}. وفيه جملة ثانية عن " + " ".join(rng.choice(WORDS, 4)) + "."
    )
    art = Article(id=f"a{n}", title=f"عنوان {n}", text=body, source=f"s{n % 3}", published=f"2018-0{1 + n % 9}-01")
    half = body.index(".") + 1
    passages = [Passage(art.id, 0, 0, half, body[:half]), Passage(art.id, 1, half + 1, len(body), body[half + 1 :])]
    vecs = rng.normal(size=(2, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return art, passages, vecs


def with_terms(item: tuple[Article, list[Passage], np.ndarray]) -> tuple[object, ...]:
    art, passages, vecs = item
    return art, passages, vecs, [lexical_terms(p.text) for p in passages]


def write(index_dir, *numbers, remove=()):
    with IndexWriter(index_dir, manifest()) as w:
        for n in numbers:
            w.upsert(*with_terms(article(n)))
        w.remove(list(remove))
        return w.commit()


def segments(index_dir) -> list[str]:
    return [str(s["name"]) for s in Manifest.load(current_generation(index_dir)).segments]


def test_empty_dir_has_no_generation(tmp_path):
    assert current_generation(tmp_path) is None
    assert IndexReader.open(tmp_path) is None


def test_a_commit_writes_one_segment_and_deletions_as_tombstones(tmp_path):
    write(tmp_path, 1, 2, 3)
    first = segments(tmp_path)
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / first[0]).rglob("*") if p.is_file()}
    info = write(tmp_path, 4, remove=["a1"])
    assert (info.articles, info.passages, info.segments) == (3, 6, 2)
    assert segments(tmp_path)[0] == first[0]  # the old segment is not rewritten ...
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / first[0]).rglob("*") if p.is_file()} == before
    assert Manifest.load(current_generation(tmp_path)).segments[0]["dead"] == ["a1"]  # ... a1 is a tombstone
    reader = IndexReader.open(tmp_path)
    assert set(reader.content_hashes()) == {"a2", "a3", "a4"} and reader.verify() == []
    assert reader.passages([0, 1]) == {}  # a1's passages are gone
    assert sorted(reader.allowed_ids(Filters(since="2000")).tolist()) == [2, 3, 4, 5, 6, 7]
    _, ids = reader.dense_search(article(1)[2][0], 8)
    assert not {0, 1} & set(ids.tolist())


def test_a_segment_whose_articles_are_all_deleted_is_dropped(tmp_path):
    write(tmp_path, 1)
    write(tmp_path, 2)
    write(tmp_path, 3, remove=["a1"])
    assert len(segments(tmp_path)) == 2 and IndexReader.open(tmp_path).info().articles == 2


def rankings(reader: IndexReader, queries: list[str]) -> list[object]:
    """Everything a question sees, with passages named by (article, ordinal): pids differ between indexes."""
    ids = reader.allowed_ids(Filters(since="0")) if reader.info().passages else np.empty(0, np.int64)
    name = {pid: (p.article_id, p.ordinal) for pid, p in reader.passages(ids.tolist()).items()}
    out: list[object] = []

    def ranked(scores: np.ndarray, pids: np.ndarray) -> list[tuple[float, tuple[str, int]]]:
        # every result (k covers the index), ties ordered by name: the two indexes number passages differently
        return sorted((-float(s), name[int(p)]) for s, p in zip(scores, pids, strict=True))

    for n, query in enumerate(queries):
        terms = lexical_terms(query)
        out.append(ranked(*reader.lexical_search(terms, 1000)))
        out.append(sorted(reader.idf(terms).items()))
        vector = np.random.default_rng(100 + n).normal(size=DIM).astype(np.float32)
        out.append(ranked(*reader.dense_search(vector, 1000)))
        out.append(ranked(*reader.lexical_search(terms, 1000, reader.allowed_ids(Filters(source="s1")))))
    return out


QUERIES = ["نفط بغداد", "المنتخب في المباراة", "وزير الحكومة والاتفاق", "شارع المدينة في الشتاء", "رقم 7"]


def test_a_segmented_index_ranks_exactly_like_one_segment(tmp_path):
    """Scores equal, not close: BM25's N, mean length and document frequencies are summed over live segments.
    (Tied passages rank by passage id, and the two indexes number the re-written articles differently.)"""
    parts = tmp_path / "parts"
    for batch in range(6):  # six commits, with updates and deletions across them
        with IndexWriter(parts, manifest()) as w:
            for n in range(batch * 5, batch * 5 + 5):
                w.upsert(*with_terms(article(n)))
            if batch >= 2:
                w.upsert(*with_terms(article(batch, f"نص جديد عن النفط في بغداد {batch}. والمنتخب فاز.")))
                w.remove([f"a{batch * 5 - 7}"])
            w.commit()
    segmented = IndexReader.open(parts)
    assert segmented.info().segments >= 5 and segmented.verify() == []
    live = segmented.articles(sorted(segmented.content_hashes()))
    whole = tmp_path / "whole"
    with IndexWriter(whole, manifest()) as w:
        for aid in sorted(live, key=lambda a: int(a[1:])):
            n = int(aid[1:])
            art, passages, vecs = article(n, live[aid].text if live[aid].text != article(n)[0].text else None)
            w.upsert(*with_terms((live[aid], passages, vecs)))
        w.commit()
    single = IndexReader.open(whole)
    assert single.info().segments == 1 and single.info().passages == segmented.info().passages
    assert rankings(segmented, QUERIES) == rankings(single, QUERIES)
    with IndexWriter(parts, manifest()) as w:
        info = w.compact()
    assert info.segments == 1
    assert rankings(IndexReader.open(parts), QUERIES) == rankings(single, QUERIES)


def test_too_many_segments_merge_the_smallest_half(tmp_path, monkeypatch):
    monkeypatch.setattr(IndexWriter, "max_segments", 4)
    write(tmp_path, *range(20))  # one big segment
    for n in range(20, 25):
        write(tmp_path, n)
    names = segments(tmp_path)
    assert len(names) <= 4 and names[0] == "seg-000001"  # the big one is left alone
    reader = IndexReader.open(tmp_path)
    assert reader.info().articles == 25 and reader.verify() == []
    assert sorted(p.name for p in tmp_path.glob("seg-*")) == sorted(names + segments_of_previous(tmp_path))


def segments_of_previous(index_dir) -> list[str]:
    current = current_generation(index_dir)
    older = sorted(p for p in index_dir.glob("gen-*") if p != current)
    kept = [str(s["name"]) for p in older for s in Manifest.load(p).segments]
    return sorted(set(kept) - set(segments(index_dir)))


def test_abandoned_write_leaves_previous_index_whole(tmp_path):
    write(tmp_path, 1)
    before = current_generation(tmp_path)
    with pytest.raises(RuntimeError), IndexWriter(tmp_path, manifest()) as w:
        w.upsert(*with_terms(article(2)))
        raise RuntimeError("crash before commit")
    assert current_generation(tmp_path) == before
    reader = IndexReader.open(tmp_path)
    assert reader.info().articles == 1 and reader.verify() == []
    assert [p.name for p in tmp_path.glob("gen-*")] == [before.name]
    assert [p.name for p in tmp_path.glob("seg-*")] == segments(tmp_path)  # the abandoned segment is gone


def test_second_writer_is_refused_with_pid(tmp_path):
    with WriterLock(tmp_path), pytest.raises(IndexBusy, match=r"PID \d+"), WriterLock(tmp_path):
        pass


def test_truncated_faiss_file_is_refused_before_faiss_reads_it(tmp_path):
    write(tmp_path, 1, 2)
    seg = tmp_path / segments(tmp_path)[0]
    data = (seg / "dense.faiss").read_bytes()
    (seg / "dense.faiss").write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorrupt, match="truncated"):
        IndexReader.open(tmp_path)
    (seg / "dense.faiss").write_bytes(b"garbage!" * 10)
    with pytest.raises(IndexCorrupt):
        IndexReader.open(tmp_path)


def test_garbled_file_fails_verify(tmp_path):
    write(tmp_path, 1, 2)
    path = tmp_path / segments(tmp_path)[0] / "lexical" / "pids.npy"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    problems = IndexReader.open(tmp_path).verify()
    assert any("checksum" in p for p in problems)


def test_a_garbled_tombstone_is_caught(tmp_path):
    write(tmp_path, 1, 2)
    write(tmp_path, 3, remove=["a1"])
    path = current_generation(tmp_path) / "manifest.json"
    path.write_text(path.read_text(encoding="utf-8").replace('"a1"', '"a2"'), encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="garbled"):
        IndexReader.open(tmp_path)


def test_bad_current_pointer_is_a_clear_error(tmp_path):
    write(tmp_path, 1)
    (tmp_path / "CURRENT").write_text("../../etc")
    with pytest.raises(IndexCorrupt, match="not a generation"):
        current_generation(tmp_path)


def test_manifest_mismatch_says_how_to_rebuild(tmp_path):
    m = manifest()
    with pytest.raises(IndexMismatch, match="askbot index --rebuild"):
        m.refuse_if_incompatible("other-model", "f", "1", tmp_path)
    with pytest.raises(IndexMismatch, match="askbot index --relex"):
        m.refuse_if_incompatible("m", "f", "2", tmp_path)  # text rules only: re-tokenize, keep vectors
    m.refuse_if_incompatible("m", "f", None, tmp_path)  # None: any text rules
    m.refuse_if_incompatible("m", "f", "1", tmp_path)


def test_lexical_search_finds_spelling_variants(tmp_path):
    with IndexWriter(tmp_path, manifest()) as w:
        w.upsert(*with_terms(article(1, "وقّع المستشار المحضر الأمني. ثم عاد إلى بغداد.")))
        w.upsert(*with_terms(article(2, "ارتفعت أسعار النفط اليوم. وتراجع الذهب قليلا.")))
        w.commit()
    reader = IndexReader.open(tmp_path)
    scores, pids = reader.lexical_search(lexical_terms("من وَقَّعَ المحضر الامني؟"), 5)
    assert list(pids[:1]) == [0]
    scores, pids = reader.lexical_search(lexical_terms("اسعار النفط"), 5, allowed=np.asarray([0, 1]))
    assert len(pids) == 0


# ---- the first local format (one generation folder holding every file) ----------------------------------
def make_first_format(index_dir, *numbers) -> None:
    """An index as askbot wrote it before segments: CURRENT -> gen-000001 holding meta.sqlite, dense.faiss and
    lexical/ with BM25 *weights* (bm25/), and a format-1 manifest with their checksums."""
    scratch = index_dir.parent / "scratch"
    write(scratch, *numbers)
    seg = scratch / segments(scratch)[0]
    gen = index_dir / "gen-000001"
    shutil.copytree(seg, gen)
    lexical = gen / "lexical"
    tokens = np.load(lexical / "tokens.npy")
    offsets = np.load(lexical / "offsets.npy")
    vocab = len(json.loads("{}")) or int(tokens.max()) + 1
    shutil.rmtree(lexical / "bm25")
    (lexical / "bm25").mkdir()
    for name, array in zip(bm25.FILES, bm25.score_matrix(tokens, offsets, vocab), strict=True):
        np.save(lexical / "bm25" / f"{name}.csc.index.npy", array)
    params = {"k1": 1.2, "b": 0.75, "method": "lucene", "num_docs": len(offsets) - 1}
    (lexical / "bm25" / "params.index.json").write_text(json.dumps(params))
    m = Manifest.load(seg)
    m.format, m.next_passage_id = 1, 2 * len(numbers)
    files = [gen / "meta.sqlite", gen / "dense.faiss", *sorted(p for p in lexical.rglob("*") if p.is_file())]
    m.files = {str(p.relative_to(gen)): {"bytes": p.stat().st_size, "sha256": file_digest(p)} for p in files}
    m.save(gen)
    (index_dir / "CURRENT").write_text("gen-000001")
    shutil.rmtree(scratch)


def test_a_first_format_index_is_read_as_it_is_and_migrated_by_its_first_write(tmp_path):
    old = tmp_path / "old"
    make_first_format(old, *range(12))
    reader = IndexReader.open(old)
    assert reader.info().segments == 1 and reader.verify() == []
    before = rankings(reader, QUERIES)
    new = tmp_path / "new"
    write(new, *range(12))
    assert before == rankings(IndexReader.open(new), QUERIES)  # the stored weights score as the frequencies do
    with IndexWriter(old, manifest()) as w:
        assert w.statuses([article(3)[0]]) == {"a3": "unchanged"}
        w.upsert(*with_terms(article(12)))
        w.commit()
    migrated = IndexReader.open(old)
    assert migrated.info().segments == 2 and migrated.verify() == [] and migrated.info().articles == 13
    assert Manifest.load(current_generation(old)).format == 2
    write(new, 12)
    assert rankings(migrated, QUERIES) == rankings(IndexReader.open(new), QUERIES)
    assert not (old / "gen-000001").exists() or len(list(old.glob("gen-*"))) <= 2  # swept like any old generation


def test_a_generation_folder_left_without_its_manifest_is_swept_not_kept(tmp_path):
    """A writer killed between creating the generation folder and writing its manifest: the next commit keeps the
    real previous generation for open readers, and removes the empty folder (found by a kill trial)."""
    write(tmp_path, 1)
    first = current_generation(tmp_path)
    (tmp_path / f"gen-{int(first.name[4:]) + 1:06d}").mkdir()
    write(tmp_path, 2)
    assert sorted(p.name for p in tmp_path.glob("gen-*")) == sorted([first.name, current_generation(tmp_path).name])
    assert IndexReader(first).verify() == []
