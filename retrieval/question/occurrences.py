"""Which occurrence of a recurring event a text names: "6th", "sixth", "ครั้งที่ 6",
"ครั้งที่ ๖", "4/2567", "รอบที่ 2", "ระยะที่ 3", "group 5", "เฟส 4".

An occurrence is its number, and the year where one is written with it (11/2566), so
that an English question can be matched with a Thai release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from corpus.release import THAI_DIGITS

# "first" and ครั้งแรก are left out: "for the first time" names no occurrence of a series
_ORDINAL_WORDS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh",
                  "eighth", "ninth", "tenth", "eleventh", "twelfth", "thirteenth",
                  "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth",
                  "nineteenth", "twentieth"]  # fmt: skip

# the words that count an occurrence, before its number
_TH_KINDS = r"ครั้งที่|รอบที่|ระยะที่|ชุดที่|กลุ่มที่|รุ่นที่|เฟสที่|เฟส|ปีที่|งวดที่|ลำที่|เที่ยวที่"
_EN_KINDS = r"phase|round|group|batch|wave|flight|session|meeting no\.?|no\."

_PATTERNS = [
    re.compile(rf"(?:{_TH_KINDS})\s*(\d{{1,3}})(?:\s*/\s*(\d{{2,4}}))?(?!\d)"),
    re.compile(rf"\b(?:{_EN_KINDS})\s*(\d{{1,3}})(?:\s*/\s*(\d{{2,4}}))?(?!\d)", re.I),
    re.compile(r"(?<![\d./-])(\d{1,3})(?:st|nd|rd|th)\b", re.I),
    # 4/2567 alone: a meeting's number in its year (a d/m/y date has two slashes)
    re.compile(r"(?<![\d/])(\d{1,2})\s*/\s*(25\d\d)(?![\d/])"),
]
_WORDS = re.compile(r"\b(" + "|".join(_ORDINAL_WORDS) + r")\b", re.I)


@dataclass(frozen=True)
class Occurrence:
    number: int
    year: int | None = None  # Buddhist, where written

    def matches(self, other: Occurrence) -> bool:
        if self.number != other.number:
            return False
        return self.year is None or other.year is None or self.year == other.year


def _be_year(text: str | None) -> int | None:
    if not text:
        return None
    value = int(text)
    if value < 100:
        return 2500 + value
    return value if value > 2400 else value + 543


def find_occurrences(text: str) -> set[Occurrence]:
    """The occurrences ``text`` names."""
    text = text.translate(THAI_DIGITS)
    found: set[Occurrence] = set()
    for pattern in _PATTERNS:
        for m in pattern.finditer(text):
            year = m.group(2) if pattern.groups > 1 else None
            found.add(Occurrence(int(m.group(1)), _be_year(year)))
    for m in _WORDS.finditer(text):
        number = _ORDINAL_WORDS.index(m.group(1).lower()) + 1
        if number > 1:
            found.add(Occurrence(number))
    return found


def occurrence_spans(text: str) -> list[tuple[int, int]]:
    """Where ``text`` names occurrences (digits only: Thai digits keep their offsets)."""
    text = text.translate(THAI_DIGITS)
    return [m.span() for pattern in _PATTERNS for m in pattern.finditer(text)]


def agreement(asked: set[Occurrence], named: set[Occurrence]) -> int:
    """2: ``named`` holds an asked occurrence; 1: it names none; 0: it names only others
    (a look-alike of another meeting of the series)."""
    if not asked:
        return 1
    if any(a.matches(n) for a in asked for n in named):
        return 2
    return 0 if named else 1


def renumber(text: str, number: int) -> str:
    """``text`` with the occurrence it names made ``number`` ("the 6th AMCC" becomes
    "the 7th AMCC"): how "and the 7th?" borrows the rest of the question before it."""
    text = text.translate(THAI_DIGITS)

    def digits(m: re.Match) -> str:
        return (
            m.group(0)[: m.start(1) - m.start(0)]
            + str(number)
            + m.group(0)[m.end(1) - m.start(0) :]
        )

    for pattern in _PATTERNS[:2] + _PATTERNS[3:]:
        text = pattern.sub(digits, text)
    text = _PATTERNS[2].sub(lambda m: _ordinal(number), text)
    return _WORDS.sub(lambda m: _ordinal(number), text)


def _ordinal(number: int) -> str:
    suffix = (
        "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    )
    return f"{number}{suffix}"
