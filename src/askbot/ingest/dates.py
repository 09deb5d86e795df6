"""Publication dates to ISO 8601: ISO, RFC 2822, and Arabic date lines ("الأحد ١٩ مارس ٢٠٢٣ - ٠٤:٤٦ بتوقيت غرينتش")."""

from __future__ import annotations

import email.utils
import re
from datetime import date, datetime, timedelta, timezone

from askbot.arabic import normalize

_MONTH_NAMES = {
    1: "يناير كانون الثاني كانون ثاني جانفي january jan",
    2: "فبراير شباط فيفري february feb",
    3: "مارس اذار march mar",
    4: "ابريل افريل نيسان april apr",
    5: "مايو ماي ايار may",
    6: "يونيو يونيه حزيران جوان june jun",
    7: "يوليو يوليه يوليوز تموز جويليه july jul",
    8: "اغسطس غشت اب اوت august aug",
    9: "سبتمبر شتنبر ايلول september sep sept",
    10: "اكتوبر تشرين الاول تشرين اول october oct",
    11: "نوفمبر نونبر تشرين الثاني تشرين ثاني november nov",
    12: "ديسمبر دجنبر كانون الاول كانون اول december dec",
}
# Two-word names ("كانون الثاني") are listed as their words; the pattern below wants the whole names.
_MONTHS = {
    name: number
    for number, names in _MONTH_NAMES.items()
    for name in re.findall(r"(?:كانون|تشرين) (?:ال)?(?:اول|ثاني)|\S+", names)
}


def month_names() -> list[str]:
    """Every month name the date rules know (Arabic, Levantine, Maghrebi, English), normalized."""
    return list(_MONTHS)


_MONTH = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
_WEEKDAY = r"(?:ال)?(?:احد|اثنين|ثلاثاء|اربعاء|خميس|جمعه|سبت)|(?:sun|mon|tue|wed|thu|fri|sat)\w*"
_ZONE = (
    r"(?:بتوقيت|توقيت)\s+(?P<zone>\S+(?:\s+\S+)?)"
    r"|(?P<utc>gmt|utc|z)?(?:\s*(?P<sign>[+-])\s*(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?)?"
)
_DATE = (
    rf"(?P<day>\d{{1,2}})\s*(?P<month>{_MONTH})(?:\s*[/(-]\s*(?:{_MONTH})\s*\)?)?\s*,?\s*(?P<year>\d{{4}})\s*م?"
    r"|(?P<nday>\d{1,2})[/.-](?P<nmonth>\d{1,2})[/.-](?P<nyear>\d{4})"
)
_TIME = r"(?:الساعه\s*)?(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?\s*(?P<half>ص|م|am|pm)?"
_FULL = rf"(?:(?:{_WEEKDAY})\s*[,،-]?\s*)?(?:{_DATE})(?:\s*[-–—,،|]?\s*(?:{_TIME}))?(?:\s*\(?(?:{_ZONE})\)?)?"
_DATE_LINE = re.compile(rf"\s*{_FULL}\s*", re.IGNORECASE)
_DATE_ANYWHERE = re.compile(_FULL, re.IGNORECASE)
_ZONE_OFFSETS = {"غرينتش": 0, "غرينيتش": 0, "جرينتش": 0, "جرينيتش": 0, "مكه": 3, "مكه المكرمه": 3}


def parse_date(text: str) -> str:
    """``text`` as ISO 8601 ("2023-03-19T04:46:00+00:00", or "2023-03-19" without a time); "" if not a date."""
    text = text.strip()
    if not text:
        return ""
    return _iso(text) or _arabic(_DATE_ANYWHERE.search(normalize(text))) or _rfc2822(text)


def date_line(line: str) -> str:
    """ISO date when the whole ``line`` is a date line (weekday, date, time, zone); "" otherwise."""
    if len(line) > 120:
        return ""
    return _iso(line.strip()) or _arabic(_DATE_LINE.fullmatch(normalize(line)))


def _iso(text: str) -> str:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return ""
    return parsed.date().isoformat() if re.fullmatch(r"\d{4}-?\d{2}-?\d{2}", text) else parsed.isoformat()


def _rfc2822(text: str) -> str:
    try:
        return email.utils.parsedate_to_datetime(text).isoformat()
    except (TypeError, ValueError, IndexError):
        return ""


def _arabic(m: re.Match[str] | None) -> str:
    if m is None:
        return ""
    try:
        if m["day"]:
            day = date(int(m["year"]), _MONTHS[m["month"].lower()], int(m["day"]))
        else:
            day = date(int(m["nyear"]), int(m["nmonth"]), int(m["nday"]))
        if not m["hour"]:
            return day.isoformat()
        hour = int(m["hour"]) % 12 + 12 if (m["half"] or "").lower() in ("م", "pm") else int(m["hour"])
        moment = datetime(day.year, day.month, day.day, hour, int(m["minute"]), int(m["second"] or 0))
        zone = _zone(m)
    except (ValueError, KeyError):
        return ""
    return (moment.replace(tzinfo=zone) if zone else moment).isoformat()


def _zone(m: re.Match[str]) -> timezone | None:
    if m["utc"] or m["sign"]:
        offset = timedelta(hours=int(m["hours"] or 0), minutes=int(m["minutes"] or 0))
        return timezone(-offset if m["sign"] == "-" else offset)
    hours = _ZONE_OFFSETS.get(m["zone"] or "")
    return None if hours is None else timezone(timedelta(hours=hours))
