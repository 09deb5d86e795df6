"""The on-disk index: generations, atomic commits, removal, integrity checks (real FAISS + SQLite)."""

import numpy as np
import pytest

from askbot.arabic import lexical_terms
from askbot.store import IndexBusy, IndexCorrupt, IndexMismatch, Manifest, current_generation
from askbot.store.index import IndexReader, IndexWriter
from askbot.store.lock import WriterLock
from askbot.types import Article, Passage

DIM = 8


def manifest() -> Manifest:
    return Manifest(model_id="m", model_fingerprint="f", dim=DIM, normalizer_version="1", chunking="c")


def article(n: int, text: str | None = None) -> tuple[Article, list[Passage], np.ndarray]:
    body = text or f"خبر رقم {n}. وفيه جملة ثانية عن الموضوع {n}."
    art = Article(id=f"a{n}", title=f"عنوان {n}", text=body, source="src", published=f"2018-0{1 + n % 9}-01")
    half = body.index(".") + 1
    passages = [Passage(art.id, 0, 0, half, body[:half]), Passage(art.id, 1, half + 1, len(body), body[half + 1 :])]
    rng = np.random.default_rng(n)
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


def test_empty_dir_has_no_generation(tmp_path):
    assert current_generation(tmp_path) is None
    assert IndexReader.open(tmp_path) is None


def test_write_read_and_verify(tmp_path):
    m = write(tmp_path, 1, 2, 3)
    assert (m.articles, m.passages) == (3, 6)
    reader = IndexReader.open(tmp_path)
    assert reader.dense.ntotal == 6
    assert reader.verify() == []
    _, _, vecs = article(2)
    scores, ids = reader.dense.search(vecs[:1], 1)
    assert ids[0][0] == 2 and scores[0][0] == pytest.approx(1.0, abs=1e-5)  # a2's first passage has pid 2


def test_update_replaces_and_ids_stay_stable(tmp_path):
    write(tmp_path, 1, 2)
    write(tmp_path, 3, remove=["a1"])
    reader = IndexReader.open(tmp_path)
    assert reader.verify() == []
    ids = sorted(int(i) for i in reader.lexical.pids)
    assert ids == [2, 3, 4, 5]  # a2 kept pids 2,3; a3 got fresh ids 4,5
    assert reader.manifest.articles == 2


def test_abandoned_write_leaves_previous_index_whole(tmp_path):
    write(tmp_path, 1)
    before = current_generation(tmp_path)
    with pytest.raises(RuntimeError), IndexWriter(tmp_path, manifest()) as w:
        w.upsert(*with_terms(article(2)))
        raise RuntimeError("crash before commit")
    assert current_generation(tmp_path) == before
    reader = IndexReader.open(tmp_path)
    assert reader.manifest.articles == 1 and reader.verify() == []
    assert [p.name for p in tmp_path.glob("gen-*")] == [before.name]


def test_second_writer_is_refused_with_pid(tmp_path):
    with WriterLock(tmp_path), pytest.raises(IndexBusy, match=r"PID \d+"), WriterLock(tmp_path):
        pass


def test_truncated_faiss_file_is_refused_before_faiss_reads_it(tmp_path):
    write(tmp_path, 1, 2)
    gen = current_generation(tmp_path)
    data = (gen / "dense.faiss").read_bytes()
    (gen / "dense.faiss").write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorrupt, match="truncated"):
        IndexReader.open(tmp_path)
    (gen / "dense.faiss").write_bytes(b"garbage!" * 10)
    with pytest.raises(IndexCorrupt):
        IndexReader.open(tmp_path)


def test_garbled_file_fails_verify(tmp_path):
    write(tmp_path, 1, 2)
    gen = current_generation(tmp_path)
    path = gen / "lexical" / "pids.npy"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    problems = IndexReader(gen).verify()
    assert any("checksum" in p for p in problems)


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
