"""From a question to passages and the answer sentence, in five stages:

0. the question is read once into a ``Query`` (``retrieval.question``);
1. candidates: the passages nearest the question's vector (``candidates``), those of
   the days it names (``constraints``) and BM25's for its words (``lexical``), the
   halves run side by side;
2. fusion: one score for each candidate (``fusion``);
3. re-scoring of the top passages by what a passage's vector misses (``rescoring``),
   then by what the question asks of a release: published by its day, its date,
   occurrence, the newest (``constraints``);
4. passages: the top ``k`` releases, or none where even the best is too far or only
   look-alikes name the asked occurrence ("not found");
5. the answer sentence, from the best release's top passages (``answering``).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from corpus.store import Store
from retrieval.encoder.embedder import Embedder
from retrieval.index.embed_cache import EmbeddingCache
from retrieval.index.vector_index import VectorIndex
from retrieval.question.query import Query, parse_question
from retrieval.ranking import constraints, fusion, rescoring
from retrieval.ranking.answer_types import question_type
from retrieval.ranking.answering import SentenceChooser
from retrieval.ranking.candidates import dense_candidates
from retrieval.ranking.constants import Ranking
from retrieval.ranking.embedded import Embedded
from retrieval.ranking.facts import PassageFacts
from retrieval.ranking.lexical import Words, coverage_weight, question_words, term_weights
from retrieval.ranking.results import Answer, AnswerSentence, Hit
from retrieval.text.normalise import is_thai

# the searches' BM25 halves (stage 1b), beside their embedding
_LEXICAL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="prakat-bm25")


class Searcher:
    """Answers questions from a loaded index; safe to call from several threads."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        index: VectorIndex,
        ranking: Ranking | None = None,
        *,
        pinned: bool = False,
        sentences: EmbeddingCache | None = None,
    ) -> None:
        """``pinned``: ``store`` is this searcher's own connection, held at the snapshot
        that matches ``index`` (``Store.pin_snapshot``) and moved on by ``swap_index``.
        ``sentences``: the embedding cache that kept the passages' sentence vectors."""
        self.store = store
        self.sentences = sentences
        self.pinned = pinned
        if pinned:
            store.pin_snapshot()
        self.embedder = embedder
        self.index = index
        self.facts = PassageFacts(store, pinned)
        self.embedded = Embedded(embedder, sentences)
        self.chooser = SentenceChooser(self.facts, self.embedded, sentences, Ranking())
        self.config = ranking or Ranking()
        # searches in flight, and whether a swap waits for them to end
        self._gate = threading.Condition()
        self._active = 0
        self._swapping = False

    @property
    def config(self) -> Ranking:
        return self._config

    @config.setter
    def config(self, ranking: Ranking) -> None:
        self._config = self.chooser.ranking = ranking

    def swap_index(self, index: VectorIndex) -> None:
        """Serve from a new index from now on (a rebuild finished). Waits for the
        searches in flight, so that none sees the new rows with the old index."""
        with self._gate:
            self._swapping = True
            self._gate.wait_for(lambda: self._active == 0)
            try:
                self.index = index
                if self.pinned:
                    self.store.pin_snapshot()
                    self.facts.forget()
            finally:
                self._swapping = False
                self._gate.notify_all()

    def search(self, question: str | Query, k: int = 5, *, with_sentence: bool = True) -> Answer:
        """The top ``k`` passages for ``question`` and the sentence that best answers it.
        ``question``: the text, or a ``Query`` (``parse_question``: its day, the
        conversation). Raises ``DateError`` for a date that does not exist."""
        query = question if isinstance(question, Query) else parse_question(question)
        with self._gate:
            self._gate.wait_for(lambda: not self._swapping)
            self._active += 1
        try:
            return self._search(query, k, with_sentence=with_sentence)
        finally:
            with self._gate:
                self._active -= 1
                self._gate.notify_all()

    def _search(self, q: Query, k: int, *, with_sentence: bool) -> Answer:
        query = q.text
        if not query:
            return Answer(q.asked, None, [], q)
        r, index = self.config, self.index
        # 1. candidates: BM25 needs only the question's words, so its tokenising and FTS5
        # run in another thread while the model embeds the question
        lexical = _LEXICAL.submit(question_words, query, k, len(index), self.facts, r)
        try:
            qvec = self.embedded.question_vector(query, self._aligned)
            dense = dense_candidates(query, qvec, index, k, r, self.embedded.centres)
            dense = self._dated(q, qvec, dense)
        finally:
            words = lexical.result()
        # 2. fusion
        if r.fusion == "weighted":
            centres = self.embedded.centres() if dense.centred is not None else None
            scores, cosines = fusion.weighted(query, qvec, dense, words, index,
                                              self.facts.scripts, centres, r)  # fmt: skip
        else:
            scores, cosines = fusion.reciprocal_rank(qvec, dense, words, index, r)
        # 3. re-scoring (it keeps the candidates: their releases are read once)
        releases = self.facts.releases(list(scores))
        if dense.centred is not None and r.sentence_passages > 0:
            scores = rescoring.by_sentences(scores, dense.centred, query, self.store,
                                            self.embedded, r, releases)  # fmt: skip
        if r.fusion == "weighted" and is_thai(query):
            scores = rescoring.by_grams(scores, query, self.store, r)
        scores = constraints.published(scores, releases, q.today)
        ranked, answerable = constraints.order(scores, q, releases, self.store.chunk_texts, r)
        # 4. passages
        shown, pool = self._passages(ranked, releases, k)
        if not shown or max(cosines[c] for c in shown) < r.min_score or not answerable:
            return Answer(q.asked, None, [], q)
        rows = self.store.get_chunks(list(dict.fromkeys(shown + pool)))
        hit = {c: Hit(rows[c][0], rows[c][1], scores[c], cosines[c]) for c in rows}
        hits = [hit[c] for c in shown if c in hit]
        # 5. the answer sentence
        sentence = None
        if with_sentence:
            asks = q.asked if question_type(q.asked) else query
            sentence = self._answer(query, qvec, [hit[c] for c in pool if c in hit] + hits[1:],
                                    words, asks)  # fmt: skip
        if sentence is not None and sentence.chunk_id in hit and hits:
            # the first release is shown by the passage around its answer
            hits[0] = hit[sentence.chunk_id]
        return Answer(q.asked, sentence, hits, q)

    def _dated(self, q: Query, qvec: np.ndarray, dense):
        """The dense candidates, with the passages of the days the question names."""
        window = constraints.date_window(q, self.config)
        if window is None:
            return dense
        chunk_ids = self.store.chunks_dated(*window)
        if not chunk_ids or len(chunk_ids) > constraints.DATED_LIMIT:
            return dense
        extra = constraints.dated_candidates(qvec, chunk_ids, self.index, self.config.date_k)
        known = {c for c, _ in dense.hits}
        hits = dense.hits + [(c, s) for c, s in extra if c not in known]
        return replace(dense, hits=sorted(hits, key=lambda h: h[1], reverse=True))

    def _passages(self, ranked: list[int], releases: dict, k: int) -> tuple[list[int], list[int]]:
        """(the passages shown: the first ``k``, one a release where
        ``distinct_releases``; the first release's top passages, for the answer)."""
        if not ranked:
            return [], []
        if not self.config.distinct_releases:
            return ranked[:k], ranked[: self.config.answer_passages]
        first = releases[ranked[0]].doc_id if ranked[0] in releases else None
        pool = [c for c in ranked[: self.config.answer_passages]
                if c in releases and releases[c].doc_id == first]  # fmt: skip
        shown, seen = [], set()
        for c in ranked:
            doc = releases[c].doc_id if c in releases else c
            if doc not in seen:
                seen.add(doc)
                shown.append(c)
                if len(shown) == k:
                    break
        return shown, pool[: self.config.answer_passages]

    @property
    def _aligned(self) -> bool:
        """Whether token alignment is read at all (then a question in Latin letters
        makes its token states in the pass that embeds it)."""
        return self.config.sentence_alignment > 0 or self.config.answer_alignment > 0

    def _answer(self, query: str, qvec: np.ndarray, hits: list[Hit], words: Words, asks: str):
        counts = words.counts
        return self.chooser.choose(query, qvec, hits, words.terms, words.coverage,
                                   lambda terms: self.term_weights(terms, counts),
                                   asks=asks)  # fmt: skip

    def answer_sentence(
        self,
        question: str,
        qvec: np.ndarray,
        hits: list[Hit],
        terms: list[str] = (),
        coverage: float = 0.0,
        counts: dict[str, int] | None = None,
    ) -> AnswerSentence | None:
        """Stage 5 alone: the answer sentence among ``hits`` for a normalised question."""
        return self.chooser.choose(question, qvec, hits, list(terms), coverage,
                                   lambda ts: self.term_weights(ts, counts))  # fmt: skip

    def term_counts(self, terms: list[str]) -> dict[str, int]:
        return self.facts.term_counts(terms)

    def term_weights(
        self, terms: list[str], counts: dict[str, int] | None = None
    ) -> dict[str, float]:
        """IDF of each distinct query term over the indexed passages (unknown: rarest)."""
        if counts is None:
            counts = self.term_counts(terms)
        return term_weights(terms, counts, len(self.index))

    def lexical_weight(self, terms: list[str]) -> float:
        """How far BM25 can be trusted for these terms (``lexical.coverage_weight``)."""
        if not terms:
            return 0.0
        return coverage_weight(terms, self.term_counts(terms), len(self.index))
