"""What a question asks for (a number, a date, a person, a place) and whether a piece of text holds one.

Arabic, English and Persian question words, matched on normalized text. The answer types are coarse on
purpose: they only have to tell "كم/how many" (a number), "متى/when" (a date or a year), "من/who" (a name)
and "أين/where" (a place) apart, so that the sentence marked as the answer can be one that holds such a thing,
and not the sentence that merely restates the question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from askbot.arabic import normalize, remembered
from askbot.ingest.dates import month_names

NUMBER, DATE, PERSON, PLACE, OTHER = "number", "date", "person", "place", "other"
TYPES = (NUMBER, DATE, PERSON, PLACE, OTHER)

# Patterns over normalize()d questions (ة→ه, أ→ا, ى→ي, lower case); the first that matches decides.
_ASKS = [
    (DATE, r"^(?:و|ف)?متي\b|\bفي اي (?:عام|سنه|سنوات|عقد|قرن|تاريخ|شهر|يوم|وقت|فتره)|\bما (?:تاريخ|سنه|عام)\b"
     r"|\bاي (?:عام|سنه|تاريخ)\b|\bكي ?وقت\b|\bچه (?:زماني|سالي|تاريخي)\b|^كي\b|^when\b|\bwhat (?:year|date|day|"
     r"month|century|decade|time)\b|\bin which (?:year|century|decade)\b|\bhow long ago\b"),
    (NUMBER, r"^(?:و|ف)?كم\b|\bبكم\b|\bما (?:عدد|نسبه|مقدار|حجم|طول|عرض|ارتفاع|مساحه|سعر|قيمه|مدي|وزن)\b"
     r"|\bما هو (?:عدد|نسبه|مقدار|حجم|طول|مساحه|سعر|قيمه)\b|\bچند\b|\bچقدر\b|\bhow (?:many|much|long|far|old|big|"
     r"large|tall|high|often)\b|\bwhat (?:percentage|percent|proportion|number|amount|size|length|share)\b"),
    (PERSON, r"^(?:و|ف)?(?:من|لمن|بمن|ممن|عمن)\b|\bمن (?:هو|هي|هم|كان|كانت)\b|\bاي شخص\b|\bچه كسي\b"
     r"|^(?:who|whom|whose)\b|\bwho\b|\bwhich (?:person|player|team|company|group|man|woman)\b"),
    (PLACE, r"^(?:و|ف)?(?:اين|الي اين|من اين)\b|\bفي اي (?:مكان|مدينه|بلد|دوله|منطقه|ولايه)\b|\bاي (?:مدينه|بلد|"
     r"دوله|منطقه)\b|\bكجا\b|^where\b|\bin which (?:city|country|state|place|region)\b|\bwhat (?:city|country|"
     r"state|place|region)\b"),
]  # fmt: skip
_ASKS_RE = [(kind, re.compile(pattern)) for kind, pattern in _ASKS]

_DIGITS = re.compile(r"\d")
_YEAR = re.compile(r"(?<!\d)(?:1[0-9]|20)\d\d(?!\d)")
_NUMBER_WORDS = re.compile(
    r"\b(?:و|ب|ل)?(?:ال)?(?:واحد|اثن|ثلاث|اربع|خمس|ست|سبع|ثمان|تسع|عشر|عشرين|ثلاثين|اربعين|خمسين|ستين|سبعين|ثمانين"
    r"|تسعين|مئه|مائه|مئات|الف|الاف|مليون|ملايين|مليار|مليارات|نصف|ربع|ثلث|ضعف)\w{0,3}\b"
    r"|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    r"thousand|million|billion|half|quarter|dozen)s?\b"
)
_DATE_WORDS = re.compile(
    r"\b(?:" + "|".join(sorted(map(re.escape, month_names()), key=len, reverse=True)) + r")\b"
    r"|\b(?:ال)?(?:قرن|عقد|عام|سنه|الميلاد|ميلادي|هجري|century|decade)\b"
)


@dataclass(frozen=True)
class Holds:
    """What one piece of text holds, as far as answer types go."""

    number: bool
    date: bool

    def matches(self, asked: str) -> bool:
        """Whether the text holds the kind of thing the question asks for (never for person/place/other)."""
        return (asked == NUMBER and self.number) or (asked == DATE and self.date)


def asked_type(question: str) -> str:
    """One of :data:`TYPES`: what ``question`` asks for."""
    folded = normalize(question)
    for kind, pattern in _ASKS_RE:
        if pattern.search(folded):
            return kind
    return OTHER


@remembered  # the same sentences are asked again by each step of one answer
def holds(text: str, question: str = "") -> Holds:
    """Whether ``text`` holds a number or a date, not counting those the question itself states."""
    folded = normalize(text)
    asked = normalize(question)
    numbers = [m for m in re.findall(r"\d[\d.,]*", folded) if m not in asked] + [
        m for m in _NUMBER_WORDS.findall(folded) if m not in asked
    ]
    dates = [m for m in _YEAR.findall(folded) if m not in asked] + [
        m for m in _DATE_WORDS.findall(folded) if m not in asked
    ]
    return Holds(number=bool(numbers), date=bool(dates))


def answer_spans(text: str, question: str, asked: str) -> list[tuple[int, int]]:
    """Character spans in ``text`` of the numbers or dates (as ``asked``) the question does not already state."""
    if asked not in (NUMBER, DATE):
        return []
    asked_folded = normalize(question)
    pattern = _YEAR if asked == DATE else re.compile(r"\d[\d.,٫٬]*\d|\d")
    spans = []
    for m in pattern.finditer(text):
        if normalize(m.group()) not in asked_folded:
            spans.append((m.start(), m.end()))
    return spans
