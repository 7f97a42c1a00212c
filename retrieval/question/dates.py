"""Dates named in a question or a release: Thai and English, Buddhist and Gregorian
years, full and abbreviated months, d/m/y, day ranges, a month alone, and relative
words resolved against the day the question is asked.

pythainlp supplies the Thai month names and the day words it knows (เมื่อวาน,
วานซืน); dateparser was tried and reads neither Thai months nor Buddhist years, and
takes "22nd" or "11-17" for dates (docs/quality.md).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, replace

from pythainlp.util.date import thai_abbr_months, thai_full_months

from corpus.release import THAI_DIGITS
from retrieval.text.normalise import is_thai

_DIGIT = re.compile(r"\d")
_EN_MONTHS = [m.lower() for m in calendar.month_name[1:]]
_EN_ABBR = [m.lower() for m in calendar.month_abbr[1:]] + ["sept"]


class DateError(ValueError):
    """A date that does not exist, e.g. 31 February."""


@dataclass(frozen=True)
class DateRange:
    """The days a date expression covers, both ends included."""

    first: dt.date
    last: dt.date
    text: str  # as written
    span: tuple[int, int] | None = None  # where, in the text searched

    def __contains__(self, day: dt.date) -> bool:
        return self.first <= day <= self.last


def _month_number(name: str) -> int:
    name = name.lower().replace(" ", "")
    for table in (thai_full_months, [m.replace(".", "") for m in thai_abbr_months]):
        if name.replace(".", "") in table:
            return table.index(name.replace(".", "")) + 1
    if name in _EN_MONTHS:
        return _EN_MONTHS.index(name) + 1
    return (_EN_ABBR.index(name.rstrip(".")) % 12) + 1


def _thai_abbr(abbr: str) -> str:
    """ม.ค. as a pattern that also takes ม.ค, มค. and spaces after the dots."""
    letters = [c for c in abbr if c != "."]
    return r"\.?\s?".join(re.escape(c) for c in letters) + r"\.?"


_TH_MONTH = "|".join(thai_full_months + [_thai_abbr(a) for a in thai_abbr_months])
_EN_MONTH = "|".join(_EN_MONTHS + [a + r"\.?" for a in _EN_ABBR])
_YEAR = r"(?:พ\.\s?ศ\.\s?|ค\.\s?ศ\.\s?)?(\d{4}|\d{2})(?!\d)"
_DAYS = r"(\d{1,2})(?:\s*(?:-|–|ถึง|to)\s*(\d{1,2}))?"
_SUFFIX = r"(?:st|nd|rd|th)?"

_PATTERNS = [
    # 12 ต.ค. 2564, 11-17 มี.ค. 65, 12 October 2021, 1st of March
    (
        "dmy",
        re.compile(
            rf"(?<!\d){_DAYS}{_SUFFIX}\s*(?:of\s+)?({_TH_MONTH}|{_EN_MONTH})"
            rf"(?![a-z])(?:\s*,?\s*{_YEAR})?",
            re.I,
        ),
    ),  # fmt: skip
    # March 1, 2022; August 15-17, 2023
    ("mdy", re.compile(rf"\b({_EN_MONTH})\s+{_DAYS}{_SUFFIX}(?!\d)(?:\s*,?\s*{_YEAR})?", re.I)),
    # เดือนมีนาคม 2565, October 2021, ต.ค. 64
    ("my", re.compile(rf"(?<![\d.])({_TH_MONTH}|{_EN_MONTH})(?![a-z])\s*,?\s*{_YEAR}", re.I)),
    # 12/10/2564, 23/8/66, 2022-03-01
    ("num", re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?![\d/])")),
    ("iso", re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")),
]


def _year(text: str | None, thai: bool, today: dt.date, month: int, day: int = 1) -> int:
    """A written year as Gregorian; none: the latest year not after ``today``."""
    if text is None:
        year = today.year
        return year - 1 if (month, day) > (today.month, today.day) else year
    value = int(text)
    if len(text) == 2:
        # two digits are Buddhist in Thai writing (65: 2565) and Gregorian in English
        value += 2500 if thai else 2000
    return value - 543 if value > 2400 else value


def _day(year: int, month: int, day: int, text: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise DateError(f"There is no such date as {text.strip()!r}.") from None


def _read(kind: str, m: re.Match, today: dt.date) -> DateRange:
    text = m.group(0)
    thai = is_thai(text) or kind == "num"
    if kind in ("dmy", "mdy"):
        if kind == "dmy":
            first, last, name, year = m.group(1), m.group(2), m.group(3), m.group(4)
        else:
            name, first, last, year = m.group(1), m.group(2), m.group(3), m.group(4)
        month = _month_number(name)
        y = _year(year, thai, today, month, int(first))
        start = _day(y, month, int(first), text)
        return DateRange(start, _day(y, month, int(last), text) if last else start, text)
    if kind == "my":
        month = _month_number(m.group(1))
        y = _year(m.group(2), thai, today, month)
        return DateRange(dt.date(y, month, 1), dt.date(y, month, calendar.monthrange(y, month)[1]),
                         text)  # fmt: skip
    if kind == "num":
        day, month = int(m.group(1)), int(m.group(2))
        if month > 12:
            raise DateError(f"There is no such date as {text!r}.")
        start = _day(_year(m.group(3), True, today, month, day), month, day, text)
        return DateRange(start, start, text)
    start = _day(int(m.group(1)), int(m.group(2)), int(m.group(3)), text)
    return DateRange(start, start, text)


_WEEKDAYS_EN = [d.lower() for d in calendar.day_name]
_WEEKDAYS_TH = ["จันทร์", "อังคาร", "พุธ", "พฤหัสบดี", "ศุกร์", "เสาร์", "อาทิตย์"]


def _relative(text: str, today: dt.date) -> list[DateRange]:
    """Days named relative to ``today``: yesterday, last week, this month, last Tuesday."""
    low = text.lower()
    out: list[DateRange] = []

    def days(word: str, first: dt.date, last: dt.date | None = None) -> None:
        out.append(DateRange(first, last or first, word))

    monday = today - dt.timedelta(days=today.weekday())
    month_start = today.replace(day=1)
    last_month_end = month_start - dt.timedelta(days=1)
    words = {
        "วานซืน": (today - dt.timedelta(days=2), None),
        "เมื่อวาน": (today - dt.timedelta(days=1), None),
        "yesterday": (today - dt.timedelta(days=1), None),
        "วันนี้": (today, None),
        "today": (today, None),
        "สัปดาห์ที่แล้ว": (monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)),
        "สัปดาห์ก่อน": (monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)),
        "อาทิตย์ที่แล้ว": (monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)),
        "last week": (monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)),
        "สัปดาห์นี้": (monday, today),
        "this week": (monday, today),
        "เดือนนี้": (month_start, today),
        "this month": (month_start, today),
        "เดือนที่แล้ว": (last_month_end.replace(day=1), last_month_end),
        "เดือนก่อน": (last_month_end.replace(day=1), last_month_end),
        "last month": (last_month_end.replace(day=1), last_month_end),
    }
    for word, (first, last) in words.items():
        # ทุกวันนี้ is "nowadays", not today
        if re.search(rf"(?<!ทุก){re.escape(word)}", low) and not any(
            word in seen.text for seen in out
        ):
            days(word, first, last)
    for names, pattern in ((_WEEKDAYS_EN, r"\blast {}\b"), (_WEEKDAYS_TH, r"วัน{}ที่แล้ว")):
        for number, name in enumerate(names):
            m = re.search(pattern.format(name), low)
            if m:
                back = (today.weekday() - number) % 7 or 7
                days(m.group(0), today - dt.timedelta(days=back))
    return out


def find_dates(text: str, today: dt.date, *, relative: bool = True) -> list[DateRange]:
    """Every date ``text`` names, in the order written; ``relative``: also the days it
    names relative to ``today`` (yesterday, last week). Raises ``DateError`` for a date
    that does not exist."""
    text = text.translate(THAI_DIGITS)
    if not relative and not _DIGIT.search(text):
        return []  # every written date has a digit: most sentences are done here
    found: list[tuple[int, DateRange]] = []
    taken: list[range] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() in span or m.end() - 1 in span for span in taken):
                continue
            found.append((m.start(), replace(_read(kind, m, today), span=m.span())))
            taken.append(range(m.start(), m.end()))
    written = [r for _, r in sorted(found, key=lambda pair: pair[0])]
    return written + _relative(text, today) if relative else written


def parse_day(text: str) -> dt.date:
    """``YYYY-MM-DD`` as a date; a one-sentence ``DateError`` otherwise."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise DateError(f"{text!r} is not a date of the form YYYY-MM-DD.") from None
