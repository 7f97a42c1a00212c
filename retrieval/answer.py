"""Choosing the answer sentence among the sentences of the top passages.

Two measured ideas on top of plain query-sentence cosine (see
``benchmarks/answer_sentence.py`` and docs/quality.md):

- Topic residual: every sentence of a release shares its topic, so the sentence
  that restates the question's topic ("the 6th AMCC") wins a plain cosine even
  when another sentence holds the answer ("Josephine Teo chaired"). Removing the
  direction of the release's title from both the question and the sentence
  vectors before comparing them scores what a sentence adds beyond the topic.
- Answer type: a who / when / how-many question is answered by a sentence that
  names a person / a date / a number. When some candidates do, only they compete.
- Word overlap: the share of the question's IDF mass that a sentence contains,
  added with weight 0.5, scaled by how far the corpus knows the question's words
  (0 for an English question over Thai text, where overlap means nothing).
"""

from __future__ import annotations

import re

import numpy as np

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
            r"|กี่|เท่าไ[หร]|เท่าใด",
            re.I,
        ),
    ),
]

_SENTENCE_TYPES = {
    "person": re.compile(
        r"(?:^|[\s(])(?:นาย|นาง|นางสาว|ดร\.|พล\.|พระ|สมเด็จ|ศาสตราจารย์"
        r"|Mr\.|Mrs\.|Ms\.|Dr\.|H\.E\.|Sir |King |Queen |President |Pope )"
    ),
    "date": re.compile(
        r"\b1\d{3}\b|\b2[05]\d{2}\b|ค\.ศ\.|พ\.ศ\.|ศตวรรษ|century|มกราคม|กุมภาพันธ์|มีนาคม|เมษายน"
        r"|พฤษภาคม|มิถุนายน|กรกฎาคม|สิงหาคม|กันยายน|ตุลาคม|พฤศจิกายน|ธันวาคม|January|February"
        r"|March|April|May|June|July|August|September|October|November|December"
    ),
    "number": re.compile(r"\d|หนึ่ง|สอง|สาม|สี่|ห้า|หก|เจ็ด|แปด|เก้า|สิบ|ร้อย|พัน|หมื่น|แสน|ล้าน"),
}


def question_type(question: str) -> str | None:
    """``person``, ``date``, ``number`` or None (any sentence may answer)."""
    for name, pattern in _QUESTION_TYPES:
        if pattern.search(question):
            return name
    return None


def sentence_has_type(kind: str | None, sentence: str) -> bool:
    return bool(kind) and bool(_SENTENCE_TYPES[kind].search(sentence))


def may_answer(question: str, texts: list[str]) -> list[bool]:
    """Which sentences may answer: for a who / when / how-many question, those that
    name a person / a date / a number, when any does; else all."""
    kind = question_type(question)
    typed = [sentence_has_type(kind, t) for t in texts]
    return typed if any(typed) else [True] * len(texts)


def topic_residual_scores(
    query: np.ndarray, sentences: np.ndarray, topics: np.ndarray
) -> np.ndarray:
    """Cosine of query and sentence after removing each sentence's topic direction.

    ``sentences`` [n, d] and ``topics`` [n, d] (the title vector of each sentence's
    release) are unit vectors; ``query`` [d] too.
    """
    s_dot_t = np.sum(sentences * topics, axis=1, keepdims=True)
    s_res = sentences - s_dot_t * topics
    q_res = query[None, :] - (topics @ query)[:, None] * topics
    num = np.sum(s_res * q_res, axis=1)
    den = np.linalg.norm(s_res, axis=1) * np.linalg.norm(q_res, axis=1) + 1e-9
    return num / den


OVERLAP_WEIGHT = 0.5  # benchmarks/answer_sentence.py: TH 0.620 -> 0.655, EN unchanged


def overlap_scores(idf: dict[str, float], sentence_terms: list[set[str]]) -> np.ndarray:
    """Share of the question terms' IDF mass (``idf``: term -> weight) in each sentence."""
    total = sum(idf.values())
    if not total:
        return np.zeros(len(sentence_terms))
    return np.array([sum(w for t, w in idf.items() if t in terms) / total
                     for terms in sentence_terms])  # fmt: skip


def choose_sentence(
    question: str,
    query: np.ndarray,
    texts: list[str],
    sentences: np.ndarray,
    topics: np.ndarray | None,
    *,
    answer_types: bool = True,
    overlap: np.ndarray | None = None,
) -> tuple[int, float]:
    """Index and score of the answer sentence among ``texts``; without ``topics`` the
    plain cosine is used, ``answer_types=False`` turns the type filter off, and
    ``overlap`` (already weighted, one value per sentence) is added to the score."""
    if topics is None:
        scores = sentences @ query
    else:
        scores = topic_residual_scores(query, sentences, topics)
    if overlap is not None:
        scores = scores + overlap
    if answer_types:
        scores = np.where(may_answer(question, texts), scores, -np.inf)
    best = int(np.argmax(scores))
    return best, float(scores[best])


def sentences_to_embed(
    overlap: np.ndarray, texts: list[str], margin: float, most: int
) -> list[int]:
    """Indices (in order) of the candidate sentences worth embedding: those whose
    word-overlap score is within ``margin`` of the best's (0: all), and of those the
    ``most`` distinct texts with the most overlap (0: all; a sentence in two passages
    is one). The others could win only by a larger lead in the cosine part."""
    keep = list(range(len(texts)))
    if margin > 0:
        keep = [i for i in keep if overlap[i] >= overlap.max() - margin]
    if most and len({texts[i] for i in keep}) > most:
        chosen: set[str] = set()
        for i in sorted(keep, key=lambda i: -overlap[i]):  # stable: ties keep their order
            if len(chosen) == most:
                break
            chosen.add(texts[i])
        keep = [i for i in keep if texts[i] in chosen]
    return keep
