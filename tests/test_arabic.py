"""Arabic rules: normalization, sentence spans, tokens, stemming, script detection."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from askbot import arabic
from askbot.arabic import normalize, script_of, sentence_spans, stem, tokens

# Any code point, lone surrogates included, and a dense mix of the characters the rules touch.
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)
RULE_TEXT = st.text(
    st.sampled_from(
        list("اأإآٱةىيئؤءکیپ\u064b\u0651\u0640\u0654\u0653\u0670\u200c\u200b\u202b ٠١۲٫.!?؟؛…\n\t\"')»aAeE\u0301İ3د")
        + ["\u212a", "\ufe70", "\ufdf2", "ﻻ"]
    ),
    max_size=60,
)
SOME_TEXT = st.one_of(ANY_TEXT, RULE_TEXT, st.text())

SEED_TEXT = (
    "وقّع امين المجلس الاعلى للأمن القومي الايراني علي شمخاني ومستشار الأمن القومي قاسم الأعرجي، "
    "المحضر الأمني المشترك بين البلدين.\n\nالعالم - العراق\n\nشمخاني التقى بمستشار الامن القومي العراقي. "
    "وتعالج الاتفاقية الامنية التحدي الامني."
)


@pytest.mark.parametrize(
    "variants",
    [
        ("أحمد", "احمد", "إحمد", "آحمد", "ٱحمد"),
        ("مدرسة", "مدرسه"),
        ("مستشفى", "مستشفي"),
        ("وَقَّعَ", "وقع", "وقّع", "وقـــع"),
        ("٢٠٢٣", "2023", "۲۰۲۳"),
        ("کتاب", "كتاب"),
        ("مسؤول", "مسوول"),
        ("رئيس", "رييس"),
        ("الی", "الى", "الي"),
        ("می\u200cخواهم", "میخواهم"),
        ("Hello World", "hello   world", " HELLO\u00a0WORLD "),
        ("٣٫٥", "3.5"),
        ("ﻻ", "لا"),
    ],
)
def test_variants_normalize_equal(variants: tuple[str, ...]) -> None:
    assert len({normalize(v) for v in variants}) == 1


def test_normalize_details() -> None:
    assert normalize("سماء") == "سماء"  # standalone hamza is kept
    assert normalize("a\u200bb\u202bc\ufeffd") == "abcd"  # zero-width and bidi controls vanish
    assert normalize("  one\n\ttwo  ") == "one two"
    assert normalize("") == ""
    assert isinstance(arabic.NORMALIZER_VERSION, str)


@settings(max_examples=400)
@given(SOME_TEXT)
def test_normalize_idempotent_and_total(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert once == once.strip()
    assert "  " not in once


def _sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text)]


@settings(max_examples=400)
@given(SOME_TEXT)
def test_spans_cover_every_non_space_character_once(text: str) -> None:
    covered = [0] * len(text)
    previous_end = 0
    for start, end in sentence_spans(text):
        assert previous_end <= start < end <= len(text)
        assert not text[start].isspace() and not text[end - 1].isspace()
        previous_end = end
        for i in range(start, end):
            covered[i] += 1
    assert all(count == 1 or (count == 0 and ch.isspace()) for count, ch in zip(covered, text, strict=True))


def test_spans_split_arabic_punctuation_and_newlines() -> None:
    text = "هل عاد؟ نعم؛ عاد. ثم غادر… وقال: «لن أعود!» وانتهى\nسطر جديد"
    assert _sentences(text) == ["هل عاد؟", "نعم؛", "عاد.", "ثم غادر…", "وقال: «لن أعود!»", "وانتهى", "سطر جديد"]


def test_spans_of_the_seed_text() -> None:
    assert _sentences(SEED_TEXT) == [
        SEED_TEXT[: SEED_TEXT.index("البلدين.") + len("البلدين.")],
        "العالم - العراق",
        "شمخاني التقى بمستشار الامن القومي العراقي.",
        "وتعالج الاتفاقية الامنية التحدي الامني.",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "بلغ النمو 3.5 بالمئة هذا العام.",
        "بلغ النمو ٣٫٥ بالمئة هذا العام.",
        "بلغ النمو 3,5 بالمئة هذا العام.",
        "قال د. أحمد إن الوضع مستقر.",
        "حاضر أ. محمد في الجامعة.",
        "وصل أ.د. خالد إلى بغداد.",
        "The U.S. economy grew.",
        "Mr. Smith met Dr. Jones at noon.",
        "Apples, pears, etc. are sold here.",
        "See https://example.com/a.b?c=1 and mail info@alalam.ir now.",
        "It was approx. five miles.",
    ],
)
def test_spans_do_not_split_numbers_abbreviations_urls(text: str) -> None:
    assert _sentences(text) == [text]


def test_spans_keep_closing_quotes_and_brackets() -> None:
    text = 'قال: "انتهى الأمر." (وهذا مؤكد.) ثم خرج.'
    assert _sentences(text) == ['قال: "انتهى الأمر."', "(وهذا مؤكد.)", "ثم خرج."]


def test_spans_split_glued_arabic_questions_but_not_site_names() -> None:
    assert _sentences("هل انتهى الاجتماع؟نعم انتهى") == ["هل انتهى الاجتماع؟", "نعم انتهى"]
    assert _sentences('"العربية.نت" أجرت اتصالا. ونقلت سي. إن. إن. عنه') == [
        '"العربية.نت" أجرت اتصالا.',
        "ونقلت سي. إن. إن. عنه",
    ]


def test_tokens() -> None:
    assert tokens("كَتَبَ الطالبُ الدرسَ، وقرأ 3.5 صفحة في ٢٠٢٣!") == [
        "كتب", "الطالب", "الدرس", "وقرا", "3.5", "صفحه", "في", "2023",
    ]  # fmt: skip
    assert tokens("Hello, WORLD — #جوني_هاليداي") == ["hello", "world", "جوني", "هاليداي"]
    assert tokens("...!؟") == []


def test_tokens_drop_stopwords_and_stem() -> None:
    assert tokens("ما هي عاصمة العراق؟", drop_stopwords=True) == ["عاصمه", "العراق"]
    assert tokens("What is the capital of Iraq?", drop_stopwords=True) == ["capital", "iraq"]
    assert tokens("والمدرسة بالمدرسة مدرستهم", stem=True) == ["مدرس", "مدرس", "مدرست"]
    assert all(word == normalize(word) for word in arabic.STOPWORDS)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("والمدرسه", "مدرس"),
        ("الايرانيين", "ايران"),
        ("ايراني", "ايران"),
        ("كتابها", "كتاب"),
        ("كتابهما", "كتاب"),
        ("المعلمون", "معلم"),
        ("بغداد", "بغداد"),  # no lone ب/ل/ك prefix stripping: it would cut names
        ("لبن", "لبن"),
        ("امن", "امن"),
        ("news", "news"),
        ("2023", "2023"),
    ],
)
def test_stem(word: str, expected: str) -> None:
    assert stem(word) == expected


@settings(max_examples=200)
@given(SOME_TEXT)
def test_tokens_are_normalized_and_never_empty(text: str) -> None:
    for token in tokens(text, stem=True, drop_stopwords=True):
        assert token and " " not in token


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("ما هي عاصمة العراق؟", "ar"),
        ("قطار تعزيز العلاقات مع دول جوار ايران، يصل الی العراق", "ar"),  # one Persian ی does not make Persian
        ("پایتخت ایران کجاست؟", "fa"),
        ("می‌خواهم به پارک بروم", "fa"),
        ("What is the capital of Iraq?", "latin"),
        ("Где столица?", "other"),
        ("2023 !", "other"),
        ("", "other"),
    ],
)
def test_script_of(text: str, script: str) -> None:
    assert script_of(text) == script


def test_remembered_results_are_fresh_and_equal_to_worked_ones() -> None:
    """Short texts are answered from memory: what a caller does with a returned list never reaches the next
    caller, and a text past the remembered length is worked out alike."""
    sentence = "قال الرئيس إن 1200 حالة سجلت في فبراير. وأضاف أن العدد يرتفع!"
    first = sentence.index(".") + 1
    words = arabic.content_words(sentence)
    words.append("ملوث")
    spans = arabic.sentence_spans(sentence)
    spans.clear()
    assert "ملوث" not in arabic.content_words(sentence)
    assert arabic.sentence_spans(sentence) == [(0, first), (first + 1, len(sentence))]
    n = arabic.CACHED_CHARS // len(sentence) + 2
    long_text = " ".join([sentence] * n)
    assert len(long_text) > arabic.CACHED_CHARS
    assert arabic.content_words(long_text) == arabic.content_words(sentence) * n
    assert len(arabic.sentence_spans(long_text)) == 2 * n
    assert arabic.normalize(long_text) == " ".join([arabic.normalize(sentence)] * n)
