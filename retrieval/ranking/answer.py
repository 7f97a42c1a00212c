"""Choosing the answer sentence among the sentences of the top passages.

On top of plain query-sentence cosine (docs/design.md, stage 5):

- Topic residual: every sentence of a release shares its topic, so the sentence
  that restates the question's topic ("the 6th AMCC") wins a plain cosine even
  when another sentence holds the answer ("Josephine Teo chaired"). Removing the
  direction of the release's title from both the question and the sentence
  vectors before comparing them scores what a sentence adds beyond the topic.
- Answer type: a who / when / how-many / where question is answered by a sentence
  that names a person / a date / a number / a place (``answer_types``).
- Word overlap: the share of the question's IDF mass that a sentence contains,
  added with weight 0.5, scaled by how far the corpus knows the question's words
  (0 for an English question over Thai text, where overlap means nothing).
- The answer's side: a Thai question keeps its question word where the answer goes,
  so a sentence that ends with the word before it, or starts with the word after it,
  restates the question up to the answer, which is in the next or the previous
  sentence (``answer_side``).
"""

from __future__ import annotations

import math

import numpy as np

from retrieval.ranking.answer_types import may_answer

# Thai question words, as newmm cuts them ("ปีใด" -> ปี | ใด). ไหม is not one here: it
# is also "silk".
THAI_QUESTION_WORDS = frozenset(
    "อะไร ใคร ใด ไหน ที่ไหน ที่ใด เมื่อไร เมื่อไหร่ เมื่อใด อย่างไร ยังไง เท่าไร เท่าไหร่ เท่าใด "
    "กี่ ทำไม เหตุใด หรือไม่ หรือเปล่า บ้าง สิ่งใด ผู้ใด คนใด แห่งใด วันใด ที่ไหนบ้าง "
    "อย่างไรบ้าง".split()
)
# ... those that stand where the answer goes (not a yes/no question's, not บ้าง "any"),
# also as the end of a word newmm did not cut ("เพราะอะไร", "ประเทศใด")
_SLOT_WORDS = THAI_QUESTION_WORDS - {"หรือไม่", "หรือเปล่า", "บ้าง"} | {"ไร", "ไหร่", "แค่ไหน"}
_SLOT_ENDINGS = ("อะไร", "ใด", "ไหน", "ใคร", "เท่าไร", "ไหร่")
# Words that say nothing of where the answer goes ("มี", "เป็น", "ของ", "ที่", ...): left
# out when finding the word before the question word and the ends of a sentence
_SLOT_FILLERS = frozenset(
    "คือ ที่ เป็น มี ได้ ของ ใน จะ การ มาก แค่ นั้น นี้ ให้ ว่า และ ซึ่ง โดย กับ หรือ ต่อ สำหรับ "
    "จาก ถึง แก่ เพื่อ ด้วย".split()
)
# The word right after the question word opens a relative clause or a phrase ("สิ่งใด
# ที่ ...", "ทิศใด ระหว่าง ..."), not the question's predicate: the question word is
# then no subject whose predicate a sentence could start with
_NOT_PREDICATE = frozenset("ที่ ซึ่ง ของ ใน ระหว่าง จาก กับ แก่ ต่อ สำหรับ ถึง เพื่อ ด้วย โดย".split())


def _slot(words: list[str]) -> int | None:
    for i, word in enumerate(words):
        if word in _SLOT_WORDS or word.endswith(_SLOT_ENDINGS):
            return i
    return None


def answer_side(question_words: list[str], sentence_words: list[str]) -> int:
    """Where the answer to a Thai question lies from a sentence that restates it
    (``word_tokens`` of both): 1 the next sentence, -1 the previous one, 0 this one.

    Thai leaves the question word in the answer's place ("คณะรัฐมนตรีมีมติเห็นชอบอะไร":
    the cabinet approved *what*). A sentence ending with the question's last content
    word before it ("... มีมติเห็นชอบ") stops where the answer starts: it follows.
    A question word followed by its predicate ("พรรคใด มีฐานเสียง ...") asks for the
    subject, and a sentence starting with that predicate ("มีฐานเสียงเยอะสุด ...") has
    left its subject in the sentence before. crfcut cuts Thai text into clauses, often
    there.
    """
    at = _slot(question_words)
    if at is None or not sentence_words:
        return 0
    before = [w for w in question_words[:at] if w not in _SLOT_FILLERS]
    content = [w for w in sentence_words if w not in _SLOT_FILLERS]
    if before and content and "".join(content).endswith(before[-1]):
        return 1
    after = question_words[at + 1] if at + 1 < len(question_words) else None
    if after and after not in _NOT_PREDICATE and sentence_words[0] == after:
        return -1
    return 0


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


OVERLAP_WEIGHT = 0.5  # beside cosines of ~0.1-0.5 (docs/quality.md)


def among_sentences(idf: dict[str, float], sentences: list[set[str]]) -> dict[str, float]:
    """Each question term's weight ``idf`` (its IDF over the corpus) times its IDF among
    ``sentences``, the words of the distinct sentences the answer is chosen from (BM25's
    log(1 + (N - n + 0.5) / (n + 0.5))). A word most of them hold is the release's
    topic, as its title is for the topic residual, and tells them apart little: "จาเรด
    อัลเลน" in every sentence of his paragraph against "แซ็ค" in the one that counts his
    sacks.
    """
    n = len(sentences)
    held = {t: sum(1 for words in sentences if t in words) for t in idf}
    return {t: w * math.log(1 + (n - held[t] + 0.5) / (held[t] + 0.5)) for t, w in idf.items()}


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
