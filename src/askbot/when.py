"""Questions about time: the period a question means ("أمس", "الأسبوع الماضي", "في مارس ٢٠١٨", "last week",
"دیروز") read against the time of asking, and a wish for the newest news ("آخر أخبار …", "latest on …").

Pure functions: ``read_period(question, now) -> Period | None``; ``with_period(filters, period)`` turns it into
``retrieval.Filters``. Weeks start on Saturday for Arabic and Persian questions, on Monday for English ones.
Month names are the ones ``ingest/dates.py`` reads in article dates, plus Persian and English spellings.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from askbot.arabic import normalize, script_of
from askbot.ingest.dates import _MONTHS as _DATE_MONTHS
from askbot.retrieval import Filters
from askbot.types import Hit

_PERSIAN_MONTHS = {
    "ژانویه": 1,
    "فوریه": 2,
    "مارس": 3,
    "اوریل": 4,
    "مه": 5,
    "مي": 5,
    "ژوين": 6,
    "ژوييه": 7,
    "اوت": 8,
    "سپتامبر": 9,
    "اكتبر": 10,
    "نوامبر": 11,
    "دسامبر": 12,
}  # fmt: skip  (normalized spellings: آوریل -> اوريل, ژوئن -> ژوين)
_MONTHS = {normalize(k): v for k, v in (_DATE_MONTHS | _PERSIAN_MONTHS).items()} | {"sept": 9}
_MONTH = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
_AR_MONTH_NAMES = ["", "يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو", "يوليو", "أغسطس", "سبتمبر", "أكتوبر",
                   "نوفمبر", "ديسمبر"]  # fmt: skip
_NUMBERS = {
    "واحد": 1, "واحده": 1, "اثنين": 2, "اثنان": 2, "ثلاثه": 3, "ثلاث": 3, "اربعه": 4, "اربع": 4, "خمسه": 5,
    "خمس": 5, "سته": 6, "ست": 6, "سبعه": 7, "سبع": 7, "ثمانيه": 8, "ثماني": 8, "تسعه": 9, "تسع": 9, "عشره": 10,
    "عشر": 10, "يك": 1, "دو": 2, "سه": 3, "چهار": 4, "پنج": 5, "شش": 6, "هفت": 7, "هشت": 8, "نه": 9, "ده": 10,
    "one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10,
}  # fmt: skip
_NUMBER = r"\d{1,3}|" + "|".join(sorted(_NUMBERS, key=len, reverse=True))
# units: singular|dual|plural (Arabic), Persian, English
_UNITS = {
    "day": r"يوم|يومين|ايام|روز|days?",
    "week": r"اسبوع|اسبوعين|اسابيع|هفته|weeks?",
    "month": r"شهر|شهرين|اشهر|شهور|ماه|months?",
    "year": r"سنه|سنتين|سنوات|عام|عامين|اعوام|سال|years?",
}
_DUAL = re.compile(r"(?:يومين|اسبوعين|شهرين|سنتين|عامين)$")
_PAST = (
    r"(?:الماضي|الماضيه|الماضيين|الماضيتين|السابق|السابقه|المنصرم|المنصرمه|الفايت|الفايته|گذشته|پيش|قبل"
    r"|last|past|previous)"
)
_THIS = r"(?:هذا|هذه|الحالي|الحاليه|الجاري|الجاريه|اين|this|current)"

_IN = r"(?:في\s+|خلال\s+|در\s+|in\s+|during\s+)?"
_ANY_UNIT = "|".join(_UNITS.values())
RECENCY_SCORE_SHARE = 0.5
_WORD = r"(?<![\w])"
_END = r"(?![\w])"

# (pattern over the normalized question, what it means); the first match wins, longer phrases first.
_RULES: list[tuple[str, str]] = [
    (r"(?P<d>\d{4}-\d{2}-\d{2})", "iso"),
    (rf"(?:يوم\s+|روز\s+|on\s+)?"
     rf"(?P<day>\d{{1,2}})\s+(?:من\s+)?(?:ال)?(?P<month>{_MONTH})\s*,?\s*(?P<year>\d{{4}})", "dmy"),
    (rf"(?:on\s+)?(?P<month>{_MONTH})\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s*(?P<year>\d{{4}})", "dmy"),
    (rf"{_IN}(?:شهر\s+|ماه\s+)?(?P<month>{_MONTH})\s*(?:من\s+)?(?:عام|سنه|سال|of)?\s*(?P<year>\d{{4}})", "my"),
    (rf"{_IN}(?:عام|سنه|سال|العام|year)\s+(?P<year>\d{{4}})", "y"),
    (r"(?:في|خلال|در|in|during)\s+(?P<year>(?:19|20)\d{2})", "y"),
    (r"(?:في\s+|خلال\s+)?(?:ال)?(?:ايام|اونه)\s+(?:ال)?اخيره|(?:in\s+)?recent\s+days|these\s+days|recently"
     r"|اخيرا", "days-7"),
    (r"اول\s+(?:من\s+)?امس|پريروز|the\s+day\s+before\s+yesterday", "day-2"),
    (r"(?:يوم\s+)?امس|البارحه|ديروز|yesterday", "day-1"),
    (r"(?:هذا\s+)?اليوم|امروز|today|tonight|this\s+morning", "day-0"),
    (rf"(?:{_THIS}\s+)?(?:ال)?(?:اسبوع|هفته)\s+(?:{_THIS})|{_THIS}\s+(?:ال)?(?:اسبوع|هفته|week)", "week-0"),
    (rf"(?:ال)?(?:اسبوع|هفته)\s+{_PAST}|(?:last|previous)\s+week", "week-1"),
    (rf"(?:{_THIS}\s+)?(?:ال)?(?:شهر|ماه)\s+(?:{_THIS})|{_THIS}\s+(?:ال)?(?:شهر|ماه|month)", "month-0"),
    (rf"(?:ال)?(?:شهر|ماه)\s+{_PAST}|(?:last|previous)\s+month", "month-1"),
    (rf"امسال|(?:{_THIS}\s+)?(?:العام|السنه)\s+(?:{_THIS})|{_THIS}\s+(?:العام|السنه|سال|year)", "year-0"),
    (rf"پارسال|(?:العام|السنه|سال)\s+{_PAST}|(?:last|previous)\s+year", "year-1"),
    # "منذ يومين", "خلال الأيام الثلاثة الماضية", "آخر ٣ أيام", "از دو روز پیش", "in the past 3 days"
    (rf"(?:منذ|از)\s+(?P<n>{_NUMBER})?\s*(?P<unit>{_ANY_UNIT})(?:\s+{_PAST})?", "since"),
    (rf"(?:خلال|في|در)\s+(?:ال)?(?P<unit>{_ANY_UNIT})\s+(?:ال)?(?:(?P<n>{_NUMBER})\s+)?{_PAST}", "since"),
    (rf"(?:(?:خلال|في)\s+)?(?:ال)?اخر\s+(?P<n>{_NUMBER})?\s*(?:ال)?(?P<unit>{_ANY_UNIT})", "since"),
    (rf"(?:(?:in|over|during)\s+the\s+)?(?:past|last)\s+(?P<n>{_NUMBER})?\s*(?P<unit>{_ANY_UNIT})", "since"),
    (rf"(?:قبل\s+)(?P<n>{_NUMBER})?\s*(?P<unit>{_UNITS['day']})"
     rf"|(?P<n3>{_NUMBER})\s+(?P<unit3>{_UNITS['day']})\s+(?:ago|پيش)", "ago"),
    (rf"(?:(?:في|خلال|در|in|during)\s+(?:شهر\s+|ماه\s+)?|شهر\s+|ماه\s+)(?P<month>{_MONTH})(?=\s|$|[؟?.,،])", "m"),
]  # fmt: skip
_COMPILED = [(re.compile(f"{_WORD}(?:{pattern}){_END}", re.IGNORECASE), meaning) for pattern, meaning in _RULES]
_RECENT = re.compile(
    _WORD + r"(?:(?:ال)?(?:اخر|احدث|اجد|جديد)\s+(?:ال)?(?:اخبار|الاخبار|المستجدات|التطورات|ما\s+(?:حدث|جري|استجد))"
    r"|(?:اخرين|جديدترين|تازه\s*ترين)\s+(?:اخبار|خبرها)|(?:the\s+)?(?:latest|newest|most\s+recent|recent)"
    r"(?:\s+(?:news|on|about|updates?|developments?))?|what'?s\s+new)" + _END,
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Period:
    """What a question says about time: a closed period of ISO dates (either side may be open), a label in Arabic
    and English, whether the newest articles are wanted, and the question without its time words."""

    since: str | None
    until: str | None
    label_ar: str
    label_en: str
    recency: bool = False
    question: str = ""

    def contains(self, published: str) -> bool:
        """Whether an ISO date/time falls within the period (an undated article never does)."""
        day = published[:10]
        if not day:
            return False
        return (self.since is None or day >= self.since) and (self.until is None or day <= self.until)


def arabic_digits(text: str) -> str:
    return text.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))


def _labels(since: date, until: date) -> tuple[str, str]:
    """ "٥ مارس ٢٠١٨" / "من ١ إلى ٧ مارس ٢٠١٨" and "5 March 2018" / "1–7 March 2018"."""
    en_month = calendar.month_name
    if since == until:
        ar = f"{since.day} {_AR_MONTH_NAMES[since.month]} {since.year}"
        en = f"{since.day} {en_month[since.month]} {since.year}"
    elif since.day == 1 and until == _month_end(since):
        ar, en = f"{_AR_MONTH_NAMES[since.month]} {since.year}", f"{en_month[since.month]} {since.year}"
    elif (since.month, since.day, until.month, until.day) == (1, 1, 12, 31) and since.year == until.year:
        ar, en = f"سنة {since.year}", str(since.year)
    elif (since.year, since.month) == (until.year, until.month):
        ar = f"من {since.day} إلى {until.day} {_AR_MONTH_NAMES[since.month]} {since.year}"
        en = f"{since.day}–{until.day} {en_month[since.month]} {since.year}"
    else:
        start_year = f" {since.year}" if since.year != until.year else ""
        ar_since, ar_until = _AR_MONTH_NAMES[since.month], _AR_MONTH_NAMES[until.month]
        ar = f"من {since.day} {ar_since}{start_year} إلى {until.day} {ar_until} {until.year}"
        en = f"{since.day} {en_month[since.month]}{start_year} – {until.day} {en_month[until.month]} {until.year}"
    return arabic_digits(ar), en


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _week_start(day: date, script: str) -> date:
    first = 0 if script == "latin" else 5  # Monday, or Saturday
    return day - timedelta(days=(day.weekday() - first) % 7)


def _number(text: str | None) -> int:
    if not text:
        return 1
    return int(text) if text.isdigit() else _NUMBERS.get(text.lower(), 1)


def _unit(text: str) -> str:
    return next(name for name, pattern in _UNITS.items() if re.fullmatch(pattern, text, re.IGNORECASE))


def _span(m: re.Match[str], meaning: str, today: date, script: str) -> tuple[date, date] | None:
    if meaning == "iso":
        day = date.fromisoformat(m["d"])
        return day, day
    if meaning == "dmy":
        day = date(int(m["year"]), _MONTHS[m["month"].lower()], int(m["day"]))
        return day, day
    if meaning in ("my", "m"):
        month = _MONTHS[m["month"].lower()]
        year = int(m["year"]) if meaning == "my" else (today.year if month <= today.month else today.year - 1)
        first = date(year, month, 1)
        return first, _month_end(first)
    if meaning == "y":
        return date(int(m["year"]), 1, 1), date(int(m["year"]), 12, 31)
    kind, _, back = meaning.partition("-")
    if kind == "days":
        return today - timedelta(days=int(back)), today
    if kind == "day":
        day = today - timedelta(days=int(back))
        return day, day
    if kind == "week":
        start = _week_start(today, script) - timedelta(days=7 * int(back))
        return start, min(today, start + timedelta(days=6))
    if kind == "month":
        first = today.replace(day=1)
        if back == "1":
            first = (first - timedelta(days=1)).replace(day=1)
        return first, min(today, _month_end(first))
    if kind == "year":
        year = today.year - int(back)
        return date(year, 1, 1), min(today, date(year, 12, 31))
    if meaning in ("since", "ago"):
        unit_text = m["unit"] if meaning == "since" or m["unit"] else m["unit3"]
        unit = _unit(unit_text)
        n = 2 if _DUAL.search(unit_text) else _number(m["n"] or m.groupdict().get("n3"))
        days = n * {"day": 1, "week": 7, "month": 30, "year": 365}[unit]
        start = today - timedelta(days=days)
        return (start, start) if meaning == "ago" else (start, today)
    return None


def read_period(question: str, now: datetime | date) -> Period | None:
    """The period ``question`` is about, read against ``now`` (the time of asking, or an archive's ``as_of``);
    None when it names no time and asks for no newest news."""
    today = now.date() if isinstance(now, datetime) else now
    text, where = _folded(question)
    script = script_of(question)
    recent = _RECENT.search(text)
    for pattern, meaning in _COMPILED:
        m = pattern.search(text)
        if m is None:
            continue
        try:
            span = _span(m, meaning, today, script)
        except (ValueError, KeyError, StopIteration, OverflowError):
            continue  # 31 February, a year 0: not a date after all
        if span is None:
            continue
        since, until = span
        label_ar, label_en = _labels(since, until)
        rest = _without(question, where, (m.start(), m.end()), recent)
        return Period(since.isoformat(), until.isoformat(), label_ar, label_en, recent is not None, rest)
    if recent:
        return Period(None, None, "الأحدث أولاً", "newest first", True, _without(question, where, (0, 0), recent))
    return None


def _folded(text: str) -> tuple[str, list[int]]:
    """``text`` normalized character by character (spaces kept), and where each folded character came from, so
    a phrase found in the folded text can be cut from the question as asked (its script and spelling kept)."""
    pieces = [c if c.isspace() else normalize(c) for c in text]
    return "".join(pieces), [i for i, piece in enumerate(pieces) for _ in piece] + [len(text)]


def _without(question: str, where: list[int], found: tuple[int, int], recent: re.Match[str] | None) -> str:
    """The question without the time phrase (and a "latest news" phrase), for retrieval; whole when nothing is left."""
    spans = sorted([found] + ([recent.span()] if recent else []))
    kept, at = [], 0
    for a, b in spans:
        a, b = where[a], where[b] if b > a else where[a]
        if a >= at:
            kept.append(question[at:a])
            at = b
        else:
            at = max(at, b)
    kept.append(question[at:])
    rest = " ".join(" ".join(kept).split())
    rest = re.sub(r"(?:^|\s)(?:في|خلال|منذ|عن|من|در|از|in|on|during|about)\s*(?=[؟?]?$)", "", rest, flags=re.I).strip()
    return rest if re.search(r"\w{2,}", rest) else question


def with_period(filters: Filters | None, period: Period | None) -> Filters | None:
    """``filters`` with the period's dates where the asker gave none (an explicit since/until wins)."""
    if period is None or (period.since is None and period.until is None):
        return filters
    base = filters or Filters()
    if base.since or base.until:
        return base
    return replace(base, since=period.since, until=period.until)


def newest_first(hits: Sequence[Hit], published: Mapping[int, str], relevant: int) -> list[Hit]:
    """The newest of what answers first: among the ``relevant`` best hits, those scoring at least half the best
    (fused scores: clearly on topic) newest first (undated last), then the others as ranked."""
    top = hits[0].score if hits else 0.0
    close = [h for h in hits[:relevant] if top <= 0 or h.score >= RECENCY_SCORE_SHARE * top]
    head = sorted(close, key=lambda h: published.get(h.passage_id, "")[:19], reverse=True)
    taken = {h.passage_id for h in head}
    return [*head, *(h for h in hits if h.passage_id not in taken)]


def nothing_in(period: Period) -> str:
    """The message when nothing in the period answers: no article falls in it, or none of its articles answers (the
    answer then comes from every date). It must not say "no articles" when the period has some."""
    arabic = f"لا إجابة في مقالات الفترة {period.label_ar}؛ هذه أقرب النتائج من كل التواريخ."
    return f"{arabic} / No answer among the articles from {period.label_en}: best matches from any date."


def label(period: Period) -> str:
    """The message line that says which period was understood."""
    if period.since is None and period.until is None:
        return "الأحدث أولاً / newest first"
    return f"الفترة: {period.label_ar} / period: {period.label_en}" + (" (الأحدث أولاً)" if period.recency else "")
