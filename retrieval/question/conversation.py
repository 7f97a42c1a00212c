"""Follow-up questions: one that lacks its subject ("and the 7th?", "แล้วใช้งบเท่าไร",
"who signed for the Saudi side?") is completed from the question before it; one that
stands alone is left as it is."""

from __future__ import annotations

import re
import threading
import time
from typing import TYPE_CHECKING

from retrieval.question.occurrences import find_occurrences, renumber

if TYPE_CHECKING:
    from retrieval.question.query import Query

# a question that goes on from the one before: it starts with "and", "แล้ว", "ส่วน",
# ends its subject with "ล่ะ", or points back with a pronoun
_FOLLOW_UP = re.compile(
    r"^(?:and|so|then|also|what about|how about)\b"
    r"|\b(?:it|its|that|those|them|they|their|this|these|he|she|his|her|him)\b"
    r"|^(?:แล้ว|และ|ส่วน)|ล่ะ|ดังกล่าว|เรื่องนี้|งานนี้|ที่นั่น",
    re.I,
)


# "the expo" after a question about the World Horticultural Expo: a definite noun
# that names nothing of its own points back to the question before
_DEFINITE = re.compile(r"\bthe\s+([a-z]+)", re.I)
_OWN_NAMES = re.compile(r"\d|(?<!^)(?<![.?!]\s)\b[A-Z]")


def needs_subject(question: str) -> bool:
    return bool(_FOLLOW_UP.search(question.strip()))


def refers_back(question: str, before: str) -> bool:
    """Whether ``question``, which names no number and no name of its own, speaks of
    "the" thing ``before`` named."""
    question = question.strip()
    if _OWN_NAMES.search(question):
        return False
    named = {w.lower() for w in re.findall(r"[A-Za-z]+", before)}
    return any(m.group(1).lower() in named for m in _DEFINITE.finditer(question))


def complete(asked: str, previous: Query | None) -> tuple[str, str | None]:
    """(the question as understood, the earlier question it was completed with)."""
    if previous is None or not asked:
        return asked, None
    if not needs_subject(asked) and not refers_back(asked, previous.text):
        return asked, None
    before = previous.text
    own = find_occurrences(asked)
    if len(own) == 1 and find_occurrences(before):
        before = renumber(before, next(iter(own)).number)
        # "and the 7th?" says nothing more than its number: the question before, renumbered
        if len(re.findall(r"\w+", asked)) <= 3:
            return before, previous.text
    return f"{before} {asked}", previous.text


class Conversations:
    """The last question of each conversation (a chat, or a user in a group), kept for
    ``ttl`` seconds; safe to use from several threads."""

    def __init__(self, ttl: float = 1800.0, limit: int = 10_000) -> None:
        self.ttl = ttl
        self.limit = limit
        self._last: dict[object, tuple[float, Query]] = {}
        self._lock = threading.Lock()

    def previous(self, key: object) -> Query | None:
        with self._lock:
            entry = self._last.get(key)
            if entry is None or time.monotonic() - entry[0] > self.ttl:
                self._last.pop(key, None)
                return None
            return entry[1]

    def remember(self, key: object, query: Query) -> None:
        with self._lock:
            if len(self._last) >= self.limit:
                oldest = min(self._last, key=lambda k: self._last[k][0])
                del self._last[oldest]
            self._last[key] = (time.monotonic(), query)

    def forget(self, key: object) -> None:
        with self._lock:
            self._last.pop(key, None)
