"""Stage 3b, what the question asks of a release beyond its topic: published by the
day it is asked, of the date it names, the occurrence it names, the newest.

In: the scored candidates, the ``Query``. Out: the candidates in their final order,
and whether the question is answered at all.

The rule: the candidates within ``topic_margin`` of the best score, in units of the
best's lead over the median candidate, are the releases that match the topic. Among
them, a release naming the asked occurrence comes before one naming none, which comes
before a look-alike naming another; then one of the asked date (published that day, or
naming it) before one published up to ``date_slack`` days after, before the rest;
then, for a question asking for the latest, the newest; then the score. Below the
topic, the score alone. A question whose occurrence only look-alikes name, their titles
naming others of the series, is not answered (the corpus has no such meeting).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from retrieval.index.vector_index import VectorIndex
from retrieval.question.dates import DateError, DateRange, find_dates
from retrieval.question.occurrences import agreement, find_occurrences
from retrieval.question.query import Query
from retrieval.ranking.constants import Ranking

Scores = dict[int, float]

# past this many passages on the days named (a month of cabinet summaries), the days
# add no candidates of their own
DATED_LIMIT = 20_000
# the spread of scores is the best's lead over the median of this many candidates
_SPREAD = 50


def day(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def date_window(query: Query, ranking: Ranking) -> tuple[str, str] | None:
    """The days whose releases may answer a question naming dates (ISO)."""
    if not query.dates:
        return None
    first = min(d.first for d in query.dates)
    last = max(d.last for d in query.dates) + dt.timedelta(days=ranking.date_slack)
    return first.isoformat(), last.isoformat()


def dated_candidates(
    qvec: np.ndarray, chunk_ids: list[int], index: VectorIndex, k: int
) -> list[tuple[int, float]]:
    """The ``k`` passages of ``chunk_ids`` nearest the question (exact cosines)."""
    kept, vectors = index.vectors(chunk_ids)
    if not kept:
        return []
    cosines = vectors @ qvec
    order = np.argsort(-cosines)[:k]
    return [(kept[i], float(cosines[i])) for i in order]


@dataclass(frozen=True)
class Release:
    doc_id: str
    date: dt.date | None
    title: str


def published(scores: Scores, releases: dict[int, Release], today: dt.date | None) -> Scores:
    """The candidates whose release was out by ``today``."""
    if today is None:
        return scores

    def out(c: int) -> bool:
        return c in releases and (releases[c].date is None or releases[c].date <= today)

    return {c: s for c, s in scores.items() if out(c)}


def _date_level(dates: tuple[DateRange, ...], release: Release, text: str, slack: int) -> int:
    if not dates:
        return 0
    if release.date and any(release.date in d for d in dates):
        return 2
    try:
        named = find_dates(text, release.date or dt.date.today())
    except DateError:
        named = []
    if any(n.first <= d.last and d.first <= n.last for n in named for d in dates):
        return 2
    if release.date and any(d.last < release.date <= d.last + dt.timedelta(days=slack)
                            for d in dates):  # fmt: skip
        return 1
    return 0


def order(
    scores: Scores,
    query: Query,
    releases: dict[int, Release],
    passage_texts,
    ranking: Ranking,
) -> tuple[list[int], bool]:
    """(the candidates in order, whether the question may be answered).
    ``passage_texts(ids)``: {chunk id: text}, read only for the topic's candidates."""
    ranked = sorted(scores, key=lambda c: scores[c], reverse=True)
    if not ranked or not (query.dates or query.latest or query.occurrences):
        return ranked, True
    best = scores[ranked[0]]
    # the margin is in units of the candidates' spread, as scores are on different
    # scales for Thai and for (re-scored) English questions
    spread = best - scores[ranked[min(len(ranked), _SPREAD) // 2]]
    topic = [c for c in ranked if scores[c] >= best - ranking.topic_margin * spread]
    texts = passage_texts(topic) if query.dates or query.occurrences else {}
    asked = set(query.occurrences)

    def key(c: int):
        release = releases.get(c)
        if release is None:
            return (0, 0, 0, scores[c])
        text = f"{release.title}\n{texts.get(c, '')}"
        occurrence = agreement(asked, find_occurrences(text)) if asked else 1
        date = _date_level(query.dates, release, texts.get(c, ""), ranking.date_slack)
        newest = release.date.toordinal() if query.latest and release.date else 0
        return (occurrence, date, newest, scores[c])

    keys = {c: key(c) for c in topic}
    first = sorted(topic, key=lambda c: keys[c], reverse=True)
    # not answered: nothing on the topic names the asked occurrence, and the releases'
    # titles name others of the series
    answerable = (
        not asked
        or any(keys[c][0] > 0 for c in topic)
        or not any(
            c in releases and agreement(asked, find_occurrences(releases[c].title)) == 0
            for c in topic
        )
    )
    return first + ranked[len(topic) :], answerable
