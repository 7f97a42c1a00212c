"""Stage 2, fusion: one score for every candidate, dense or BM25.

In: the question, its vector, ``Dense`` and ``Words`` candidates, the index.
Out: ``(scores, cosines)``: the fused score and the plain cosine of every candidate.

``weighted`` (the product's): each candidate scores its cosine (centred, for a
centred question) plus ``bm25_weight`` x vocabulary coverage x script share x its
BM25 over the best one's, plus the language bonus. Scores, not ranks: BM25 moves a
candidate by how well it matches against the best match, and a wide cosine gap
stands. ``reciprocal_rank`` (and one list alone) are the baselines `make eval`
compares with.
"""

from __future__ import annotations

import numpy as np

from retrieval.index.vector_index import VectorIndex
from retrieval.ranking.candidates import Dense
from retrieval.ranking.centres import Centres
from retrieval.ranking.constants import Ranking
from retrieval.ranking.lexical import Words
from retrieval.text.normalise import is_thai, mostly_thai

Scores = dict[int, float]


def cosines_of(qvec: np.ndarray, dense: list, candidates, index: VectorIndex) -> Scores:
    """The cosine of every candidate; one the served index does not hold (a row newer
    than it) is left out."""
    cosines = dict(dense)
    for cid in [c for c in candidates if c not in cosines]:
        vector = index.vector(cid)
        if vector is not None:
            cosines[cid] = float(vector @ qvec)
    return cosines


def reciprocal_rank(
    qvec: np.ndarray, dense: Dense, words: Words, index: VectorIndex, ranking: Ranking
) -> tuple[Scores, Scores]:
    """Reciprocal-rank fusion (``rrf``), or one list alone (``dense``, ``bm25``)."""
    hits = [] if ranking.fusion == "bm25" else dense.hits
    fused: Scores = {}
    for results in (hits, [] if ranking.fusion == "dense" else words.hits):
        for rank, (cid, _) in enumerate(results):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (ranking.rrf_k + rank + 1)
    cosines = cosines_of(qvec, hits, fused, index)
    return {c: f for c, f in fused.items() if c in cosines}, cosines


def weighted(
    query: str,
    qvec: np.ndarray,
    dense: Dense,
    words: Words,
    index: VectorIndex,
    scripts,
    centres: Centres | None,
    ranking: Ranking,
) -> tuple[Scores, Scores]:
    """The product's fusion (module docstring). ``scripts``: chunk ids -> whether each
    is mostly Thai (``PassageFacts.scripts``). BM25 can only match passages in the
    question's script, so its weight is scaled by the share of the dense candidates in
    that script: small for an English question over mostly Thai releases, whose names
    would otherwise draw it to the few English ones."""
    lexical = words.hits
    cosines = cosines_of(qvec, dense.hits, [c for c, _ in lexical] + list(dense.nearer), index)
    best = lexical[0][1] if lexical else 0.0
    use_bm25 = best > 0 and words.coverage > 0 and dense.hits
    # one read of the candidates' scripts serves the language bonus, the share and the
    # passages' centres
    needed = ranking.cross_language or use_bm25 or dense.centred is not None
    script = scripts(list(cosines)) if needed else {}
    similarity = cosines
    if dense.centred is not None:
        similarity = centred_cosines(dense.centred, list(cosines), script, index, centres)
    # a centred question has no language pull left for the bonus to offset
    bonus = language_bonus(query, list(cosines), script, ranking.cross_language,
                           applies=dense.centred is None)  # fmt: skip
    scale = 0.0
    if use_bm25:
        thai = is_thai(query)  # any Thai word can match Thai text
        known = [script[c] for c, _ in dense.hits if c in script]  # rows the store has
        same = sum(1 for t in known if t == thai) / max(1, len(known))
        scale = ranking.bm25_weight * words.coverage * same / best
    bm25 = dict(lexical)
    fused = {c: sim + bonus[c] + scale * bm25.get(c, 0.0) for c, sim in similarity.items()}
    return fused, cosines


def centred_cosines(
    question: np.ndarray, chunk_ids: list[int], scripts: dict, index: VectorIndex, centres
) -> Scores:
    """Each candidate's cosine with the centred question after the mean passage of its
    script (Thai where unknown) comes off its vector."""
    if not chunk_ids:
        return {}
    vectors = np.stack([index.vector(c) for c in chunk_ids])
    thai = [scripts.get(c, True) for c in chunk_ids]
    cosines = centres.cosines(question, vectors, thai)
    return dict(zip(chunk_ids, cosines.tolist(), strict=True))


def language_bonus(
    query: str, chunk_ids: list[int], scripts: dict, amount: float, applies: bool = True
) -> Scores:
    """``amount`` for each passage in the other script than the question's: the model
    scores a question and a passage of the same content 0.07-0.08 higher when they
    share a language, which draws an English question to the few English releases
    and a Thai question away from them."""
    bonus = dict.fromkeys(chunk_ids, 0.0)
    if amount and applies:
        thai = mostly_thai(query)
        for cid in bonus:
            if cid in scripts and scripts[cid] != thai:
                bonus[cid] += amount
    return bonus
