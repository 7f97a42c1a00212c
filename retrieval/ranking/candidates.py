"""Stage 1a, the dense candidates: the passages nearest the question's vector, and for
a question in Latin letters also those nearest it centred (its language taken off).

In: the normalised question, its vector, the index. Out: ``Dense``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from retrieval.index.vector_index import VectorIndex
from retrieval.ranking.centres import Centres
from retrieval.ranking.constants import Ranking
from retrieval.text.normalise import mostly_thai


@dataclass(frozen=True)
class Dense:
    hits: list[tuple[int, float]]  # (chunk id, cosine), nearest first
    centred: np.ndarray | None = None  # the centred question, where it is centred
    nearer: list[int] = field(default_factory=list)  # the passages nearest that


def centred(query: str, ranking: Ranking) -> bool:
    """Whether the question is compared by content, its language taken off: a question
    in Latin letters (the model pulls it towards English passages); Thai questions lost
    by it."""
    return ranking.centres_used and not mostly_thai(query)


def centred_question(qvec: np.ndarray, centring: float, centres: Centres) -> np.ndarray:
    """The question's vector less ``centring`` x the mean English question, unit length."""
    vec = qvec - centring * centres.question
    return (vec / np.linalg.norm(vec)).astype(np.float32)


def dense_candidates(
    query: str, qvec: np.ndarray, index: VectorIndex, k: int, ranking: Ranking, centres
) -> Dense:
    """``centres``: a callable giving the language centres (read only where needed)."""
    want = max(ranking.dense_k, k)
    if not centred(query, ranking):
        return Dense(index.search(qvec, want))
    question = centred_question(qvec, ranking.centring, centres())
    # one FAISS call for both: the language pull can leave the passages nearest the
    # centred question out of the first search
    dense, near = index.search_each(np.stack([qvec, question]), want)
    return Dense(dense, question, [c for c, _ in near[: ranking.dense_k]])
