"""askbot.lexicon: an English question's words looked up among the index's Arabic words, with the real model."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

import askbot
from askbot import asking, lexicon
from askbot.arabic import content_words
from askbot.lexicon import Lexicon
from askbot.retrieval import search


class Counting:
    """The real encoder, counting the words it is asked to encode."""

    def __init__(self, encoder):
        self.encoder, self.fingerprint, self.encoded = encoder, encoder.fingerprint, 0

    def encode_queries(self, texts):
        self.encoded += len(texts)
        return self.encoder.encode_queries(texts)


def targets(reader) -> set[str]:
    """The index words a question word may become (digits are never translated)."""
    return {w for w in reader.words(lexicon.MIN_DF) if not w.isdigit()}


def test_names_and_words_find_their_arabic(kb, tmp_path):
    words = Lexicon(kb.encoder, tmp_path).translate(kb.reader, "What did Iran and Iraq sign in Baghdad in 2023?")
    assert words[:2] == ["iran", "ايران"] and words[2:4] == ["iraq", "عراق"]
    assert "بغداد" in words and words[-1] == "2023"  # digits stand as they are in Arabic text
    held = targets(kb.reader)
    assert all(w in held for w in words[1:-1:2])


def test_word_vectors_are_cached_and_only_new_words_encoded(kb, index_copy, tmp_path):
    first = Counting(kb.encoder)
    Lexicon(first, tmp_path).translate(kb.reader, "Shamkhani in Baghdad")
    assert first.encoded == len(targets(kb.reader)) + 2
    again = Counting(kb.encoder)
    Lexicon(again, tmp_path).translate(kb.reader, "Shamkhani in Baghdad")
    assert again.encoded == 2  # the question's two words; every index word came from the cache

    grown = askbot.open(index_copy)
    text = "أعلنت شركة زيلوفار للطاقة الشمسية عن مشروع جديد. " * 4
    articles = [askbot.Article(id=f"z{i}", title="زيلوفار", text=f"{text} خبر رقم {i}.") for i in range(3)]
    grown.add(articles)
    later = Counting(kb.encoder)
    out = Lexicon(later, tmp_path).translate(grown.reader, "Shamkhani in Baghdad")
    new = targets(grown.reader) - targets(kb.reader)
    assert "زيلوفار" in new and later.encoded == len(new) + 2
    assert out[0] == "shamkhani"


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_cache_is_encoded_again(kb, tmp_path, damage):
    path = Lexicon(kb.encoder, tmp_path).path
    assert path is not None
    Lexicon(kb.encoder, tmp_path).prepare(kb.reader)  # a whole cache file
    whole = path.read_bytes()
    path.write_bytes(b"\x00not a zip" * 10 if damage == "garbage" else whole[: len(whole) // 2])
    counting = Counting(kb.encoder)
    words = Lexicon(counting, tmp_path).translate(kb.reader, "Baghdad")
    assert "بغداد" in words and counting.encoded > 2


def test_each_engine_of_a_model_has_its_own_cache(kb, tmp_path):
    other = Counting(kb.encoder)
    other.fingerprint += "+onnx-int8"  # another engine's vectors of the same weights: not to be mixed
    assert Lexicon(other, tmp_path).path != Lexicon(kb.encoder, tmp_path).path


def test_bm25_searches_an_english_question_by_its_translation(kb):
    question = "Who signed the joint security protocol with Shamkhani?"
    assert search(kb.reader, question, None, 5, method="bm25") == []  # no English word is in an Arabic passage
    translated = kb.lexicon.translate(kb.reader, question)
    hits = search(kb.reader, question, None, 5, method="bm25", translated=translated)
    seed = {pid for pid, p in kb.reader.passages([h.passage_id for h in hits]).items() if "شمخاني" in p.text}
    assert hits and hits[0].passage_id in seed
    # every later stage reads the question as its translations: their BM25 and idf
    assert hits[0].lexical is not None and hits[0].lexical > 0
    found = asking.retrieve(kb.reader, kb.encoder, question, depth=10, lexicon=kb.lexicon)
    assert set(found.idf) <= set(translated) and "شمخان" in found.idf and "signed" not in found.idf


def test_arabic_and_persian_questions_are_not_translated(kb, monkeypatch):
    calls = []
    monkeypatch.setattr(Lexicon, "translate", lambda self, reader, q: calls.append(q) or [])
    kb.ask("من وقع المحضر الامني المشترك مع شمخاني")
    kb.ask("چه کسی صورتجلسه امنیتی مشترک را با شمخانی امضا کرد؟")
    assert calls == []
    kb.ask("Who signed the joint security protocol with Shamkhani?")
    kb.ask("Who signed it?", method="dense")  # dense reads no words
    assert calls == ["Who signed the joint security protocol with Shamkhani?"]


def test_an_english_answer_quotes_the_first_hit_it_was_composed_from(kb):
    question = "Who signed the joint security protocol with Shamkhani?"
    answer = kb.ask(question, k=3)
    hits = kb.asked(question, k=3).hits
    assert answer.found and answer.excerpts[0].passage_id == hits[0].passage_id
    assert np.isfinite(answer.confidence)


def test_warm_up_encodes_the_new_words_before_the_first_question(index_copy):
    grown = askbot.open(index_copy)
    letters = "بتثجحخدذرزسشصضطظعغفقكلمنهوي"
    word = "".join(letters[b % len(letters)] for b in uuid.uuid4().bytes[:7])  # in no cache yet
    grown.add([askbot.Article(id=f"w{i}", title=word, text=f"قال {word} إن الخبر صحيح. " * 3) for i in range(3)])
    grown.warm_up()
    counting = Counting(grown.encoder)
    grown.lexicon.encoder = counting
    grown.ask("What did the minister say?", k=1)
    assert counting.encoded == len(content_words("What did the minister say?"))  # the question's words alone


def test_prepare_for_encodes_only_what_the_question_needs(index_copy, tmp_path):
    grown = askbot.open(index_copy)
    counting = Counting(grown.encoder)
    grown.__dict__["lexicon"] = Lexicon(counting, tmp_path)  # an empty cache of its own
    seen = []
    grown.prepare_for("من وقع المحضر الامني المشترك مع شمخاني", progress=lambda done, total: seen.append(total))
    grown.prepare_for("Who signed it?", method="dense", progress=lambda done, total: seen.append(total))
    assert counting.encoded == 0 and seen == []  # Arabic, or dense: no word is translated
    grown.prepare_for("Who signed it?", progress=lambda done, total: seen.append((done, total)))
    assert counting.encoded == len(targets(grown.reader)) and seen[-1] == (counting.encoded, counting.encoded)
