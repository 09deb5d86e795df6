"""Questions about time: periods read from Arabic, Persian and English questions, and the hand-checked dated set."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from askbot.retrieval import Filters
from askbot.when import Period, read_period, with_period

DATED = Path(__file__).parent / "data" / "dated_questions.jsonl"
WEDNESDAY = date(2018, 3, 14)


def dated_questions() -> list[dict]:
    return [json.loads(line) for line in DATED.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        ("ماذا حدث اليوم في بغداد؟", "2018-03-14", "2018-03-14"),
        ("أخبار أمس", "2018-03-13", "2018-03-13"),
        ("ما أخبار أول أمس؟", "2018-03-12", "2018-03-12"),
        ("ماذا جرى هذا الأسبوع في سوريا", "2018-03-10", "2018-03-14"),  # Arabic weeks start on Saturday
        ("الأسبوع الماضي في العراق", "2018-03-03", "2018-03-09"),
        ("ماذا حدث الشهر الماضي؟", "2018-02-01", "2018-02-28"),
        ("ماذا حدث منذ يومين", "2018-03-12", "2018-03-14"),
        ("ما حدث قبل ثلاثة أيام", "2018-03-11", "2018-03-11"),
        ("خلال الأيام الثلاثة الماضية", "2018-03-11", "2018-03-14"),
        ("أخبار العراق في مارس ٢٠١٨", "2018-03-01", "2018-03-31"),
        ("ما حدث سنة 2018", "2018-01-01", "2018-12-31"),
        ("العام الماضي", "2017-01-01", "2017-12-31"),
        ("في فبراير", "2018-02-01", "2018-02-28"),
        ("في ٥ مارس ٢٠١٨", "2018-03-05", "2018-03-05"),
        ("دیروز در عراق چه شد؟", "2018-03-13", "2018-03-13"),
        ("امروز", "2018-03-14", "2018-03-14"),
        ("هفته گذشته", "2018-03-03", "2018-03-09"),
        ("اخبار ماه گذشته", "2018-02-01", "2018-02-28"),
        ("What happened today?", "2018-03-14", "2018-03-14"),
        ("news from yesterday", "2018-03-13", "2018-03-13"),
        ("last week in Iraq", "2018-03-05", "2018-03-11"),  # English weeks start on Monday
        ("in March 2018", "2018-03-01", "2018-03-31"),
        ("March 5, 2018 Iraq", "2018-03-05", "2018-03-05"),
        ("over the last 3 days", "2018-03-11", "2018-03-14"),
        ("3 days ago", "2018-03-11", "2018-03-11"),
        ("on 2018-02-03", "2018-02-03", "2018-02-03"),
    ],
)
def test_periods_are_read_against_the_time_of_asking(question: str, since: str, until: str) -> None:
    period = read_period(question, WEDNESDAY)
    assert period is not None and (period.since, period.until) == (since, until)
    assert not period.recency


@pytest.mark.parametrize(
    "question",
    ["ما هي عاصمة العراق؟", "What may happen in Iraq?", "ما دور الأب في الأسرة", "the day Trump came", "كم عمره؟"],
)
def test_questions_without_time_have_no_period(question: str) -> None:
    assert read_period(question, WEDNESDAY) is None


@pytest.mark.parametrize(
    ("question", "rest"),
    [("آخر أخبار العراق", "العراق"), ("latest on Syria", "Syria"), ("آخرین اخبار ایران", "ایران")],
)
def test_latest_news_asks_for_the_newest(question: str, rest: str) -> None:
    period = read_period(question, WEDNESDAY)
    assert period == Period(None, None, "الأحدث أولاً", "newest first", True, rest)


def test_labels_say_the_period_in_arabic_digits_and_in_english() -> None:
    week = read_period("ماذا حدث الأسبوع الماضي؟", date(2018, 3, 14))
    assert week is not None and (week.label_ar, week.label_en) == ("من ٣ إلى ٩ مارس ٢٠١٨", "3–9 March 2018")
    month = read_period("in March 2018", datetime(2018, 5, 1, 12, 0))
    assert month is not None and (month.label_ar, month.label_en) == ("مارس ٢٠١٨", "March 2018")
    across = read_period("منذ أسبوعين", WEDNESDAY)
    assert across is not None and across.label_ar == "من ٢٨ فبراير إلى ١٤ مارس ٢٠١٨"


def test_time_words_leave_the_question_for_retrieval() -> None:
    period = read_period("ماذا حدث اليوم في بغداد؟", WEDNESDAY)
    assert period is not None and period.question == "ماذا حدث في بغداد؟"
    alone = read_period("أمس", WEDNESDAY)
    assert alone is not None and alone.question == "أمس"  # nothing else to search for: the question stays


def test_an_impossible_day_falls_back_to_its_month() -> None:
    period = read_period("في 31 فبراير 2018", WEDNESDAY)
    assert period is not None and (period.since, period.until) == ("2018-02-01", "2018-02-28")


def test_explicit_filters_win_over_the_period() -> None:
    period = read_period("أخبار أمس", WEDNESDAY)
    assert with_period(None, period) == Filters(since="2018-03-13", until="2018-03-13")
    assert with_period(Filters(source="bbc"), period) == Filters(source="bbc", since="2018-03-13", until="2018-03-13")
    assert with_period(Filters(since="2018-01-01"), period) == Filters(since="2018-01-01")
    assert with_period(Filters(source="bbc"), None) == Filters(source="bbc")


def test_contains_compares_dates_of_any_precision() -> None:
    period = read_period("in March 2018", WEDNESDAY)
    assert period is not None
    assert (
        period.contains("2018-03-31T23:59:00+04:00") and not period.contains("2018-04-01") and not period.contains("")
    )


def test_the_hand_checked_set_names_the_periods_read() -> None:
    rows = dated_questions()
    assert len(rows) >= 30
    for row in rows:
        period = read_period(row["question"], date.fromisoformat(row["as_of"]))
        assert period is not None, row["question"]
        assert (period.since, period.recency) == (row["since"], row["recency"]), row["question"]
        if not row["recency"]:
            assert period.until == row["until"], row["question"]


def score_dated(kb, rows: list[dict]) -> tuple[float, float, list[str]]:  # noqa: ANN001
    """(share whose first excerpt is within the right period — the expected newest for "latest" questions —,
    share with the expected article among the excerpts, the questions missed)."""
    within = found = 0
    missed = []
    for row in rows:
        answer = kb.ask(row["question"], as_of=date.fromisoformat(row["as_of"]))
        ids = [e.citation.article_id for e in answer.excerpts]
        first = answer.excerpts[0].citation if answer.excerpts else None
        expected = Period(row["since"], row["until"], "", "")
        ok = first is not None and (
            first.article_id == row["answer_id"] if row["recency"] else expected.contains(first.published)
        )
        within += ok
        found += row["answer_id"] in ids
        if not ok:
            missed.append(row["question"])
    return within / len(rows), found / len(rows), missed


@pytest.mark.slow
def test_dated_questions_are_answered_within_their_period(sample_index: Path, tmp_path: Path) -> None:
    import askbot

    kb = askbot.open(shutil.copytree(sample_index, tmp_path / "vectors"))
    within, found, missed = score_dated(kb, dated_questions())
    print(f"dated questions: {within:.1%} first excerpt within the period, {found:.1%} expected article shown")
    assert within >= 0.9, missed
    answer = kb.ask("ما أخبار محمد صلاح الشهر الماضي؟", as_of=date(2018, 5, 2))
    assert "أبريل ٢٠١٨" in answer.message and "April 2018" in answer.message


def test_a_period_whose_articles_do_not_answer_is_not_called_empty(kb) -> None:
    """19 March 2023 holds the seed article; a question it does not answer is answered from every date, and the
    message says that nothing there answers (not that there are no articles), each note on a line of its own."""
    answer = kb.ask("ماذا حدث أمس على سطح المريخ؟", as_of=date(2023, 3, 20))
    lines = answer.message.splitlines()
    assert lines[0] == (
        "لا إجابة في مقالات الفترة ١٩ مارس ٢٠٢٣؛ هذه أقرب النتائج من كل التواريخ. / "
        "No answer among the articles from 19 March 2023: best matches from any date."
    )
    assert "لا مقالات" not in answer.message
    assert not answer.found and lines[1].endswith("Not found in the indexed articles.")
