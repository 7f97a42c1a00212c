"""Stage 1b, the BM25 candidates: the question's words, how far the corpus knows them
(vocabulary coverage), and the passages BM25 ranks first for them.

In: a normalised question, the number of passages served, the store and its facts.
Out: ``Words`` (terms, their passage counts, the coverage weight, BM25 candidates).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from corpus.store import Store
from retrieval.ranking.answer import THAI_QUESTION_WORDS
from retrieval.ranking.constants import Ranking
from retrieval.ranking.facts import PassageFacts
from retrieval.text.words import word_tokens

_EN_STOP = frozenset(
    "a an and are as at be by did do does for from has have how in is it its of on or the to "
    "was were what when where which who whom whose why will with".split()
)
# Thai question words rarely occur in a passage: as BM25 terms they would favour the
# odd passage that has one, and one the corpus lacks would lower the coverage.
QUERY_STOP = _EN_STOP | THAI_QUESTION_WORDS


def query_terms(query: str) -> list[str]:
    """The words of a (normalised) question that BM25 and the answer's word overlap use:
    its ``word_tokens`` without English function words and Thai question words."""
    return [t for t in word_tokens(query) if t not in QUERY_STOP]


@dataclass(frozen=True)
class Words:
    terms: list[str]
    counts: dict[str, int]  # passages holding each term
    coverage: float  # how far BM25 can be trusted for these terms (coverage_weight)
    hits: list[tuple[int, float]]  # BM25 candidates: (chunk id, score), best first


def term_weights(terms: list[str], counts: dict[str, int], passages: int) -> dict[str, float]:
    """IDF of each distinct term over the passages (a term no passage holds: the rarest)."""
    n_chunks = max(1, passages)
    return {t: math.log(1 + n_chunks / counts[t]) if counts.get(t) else math.log(1 + n_chunks)
            for t in dict.fromkeys(terms)}  # fmt: skip


def coverage_weight(terms: list[str], counts: dict[str, int], passages: int) -> float:
    """The IDF mass of the terms the corpus knows over that of all terms, from 0 at 70%
    coverage to 1 at 100%: ~1 for a Thai question over Thai text, 0 for an English one
    over Thai text even where a name in it occurs, which then ranks by cosine alone."""
    if not terms or passages == 0:
        return 0.0
    idf = term_weights(terms, counts, passages)
    total = sum(idf[t] for t in terms)
    known = sum(idf[t] for t in terms if counts.get(t))
    coverage = known / total if total else 0.0
    return max(0.0, (coverage - 0.7) / 0.3)


def finding_terms(
    terms: list[str], counts: dict[str, int], passages: int, ranking: Ranking
) -> list[str]:
    """The terms FTS5 finds candidates by: those in at most ``common_share`` of the
    passages and ``common_postings`` of them (a word like การ matches most passages,
    costs the most time and moves the ranking least), numbers always (the "6" of "AMCC
    ครั้งที่ 6" tells the 6th meeting from the 5th), or the three rarest if every term
    is common."""
    limit = ranking.common_share * passages
    if ranking.common_postings:
        limit = min(limit, ranking.common_postings)
    keep = [t for t in terms if counts.get(t, 0) <= limit or any(c.isdigit() for c in t)]
    return keep or sorted(dict.fromkeys(terms), key=lambda t: counts.get(t, 0))[:3]


def bm25_candidates(
    store: Store,
    terms: list[str],
    counts: dict[str, int],
    limit: int,
    common: list[str] = (),
    budget: int = 0,
) -> list[tuple[int, float]]:
    """The ``limit`` best BM25 candidates for ``terms`` + ``common``: (chunk id, score).

    ``common`` words find no candidates (their posting lists are FTS5's time) but add
    their BM25 to the candidates' scores, as FTS5 would have. Past ``budget`` postings
    in all, FTS5 ranks a pool of 4 x ``limit`` by the rarest terms within the budget and
    the others add their BM25 (``Store.add_bm25``): the scores are exact, only a passage
    holding none of the rarest terms cannot be a candidate."""
    if budget <= 0 or sum(counts.get(t, 0) for t in set(terms)) <= budget:
        return store.add_bm25(store.lexical_search(terms, limit), common, counts)
    rare, spent = [], 0
    for t in sorted(set(terms), key=lambda t: counts.get(t, 0)):
        if spent and spent + counts.get(t, 0) > budget:  # words no passage holds cost 0
            break
        rare.append(t)
        spent += counts.get(t, 0)
    # a term the vocabulary lacks (count 0: none, or a phrase like "2.6" that FTS5 cuts
    # in two) is among the rarest, so the rest are single vocabulary words
    pool = store.lexical_search([t for t in terms if t in rare], 4 * limit)
    rest = [t for t in terms if t not in rare] + list(common)
    return store.add_bm25(pool, rest, counts)[:limit]


def question_words(
    query: str, k: int, passages: int, facts: PassageFacts, ranking: Ranking
) -> Words:
    """Everything of the search that needs no vector, for a normalised question."""
    terms = query_terms(query)
    counts = facts.term_counts(terms) if terms else {}
    coverage = coverage_weight(terms, counts, passages)
    hits = []
    wanted = ranking.fusion in ("rrf", "bm25") or (ranking.fusion == "weighted" and coverage > 0)
    if wanted and any(counts.get(t) for t in terms):
        finders = finding_terms(terms, counts, passages, ranking)
        # FTS5's IDF of a word in half the passages or more is ~0: such words would add
        # nothing but the time to score them
        common = [t for t in terms if t not in finders and counts.get(t, 0) < passages / 2]
        hits = bm25_candidates(facts.store, finders, counts, max(ranking.lexical_k, k), common,
                               ranking.lexical_budget)  # fmt: skip
    return Words(terms, counts, coverage, hits)
