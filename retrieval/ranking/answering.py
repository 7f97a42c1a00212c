"""Stage 5, the answer sentence: of the sentences of the best release's top passages,
the one that best answers the question (``ranking.answer`` scores them), shown whole.

In: the question, its vector, the passages found, its words (``Words``).
Out: an ``AnswerSentence`` or None.

Only sentences that may answer (the question's type: a number, a date, a person) are
candidates. Their score is the cosine with the question and with the release's topic,
plus, for a question in their language, the overlap of its words (weighed by IDF among
them) and its character 3-grams, or, across languages, its token alignment. A
question in its passages' script is answered from the sentence vectors kept at
indexing; where one candidate is left near enough to win, none is embedded.
"""

from __future__ import annotations

import numpy as np

from corpus.models import Document
from retrieval.index.embed_cache import EmbeddingCache
from retrieval.ranking.align import alignment
from retrieval.ranking.answer import (
    OVERLAP_WEIGHT,
    among_sentences,
    answer_side,
    choose_sentence,
    overlap_scores,
    sentences_to_embed,
)
from retrieval.ranking.answer_types import may_answer
from retrieval.ranking.constants import Ranking
from retrieval.ranking.embedded import Embedded
from retrieval.ranking.facts import PassageFacts
from retrieval.ranking.results import AnswerSentence, Hit
from retrieval.text.chunking import embed_text, passage_offset
from retrieval.text.grams import gram_shares
from retrieval.text.normalise import is_thai, mostly_thai
from retrieval.text.sentences import whole_sentence_units
from retrieval.text.words import index_words, word_tokens


def most_whole(candidates: list, texts: list[str], best: int) -> int:
    """Of the candidates whose sentence is ``texts[best]`` (a sentence repeated at the
    start of the next passage), the one whose whole sentence the passage holds most
    of: a passage can start in the middle of one."""
    same = [i for i, t in enumerate(texts) if t == texts[best]]
    return max(same, key=lambda i: candidates[i][4] - candidates[i][3])


class SentenceChooser:
    """Chooses the answer sentence; safe to call from several threads."""

    def __init__(
        self,
        facts: PassageFacts,
        embedded: Embedded,
        sentences: EmbeddingCache | None,
        ranking: Ranking,
    ) -> None:
        self.facts = facts
        self.embedded = embedded
        self.sentences = sentences  # the sentence vectors kept at indexing
        self.ranking = ranking

    def choose(
        self,
        question: str,
        qvec: np.ndarray,
        hits: list[Hit],
        terms: list[str],
        coverage: float,
        weights,
        *,
        asks: str | None = None,
    ) -> AnswerSentence | None:
        """``question``: normalised; ``weights(terms)``: the terms' IDF over the passages;
        ``asks``: the text whose question word gives the answer's type (a follow-up's
        own words), else ``question``."""
        if not hits:
            return None
        r = self.ranking
        top = hits[0].document
        candidates = []  # crfcut's sentences, each with its whole sentence's span
        cut: dict[str, list[str]] = {}  # a sentence's newmm tokens, where the splitter made them
        for hit in hits[: r.answer_passages]:
            if hit.document.doc_id != top.doc_id:
                continue
            for group in whole_sentence_units(hit.chunk.text):
                for a, b, raw in group:
                    candidates.append((hit, a, b, group[0][0], group[-1][1]))
                    if raw is not None:
                        cut.setdefault(hit.chunk.text[a:b], raw)
        texts = [hit.chunk.text[a:b] for hit, a, b, _, _ in candidates]
        allowed = may_answer(asks or question, texts)  # only those may win: embed no others
        every = (candidates, texts, allowed)  # all, in passage order, for beside()
        candidates = [c for c, k in zip(candidates, allowed, strict=True) if k]
        texts = [t for t, k in zip(texts, allowed, strict=True) if k]
        if not candidates:
            return None
        overlap = None
        tokens: dict[str, list[str]] = {}
        if terms and coverage > 0:
            # every distinct sentence, those the answer type filters out too: the
            # question's words are weighed among all of them (newmm's tokens of the
            # split, made words: one pass of newmm, not two)
            tokens = {t: index_words(cut[t]) if t in cut else word_tokens(t)
                      for t in dict.fromkeys(every[1])}  # fmt: skip
            words = {t: set(ts) for t, ts in tokens.items()}
            idf = weights(terms)
            if r.sentence_idf:
                idf = among_sentences(idf, list(words.values()))
            overlap = OVERLAP_WEIGHT * coverage * overlap_scores(idf, [words[t] for t in texts])
            if r.answer_grams > 0 and is_thai(question):
                overlap = overlap + coverage * self.gram_share(question, texts, words)
            # embed only the sentences sharing most of its words: their overlap outweighs
            # the cosine part of the score, so the others rarely win
            keep = sentences_to_embed(overlap, texts, r.answer_margin, r.answer_candidates)
            candidates = [candidates[i] for i in keep]
            texts = [texts[i] for i in keep]
            overlap = overlap[keep]
            if r.answer_margin > 0 and len(set(texts)) == 1:  # one can win: embed none
                hit, _, _, a, b = self.beside(question, every, texts[0], tokens)
                return AnswerSentence(hit.chunk.text[a:b], top.doc_id, hit.chunk.chunk_id,
                                      a, b, float(overlap[0]))  # fmt: skip
        stored = None
        same_script = self._same_script(question, candidates)
        if r.stored_sentences and same_script:
            stored = self._stored_vectors(candidates, top)
        asked = None
        if not same_script and not is_thai(question) and r.answer_alignment > 0:
            asked = self.embedded.question(question)  # Thai words: their overlap says it
        if stored is not None:
            vecs, topics = stored
        elif asked is not None:
            # across scripts word overlap says nothing; token alignment does the like
            embedded, states = self.embedded.passage_states([*texts, top.title])
            vecs, topics = embedded[:-1], np.repeat(embedded[-1:], len(texts), axis=0)
            aligned = r.answer_alignment * np.array(
                [alignment(*asked[1:], sentence) for sentence in states[:-1]]
            )
            overlap = aligned if overlap is None else overlap + aligned
        else:
            embedded = self.embedded.passage_vectors([*texts, top.title])
            vecs, topics = embedded[:-1], np.repeat(embedded[-1:], len(texts), axis=0)
        best, score = choose_sentence(
            question, qvec, texts, vecs, topics, answer_types=False, overlap=overlap
        )  # the candidates are already those that may answer
        hit, _, _, a, b = self.beside(question, every, texts[best], tokens)
        return AnswerSentence(hit.chunk.text[a:b], top.doc_id, hit.chunk.chunk_id, a, b, score)

    def beside(self, question: str, every: tuple, chosen: str, tokens: dict):
        """The candidate ``(hit, start, end, whole start, whole end)`` to show for the
        sentence ``chosen``: the one next to it in its passage where a Thai question's
        answer lies on that side (``answer.answer_side``) and that one may answer too,
        else ``chosen`` (``most_whole``). ``every``: all the candidates in passage
        order, their texts and whether each may answer; ``tokens``: ``word_tokens`` of
        sentences at hand."""
        candidates, texts, allowed = every
        shown = most_whole(candidates, texts, texts.index(chosen))
        if not self.ranking.answer_side or not is_thai(question):
            return candidates[shown]
        side = answer_side(word_tokens(question), tokens.get(chosen) or word_tokens(chosen))
        if not side:
            return candidates[shown]
        # from the instance shown first: a sentence repeated at the start of the next
        # passage has a neighbour there too
        for i in sorted((i for i, t in enumerate(texts) if t == chosen), key=lambda i: i != shown):
            j = i + side
            if 0 <= j < len(candidates) and candidates[j][0] is candidates[i][0] and allowed[j]:
                return candidates[j]
        return candidates[shown]

    def gram_share(self, question: str, texts: list[str], among: dict) -> np.ndarray:
        """``answer_grams`` x each of ``texts``' BM25 of the question's character 3-grams
        over the best one's, with document frequencies from ``among`` (the distinct
        sentences the answer is chosen from)."""
        shares = dict(zip(among, gram_shares(question, list(among)), strict=True))
        return self.ranking.answer_grams * np.array([shares[t] for t in texts])

    def _same_script(self, question: str, candidates: list) -> bool:
        """Whether the question is in the script of every candidate's passage: kept
        sentence vectors choose as well as embedded ones within a language and much
        worse across."""
        chunk_ids = list(dict.fromkeys(hit.chunk.chunk_id for hit, *_ in candidates))
        scripts = self.facts.scripts(chunk_ids)
        thai = mostly_thai(question)
        return all(scripts.get(c) == thai for c in chunk_ids)

    def _stored_vectors(self, candidates: list, doc: Document):
        """The kept vectors of the candidate sentences and of the release's title, each
        sentence's topic (``(sentences, topics)``), or None unless every candidate's
        span was kept. The title's vector is embedded here where it was not kept."""
        if self.sentences is None:
            return None
        embedder = self.embedded.embedder
        shift = passage_offset(doc)
        keys = {hit.chunk.chunk_id: embedder.embed_key(embed_text(doc, hit.chunk.text))
                for hit, *_ in candidates}  # fmt: skip
        kept = self.sentences.sentences(list(keys.values()))
        vecs = []
        for hit, a, b, *_ in candidates:
            vec = kept.get(keys[hit.chunk.chunk_id], {}).get((shift + a, shift + b))
            if vec is None:
                return None
            vecs.append(vec)
        # the title alone, as at indexing: a better topic than the header's pooled states
        title_key = embedder.embed_key(doc.title)
        title = self.sentences.find([title_key]).get(title_key)
        if title is None:
            title = self.embedded.passage_vectors([doc.title])[0]
        return np.stack(vecs), np.repeat(title[None, :], len(vecs), axis=0)
