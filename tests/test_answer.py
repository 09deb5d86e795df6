"""Answers a reader can trust, stage by stage: what a question asks, the marked sentence and answer, confidence."""

from __future__ import annotations

import pytest

from askbot import answer, asks
from askbot.arabic import content_words
from askbot.types import Article, Hit, Passage, Retrieved


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("متى وصل شمخاني إلى بغداد؟", asks.DATE),
        ("في أي عام تأسست الشركة؟", asks.DATE),
        ("When was Apple founded?", asks.DATE),
        ("كم عدد حالات الانفلونزا في الاردن في فبراير؟", asks.NUMBER),
        ("ما عدد سكان القاهرة؟", asks.NUMBER),
        ("How many people live in Cairo?", asks.NUMBER),
        ("چند نفر کشته شدند؟", asks.NUMBER),
        ("من وقّع المحضر الأمني المشترك مع شمخاني؟", asks.PERSON),
        ("Who won the Super Bowl?", asks.PERSON),
        ("أين يقع المتحف؟", asks.PLACE),
        ("ما هي عاصمة أستراليا؟", asks.OTHER),
    ],
)
def test_what_a_question_asks_for(question, kind):
    assert asks.asked_type(question) == kind


def test_numbers_the_question_states_do_not_count_as_answers():
    assert asks.holds("سجلت 1200 حالة في فبراير", "كم حالة سجلت في فبراير؟").number
    assert not asks.holds("في عام 2018 سجلت حالات كثيرة", "كم حالة سجلت في عام 2018؟").number
    assert asks.holds("وقع الحادث في مارس 2018", "متى وقع الحادث؟").date


def retrieved(text: str, pid: int = 1, dense: float = 0.85, article_id: str = "a1") -> Retrieved:
    article = Article(id=article_id, title="عنوان", text=text, source="المصدر", published="2018-02-20")
    return Retrieved(Hit(pid, 1.0, dense, 5.0), Passage(article_id, 0, 0, len(text), text), article)


NEWS = [
    "فاز الفريق المحلي على ضيفه بهدفين نظيفين في المباراة النهائية للبطولة.",
    "ارتفعت أسعار النفط في الأسواق العالمية بعد قرار خفض الإنتاج.",
    "افتتح متحف جديد للفنون الإسلامية أبوابه للزوار في العاصمة.",
    "أعلنت الشركة عن هاتف جديد بكاميرا أفضل وبطارية أطول عمرا.",
    "هطلت أمطار غزيرة على المناطق الساحلية وأغلقت عدة طرق رئيسية.",
    "وقع البلدان اتفاقية للتعاون التجاري خلال زيارة رسمية.",
    "أصدر الكاتب روايته الثالثة التي تدور أحداثها في القرن الماضي.",
    "انطلق المهرجان السينمائي بمشاركة أفلام من أربعين دولة.",
    "ناقش البرلمان مشروع قانون الموازنة العامة للعام المقبل.",
]


def ranked(first: Retrieved, dense: float) -> list[Retrieved]:
    """``first`` ahead of nine unrelated passages a little farther from the question, as a search returns them."""
    return [first] + [retrieved(t, n + 2, dense - 0.02 - 0.002 * n, f"b{n}") for n, t in enumerate(NEWS)]


FLU = (
    "تحدثت وزارة الصحة عن حالات الانفلونزا في الاردن خلال شهر فبراير الماضي. "
    "وبلغ عدد حالات الانفلونزا في الاردن 1200 حالة في شهر فبراير، بحسب بيان رسمي. "
    "ودعت الوزارة المواطنين إلى أخذ اللقاح."
)


def idf_of(question: str) -> dict[str, float]:
    return dict.fromkeys(content_words(question), 2.0)


def test_of_two_sentences_with_the_question_words_the_one_holding_the_number_asked_for_is_marked():
    question = "كم عدد حالات الانفلونزا في الاردن في فبراير؟"
    a = answer.compose(question, ranked(retrieved(FLU), 0.86), idf_of(question), k=1, corpus_passages=1000)
    assert a.found
    top = a.excerpts[0]
    assert "1200" in top.sentence
    assert FLU[top.answer_start : top.answer_end] == "1200"  # the answer itself, marked inside the sentence


def test_no_answer_span_when_none_stands_out():
    question = "من أعلن عن حالات الانفلونزا؟"
    top = answer.build_excerpts([retrieved(FLU)], idf_of(question), question)[0][0]
    assert (top.answer_start, top.answer_end) == (-1, -1)


def test_confidence_does_not_depend_on_how_many_excerpts_are_asked_for():
    question = "كم عدد حالات الانفلونزا في الاردن في فبراير؟"
    hits = ranked(retrieved(FLU), 0.86)
    answers = [answer.compose(question, hits, idf_of(question), k=k, corpus_passages=1000) for k in range(1, 6)]
    assert len({(a.found, a.confidence) for a in answers}) == 1
    assert [len(a.excerpts) for a in answers] == [1, 2, 3, 4, 5]
