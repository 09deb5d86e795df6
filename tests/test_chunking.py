"""Chunking: whole sentences, budgets kept, overlap, exact offsets."""

from hypothesis import given, settings
from hypothesis import strategies as st

from askbot.chunking import chunk_article
from askbot.types import Article

SENTENCES = [
    "وقّع امين المجلس الاعلى للأمن القومي الايراني علي شمخاني المحضر الأمني.",
    "شمخاني التقى بمستشار الامن القومي العراقي قاسم الاعرجي.",
    "وتعالج الاتفاقية الامنية التحدي الامني الناجم عن نشاطات الجماعات المسلحة.",
    "ارتفع السعر إلى 3.5 دولار للبرميل؟",
    "The meeting took place in Baghdad!",
]


def words(text: str) -> int:
    return len(text.split())


def make(text: str) -> Article:
    return Article(id="a1", title="t", text=text)


def test_passages_quote_the_article_exactly_and_cover_it():
    text = "\n\n".join(SENTENCES * 4)
    passages = chunk_article(make(text), max_tokens=25, overlap=1, count_tokens=words)
    assert len(passages) > 3
    for p in passages:
        assert text[p.start : p.end] == p.text
        assert words(p.text) <= 25 or p.text.count(".") == 0
    assert passages[0].start == 0 and passages[-1].end == len(text)
    # consecutive passages overlap by one sentence (the next starts inside the previous)
    for a, b in zip(passages, passages[1:], strict=False):
        assert a.start < b.start < a.end


def test_no_overlap_tiles_the_text():
    text = " ".join(SENTENCES * 3)
    passages = chunk_article(make(text), max_tokens=20, overlap=0, count_tokens=words)
    for a, b in zip(passages, passages[1:], strict=False):
        assert a.end <= b.start
        assert text[a.end : b.start].strip() == ""


def test_overlong_sentence_is_cut_at_words():
    text = " ".join(["كلمة"] * 100) + "."
    passages = chunk_article(make(text), max_tokens=10, count_tokens=words)
    assert all(words(p.text) <= 10 for p in passages)
    assert "".join(p.text.replace(" ", "") for p in passages).count("كلمة") >= 100


def test_empty_article_has_no_passages():
    assert chunk_article(make("   \n "), count_tokens=words) == []


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=600), st.integers(3, 40), st.integers(0, 2))
def test_any_text_maps_back_and_loses_nothing(text, budget, overlap):
    passages = chunk_article(make(text), max_tokens=budget, overlap=overlap, count_tokens=words)
    covered = set()
    for p in passages:
        assert text[p.start : p.end] == p.text
        covered.update(range(p.start, p.end))
    assert all(i in covered for i, c in enumerate(text) if not c.isspace())


def test_overlong_sentence_is_cut_at_clauses_into_balanced_pieces():
    clause = "وقال المتحدث إن الوفد سيزور العاصمة الأسبوع المقبل لبحث ملفات التعاون الاقتصادي،"
    text = " ".join([clause] * 5) + " التي تتطلب تركيزا عاليا."  # one 66-word sentence, a short tail at its end
    passages = chunk_article(make(text), max_tokens=40, overlap=1, count_tokens=words)
    assert all(words(p.text) <= 40 for p in passages)
    assert all(words(p.text) >= 8 for p in passages)  # no orphan like «التي تتطلب تركيزا عاليا.»
    assert passages[-1].text.endswith("التي تتطلب تركيزا عاليا.")
    cuts = [text[: p.end] for p in passages[:-1]]
    assert all(c.endswith("،") for c in cuts)  # cut after a clause mark, not mid-clause


def test_no_passage_is_a_short_fragment_unless_the_article_is():
    half = "وتحدث الوزير طويلا عن خطط الحكومة للعام المقبل في مؤتمر صحفي عقده في العاصمة"  # 14 words
    text = f"{half}، {half}. {half}، {half}. وانتهى المؤتمر."  # 28 + 28 + 2 words: the tail fits no neighbour
    passages = chunk_article(make(text), max_tokens=29, overlap=1, count_tokens=words)
    assert all(words(p.text) >= 8 for p in passages) and passages[-1].text.endswith("وانتهى المؤتمر.")
    assert chunk_article(make("خبر قصير."), count_tokens=words)[0].text == "خبر قصير."
