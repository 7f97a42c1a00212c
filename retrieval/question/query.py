"""A question read once, at the top of retrieval, into what the ranking stages use: its
language, the dates it names, whether it asks for the newest, the occurrence it names,
and what it was completed with from the conversation."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from retrieval.question.conversation import complete
from retrieval.question.dates import DateRange, find_dates
from retrieval.question.occurrences import Occurrence, find_occurrences
from retrieval.text.normalise import mostly_thai, normalise_query

# words asking for the newest release on a topic
_LATEST = re.compile(
    r"\b(?:latest|newest|most recent|recent(?:ly)?|so far|up to date)\b"
    r"|ล่าสุด|ความคืบหน้า|ตอนนี้",
    re.I,
)


@dataclass(frozen=True)
class Query:
    text: str  # normalised; completed from the conversation where it was a follow-up
    asked: str  # normalised, as typed: its question word decides the answer's type
    lang: str  # "th" or "en"
    today: dt.date | None = None  # releases after it are left out
    dates: tuple[DateRange, ...] = ()
    latest: bool = False
    occurrences: frozenset[Occurrence] = field(default_factory=frozenset)
    completed_from: str | None = None  # the earlier question it was completed with


def parse_question(
    question: str, today: dt.date | None = None, previous: Query | None = None
) -> Query:
    """``question`` read into a ``Query``; ``previous``: the conversation's last question,
    which completes this one where it lacks its subject (``conversation.needs_subject``).
    Raises ``DateError`` for a date that does not exist."""
    asked = normalise_query(question)
    day = today or dt.date.today()
    text, source = complete(asked, previous)
    own_dates = tuple(find_dates(asked, day))
    own = find_occurrences(asked)
    if source is not None and previous is not None:
        dates = own_dates or previous.dates
        occurrences = own or previous.occurrences
        latest = bool(_LATEST.search(asked)) or previous.latest
    else:
        dates, occurrences, latest = own_dates, own, bool(_LATEST.search(asked))
    return Query(
        text=text,
        asked=asked,
        lang="th" if mostly_thai(asked) else "en",
        today=today,
        dates=dates,
        latest=latest,
        occurrences=frozenset(occurrences),
        completed_from=source,
    )


def parse_turns(questions: Sequence[str], today: dt.date | None = None) -> Query:
    """The last of ``questions``, one conversation oldest first, each read after the one
    before it."""
    query = None
    for question in questions:
        query = parse_question(question, today, query)
    return query
