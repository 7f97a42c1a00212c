"""What kind of answer a question asks for, and which sentences can give it.

A who / when / how-many / which-province question is answered by a sentence that
names a person / a date / a number / a place beyond what the question already says. When
some candidate sentences do, only they compete (``may_answer``).
"""

from __future__ import annotations

import datetime as dt
import functools
import re

from retrieval.question.dates import DateError, find_dates
from retrieval.question.occurrences import occurrence_spans

_QUESTION_TYPES = [
    ("person", re.compile(r"\b(?:who|whom|whose)\b|ใคร|ผู้ใด|บุคคลใด", re.I)),
    (
        "date",
        re.compile(
            r"\bwhen\b|\b(?:what|which|in what) (?:year|century|date|day|month|decade)\b"
            r"|เมื่อไ[หร]|เมื่อใด|ปีใด|ปีไหน|ปีอะไร|ศตวรรษใด|วันที่เท่า|วันใด|เดือนใด|ยุคใด",
            re.I,
        ),
    ),
    (
        "number",
        re.compile(
            r"\bhow (?:many|much|long|old|far|large|big)\b|\bwhat (?:percentage|percent|number)\b"
            r"|(?<!เ)กี่|เท่าไ[หร]|เท่าใด",  # not the กี่ of เกี่ยว, "about"
            re.I,
        ),
    ),
    (
        # a province, a country, a city: a plain "where" may be any building or street,
        # which no list names
        "place",
        re.compile(
            r"\b(?:which|what) (?:province|country|city|district)\b"
            r"|(?:จังหวัด|ประเทศ|(?<!การ)เมือง|อำเภอ)(?:ใด|ไหน)",
            re.I,
        ),
    ),
]

# Person titles as releases write them. พระ opens royal and religious nouns as often
# as a monk's or a royal's name (พระราชกฤษฎีกา, a decree; พระบรมราชโองการ, a command).
_PERSON = re.compile(
    r"(?:^|[\s(])(?:นาย(?!ก)|นาง|นางสาว|น\.ส\.|ดร\.|นพ\.|พญ\.|ผศ\.|รศ\.|ศ\.|ทพ\.|ภก\."
    r"|พล\.|พ\.[ตทอ]\.|ร\.[ตทอ]\.|ว่าที่ร|สมเด็จ|ศาสตราจารย์"
    r"|พระ(?!ราช|บรม|พุทธ|ธรรม|มหากรุณา|ที่นั่ง|ธาตุ|อุโบสถ|ปรมาภิไธย)"
    r"|Mr\.|Mrs\.|Ms\.|Dr\.|H\.E\.|Sir |King |Queen |President |Pope )"
)
_DATE = re.compile(
    r"\b1\d{3}\b|\b2[05]\d{2}\b|ค\.ศ\.|พ\.ศ\.|ศตวรรษ|century|มกราคม|กุมภาพันธ์|มีนาคม|เมษายน"
    r"|พฤษภาคม|มิถุนายน|กรกฎาคม|สิงหาคม|กันยายน|ตุลาคม|พฤศจิกายน|ธันวาคม|January|February"
    r"|March|April|May|June|July|August|September|October|November|December"
)
_NUMBER_WORDS = re.compile(r"\d|หนึ่ง|สอง|สาม|สี่|ห้า|หก|เจ็ด|แปด|เก้า|สิบ|ร้อย|พัน|หมื่น|แสน|ล้าน")


@functools.cache
def _places() -> re.Pattern:
    """A place: Thailand's provinces (Thai and English names) and the world's countries
    (Thai names) but Thailand, which every release is about, from pythainlp's lists;
    or the word ณ (at) before a place rather than a time."""
    from pythainlp.corpus import countries, provinces

    names = {n for p in provinces(details=True) for n in (p["name_th"], p["name_en"])}
    names |= set(countries()) - {"ไทย"}
    names = sorted(filter(None, names), key=len, reverse=True)
    alternatives = "|".join(map(re.escape, names))
    return re.compile(rf"{alternatives}|(?:^|\s)ณ\s*(?!วันที่|ขณะ|ปัจจุบัน|เวลา|สิ้น)\S")


def question_type(question: str) -> str | None:
    """``person``, ``date``, ``number``, ``place`` or None (any sentence may answer)."""
    for name, pattern in _QUESTION_TYPES:
        if pattern.search(question):
            return name
    return None


def _pattern(kind: str) -> re.Pattern:
    if kind == "place":
        return _places()
    return {"person": _PERSON, "date": _DATE, "number": _NUMBER_WORDS}[kind]


def sentence_has_type(kind: str | None, sentence: str) -> bool:
    return bool(kind) and bool(_pattern(kind).search(sentence))


_NUMBER = re.compile(r"\d[\d,.]*")
# numbers that count nothing: a year, a time of day, a list's item number, COVID-19
_NOT_COUNTS = re.compile(
    r"(?:ปี|พ\.\s?ศ\.|ค\.\s?ศ\.|ศักราช|\b(?:year|in|since|until|of))\s*(?:งบประมาณ\s*)?"
    r"(?:1[89]|20|25)\d\d(?!\d)|\d{1,2}[.:]\d\d\s*(?:น\.|hrs|a\.m\.|p\.m\.)"
    r"|^\s*\d{1,2}[.)](?!\d)|(?:โควิด|covid)[\s-]?19",
    re.I,
)
_SOME_DAY = dt.date(2000, 1, 1)  # years are read, not resolved: any day serves


def beyond_question(kind: str | None, sentence: str, question: str) -> str:
    """What of ``sentence`` may be the answer: for a how-many question, less the dates
    and occurrences it names and the numbers the question holds already ("ครม. วันที่
    22 มี.ค." restates the asked day; it does not count anything); for a where
    (which province, which country) question, less the places the question names."""
    if kind == "place":
        asked = {m.group(0) for m in _places().finditer(question)}
        return _places().sub(lambda m: " " if m.group(0) in asked else m.group(0), sentence)
    if kind != "number":
        return sentence
    try:
        spans = [d.span for d in find_dates(sentence, _SOME_DAY, relative=False) if d.span]
    except DateError:
        spans = []
    spans += occurrence_spans(sentence)
    spans += [m.span() for m in _NOT_COUNTS.finditer(sentence)]
    chars = list(sentence)
    for a, b in spans:
        chars[a:b] = " " * (b - a)
    sentence = "".join(chars)
    asked = {n.rstrip(",.") for n in _NUMBER.findall(question)}
    return _NUMBER.sub(lambda m: " " if m.group(0).rstrip(",.") in asked else m.group(0), sentence)


def may_answer(question: str, texts: list[str]) -> list[bool]:
    """Which sentences may answer: for a who / when / how-many / which-province
    question, those that name a person / a date / a number / a place beyond what the question says,
    when any does; else all."""
    kind = question_type(question)
    typed = [sentence_has_type(kind, beyond_question(kind, t, question)) for t in texts]
    return typed if any(typed) else [True] * len(texts)
