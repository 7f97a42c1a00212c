"""Stage 3, re-scoring the top passages: what a passage's vector misses.

In: the fused scores, the question, the passages' texts. Out: the scores, the top
ones raised; the passages after them gain the least any top one gained, or nothing,
so they stay behind.

- ``by_sentences``, for a centred question (Latin letters): a passage's vector is the
  model's reading of the whole of it; an English question asks about one sentence,
  whose vector alone the model aligns across languages, and whose tokens can be
  aligned with the question's one by one (``ranking.align``).
- ``by_grams``, for a question with Thai letters: the BM25 of its character 3-grams
  among the top passages, which matches words newmm cut differently or spelt
  differently, and among one article's paragraphs weighs most what tells them apart.
"""

from __future__ import annotations

import math

import numpy as np

from corpus.store import Store
from retrieval.ranking.align import alignment
from retrieval.ranking.constants import Ranking
from retrieval.ranking.embedded import Embedded
from retrieval.ranking.fusion import Scores
from retrieval.text.grams import gram_shares
from retrieval.text.normalise import is_thai, mostly_thai
from retrieval.text.sentences import answer_spans


def by_sentences(
    scores: Scores,
    question: np.ndarray,
    query: str,
    store: Store,
    embedded: Embedded,
    ranking: Ranking,
    releases: dict | None = None,
) -> Scores:
    """The top ``sentence_passages`` (those within ``sentence_margin`` of the first;
    with ``releases`` ({id: its release}), each release's best only, so that one
    release's passages leave room for others) each gain ``sentence_weight`` x the
    centred cosine of their best whole sentence (``text.answer_spans``: what an answer
    is shown as; ``question``: the centred question), embedded alone, and
    ``sentence_alignment`` x the best token alignment of one of them with the
    question."""
    head = sorted(scores, key=lambda c: scores[c], reverse=True)
    if releases is not None:
        best: dict = {}  # each release's best passage, in order
        for c in head:
            best.setdefault(releases[c].doc_id if c in releases else c, c)
        head = list(best.values())
    head = head[: ranking.sentence_passages]
    if head and ranking.sentence_margin > 0:
        head = [c for c in head if scores[c] >= scores[head[0]] - ranking.sentence_margin]
        if len(head) == 1:  # nothing near enough to overtake the first
            return scores
    texts = store.chunk_texts(head)
    head = [c for c in head if c in texts]  # a row deleted since the search
    if not head:
        return scores
    spans = {c: [texts[c][a:b] for a, b in answer_spans(texts[c])] or [texts[c]] for c in head}
    owner = [c for c in head for _ in spans[c]]  # the passage of each sentence
    thai = {c: mostly_thai(texts[c]) for c in head}
    sentences = [t for c in head for t in spans[c]]
    asked = None
    if ranking.sentence_alignment > 0 and not is_thai(query):  # see Embedded.question
        asked = embedded.question(query)
    if asked is not None:
        vectors, states = embedded.passage_states(sentences)
    else:
        vectors, states = embedded.passage_vectors(sentences), None
    cosines = embedded.centres().cosines(question, vectors, [thai[c] for c in owner])
    best: dict[int, float] = {}
    for c, cosine in zip(owner, cosines.tolist(), strict=True):
        best[c] = max(best.get(c, -math.inf), ranking.sentence_weight * cosine)
    if states is not None:
        aligned: dict[int, float] = {}
        for c, sentence in zip(owner, states, strict=True):
            score = ranking.sentence_alignment * alignment(*asked[1:], sentence)
            aligned[c] = max(aligned.get(c, -math.inf), score)
        best = {c: b + aligned[c] for c, b in best.items()}
    rest = min(best.values())
    return {c: f + best.get(c, rest) for c, f in scores.items()}


def by_grams(scores: Scores, query: str, store: Store, ranking: Ranking) -> Scores:
    """The top ``gram_passages`` each gain ``gram_weight`` x their BM25 of the question's
    character 3-grams among them over the best one's (``text.grams``)."""
    if ranking.gram_weight <= 0 or ranking.gram_passages <= 0:
        return scores
    head = sorted(scores, key=lambda c: scores[c], reverse=True)[: ranking.gram_passages]
    texts = store.chunk_texts(head)
    head = [c for c in head if c in texts]  # a row deleted since the search
    if len(head) < 2:
        return scores
    shares = gram_shares(query, [texts[c] for c in head])
    if not any(shares):
        return scores
    gain = dict(zip(head, shares, strict=True))
    return {c: f + ranking.gram_weight * gain.get(c, 0.0) for c, f in scores.items()}
