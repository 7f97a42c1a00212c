"""From a question to passages and the answer sentence: dense + BM25, fused."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from corpus.models import Chunk, Document
from corpus.store import Store
from retrieval.encoder.embedder import Embedder
from retrieval.encoder.states import TokenStates
from retrieval.index.embed_cache import EmbeddingCache
from retrieval.index.vector_index import VectorIndex
from retrieval.ranking.align import alignment, token_weights
from retrieval.ranking.answer import (
    OVERLAP_WEIGHT,
    THAI_QUESTION_WORDS,
    among_sentences,
    answer_side,
    choose_sentence,
    may_answer,
    overlap_scores,
    sentences_to_embed,
)
from retrieval.ranking.centres import Centres, language_centres
from retrieval.text.chunking import embed_text, passage_offset
from retrieval.text.grams import gram_shares
from retrieval.text.normalise import is_thai, mostly_thai, normalise_query
from retrieval.text.sentences import answer_spans, whole_sentence_units
from retrieval.text.words import index_words, word_tokens


@dataclass(frozen=True)
class SearchConfig:
    dense_k: int = 50
    lexical_k: int = 50
    rrf_k: int = 60  # rrf fusion
    # weighted fusion: score = cosine + bm25_weight x vocabulary coverage x script share x
    # BM25 / the best BM25 score (+ the two bonuses below); see Searcher._weighted
    bm25_weight: float = 0.1
    answer_passages: int = 3  # the answer sentence is chosen from this many top passages
    # the answer's candidate sentences embedded for a question whose words the corpus
    # knows: the distinct ones sharing most of them (0: all). 6: the answer ~30 ms
    # sooner, answer hits within 1-2 questions either way (docs/quality.md)
    answer_candidates: int = 6
    # ... and of those, only the ones whose word-overlap score is within this of the
    # best's: the cosine parts of the others' scores would have to differ by more to
    # let them win. One left: nothing is embedded. 0.15: no sentence embedded for a
    # third of Thai questions, 3 answers of 1,190 changed on XQuAD-th (docs/quality.md);
    # 0: off
    answer_margin: float = 0.15
    min_score: float = 0.77  # best dense cosine below this: "not found" (measured)
    fusion: str = "weighted"  # weighted (cosine + BM25 by vocabulary coverage), rrf, dense, bm25
    common_share: float = 0.05  # BM25 skips terms found in more than this share of passages
    # ... or in more passages than this (0: no cap): FTS5's time is the length of the
    # words' posting lists, which a share lets grow with the corpus (Searcher._selective)
    common_postings: int = 3000
    # BM25 candidates come from the rarest terms whose posting lists hold at most this
    # many entries in all; the other terms score those candidates (Searcher._lexical).
    # 0: every term finds candidates (FTS5's time grows with the corpus).
    lexical_budget: int = 50_000
    # weighted fusion: a candidate's score gains this much times its BM25 score over the
    # best one's, whatever the question's vocabulary coverage (see Searcher._bonuses)
    tie_break: float = 0.0  # off: it cost English questions among many releases (measured)
    # weighted fusion: a candidate in the other script than the question's (Thai or
    # Latin) gains this much, against the model's same-language pull (Searcher._bonuses)
    cross_language: float = 0.02
    # a question in the script of the passages it is answered from is answered from the
    # sentence vectors kept with each passage (its forward pass's token states, pooled:
    # no model at question time), where they were kept; else its candidate sentences
    # are embedded at question time
    stored_sentences: bool = True
    # weighted fusion: a question in Latin letters is compared with each passage by
    # content, not language: the mean of English questions (times this) comes off the
    # question, the mean of passages in its script off each passage, before the cosine
    # (retrieval/ranking/centres.py; Searcher._centred). 0: off. Thai questions: never
    centring: float = 0.75
    # ... and its top this many passages are re-scored: each gains ``sentence_weight`` x
    # the centred cosine of its best whole sentence, embedded alone at question time
    # (Searcher._sentence_rescored). 0: off
    sentence_passages: int = 5
    sentence_weight: float = 0.75
    # ... of which only those within this of the best fused score: the largest lead a
    # sentence overturned among XQuAD-th's 1,190 English questions was 0.049. One left:
    # nothing is embedded for it. 0: no margin
    sentence_margin: float = 0.1
    # ... and, for a question with no Thai letters, each also gains this x its best
    # sentence's token alignment with the question (retrieval/ranking/align.py): R@1 0.852 ->
    # 0.877 over XQuAD-th. 0: off
    sentence_alignment: float = 3.0
    # a question with no Thai letters answered from passages in the other script adds
    # this x each candidate sentence's token alignment to its score, as a question in
    # the passages' script adds word overlap: EN -> TH answer hits 0.610 -> 0.653
    # (docs/quality.md). 0: off
    answer_alignment: float = 2.0
    # weighted fusion: for a question with Thai letters, the top this many passages each
    # gain ``gram_weight`` x their BM25 of the question's character 3-grams among them
    # over the best one's (retrieval/text/grams.py; Searcher._gram_rescored): XQuAD-th Thai
    # questions R@1 0.954 -> 0.967 (docs/quality.md, "Character n-grams"). 0: off
    gram_passages: int = 30
    gram_weight: float = 0.1
    # a Thai question's answer is the sentence after (before) the one chosen where that
    # one ends with the question's word before its question word (starts with the
    # predicate after it): it restates the question up to the answer (answer.answer_side)
    answer_side: bool = True
    # the answer's word overlap weighs each question word by its IDF over the corpus
    # times its IDF among the sentences it is chosen from: a word most of them hold is
    # the release's topic (answer.among_sentences)
    sentence_idf: bool = True
    # ... and, for a question with Thai letters (as gram_passages), each sentence adds
    # this x its BM25 of the question's character 3-grams among those sentences over
    # the best one's (x vocabulary coverage, as the word overlap). 0: off
    answer_grams: float = 0.1

    @property
    def centres_used(self) -> bool:
        """Whether questions in Latin letters are centred (``Searcher._centring``), and
        so the language centres needed."""
        return self.fusion == "weighted" and self.centring > 0


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    document: Document
    score: float  # fused score (higher is better)
    dense: float  # cosine of query and chunk


@dataclass(frozen=True)
class AnswerSentence:
    text: str
    doc_id: str
    chunk_id: int
    start: int  # offsets into the chunk text
    end: int
    score: float  # compares sentences within one question (word overlap alone when one
    # sentence was near enough to win: search.answer_margin)


@dataclass(frozen=True)
class Answer:
    question: str
    sentence: AnswerSentence | None
    hits: list[Hit]

    @property
    def found(self) -> bool:
        return bool(self.hits)


_EN_STOP = frozenset(
    "a an and are as at be by did do does for from has have how in is it its of on or the to "
    "was were what when where which who whom whose why will with".split()
)
# Thai question words (answer.THAI_QUESTION_WORDS) rarely occur in a passage, so BM25
# gave them a high IDF and favoured the odd passage that did ("ไม่เหมือนใคร"), and one
# the corpus lacks (เมื่อใด, เท่าไร) counted as unknown, lowering the question's
# vocabulary coverage and so BM25's weight. Left out of the query's terms: XQuAD-th
# TH->TH R@1 0.9513 -> 0.9538, iApp 0.9542 -> 0.9569 (docs/quality.md, "Question words").
QUERY_STOP = _EN_STOP | THAI_QUESTION_WORDS


# the searches' BM25 halves (Searcher._lexical_candidates), beside their embedding
_LEXICAL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="prakat-bm25")


def _most_whole(candidates: list, texts: list[str], best: int) -> int:
    """Of the candidates whose sentence is ``texts[best]`` (a sentence repeated at the
    start of the next passage: ``chunking.overlap_sentences``), the one whose whole
    sentence the passage holds most of: a passage can start in the middle of one."""
    same = [i for i, t in enumerate(texts) if t == texts[best]]
    return max(same, key=lambda i: candidates[i][4] - candidates[i][3])


def query_terms(query: str) -> list[str]:
    """The words of a (normalised) question that BM25 and the answer's word overlap use:
    its ``word_tokens`` without English function words and Thai question words."""
    return [t for t in word_tokens(query) if t not in QUERY_STOP]


class Searcher:
    """Answers questions from a loaded index; safe to call from several threads."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        index: VectorIndex,
        config: SearchConfig | None = None,
        *,
        pinned: bool = False,
        sentences: EmbeddingCache | None = None,
    ) -> None:
        """``pinned``: ``store`` is this searcher's own connection, held at the snapshot
        that matches ``index`` (see ``Store.pin_snapshot``) and moved on by
        ``swap_index``. ``sentences``: the embedding cache that kept the passages'
        sentence vectors (``search.stored_sentences``)."""
        self.store = store
        self.sentences = sentences
        self.pinned = pinned
        if pinned:
            store.pin_snapshot()
        self.embedder = embedder
        self.index = index
        self.config = config or SearchConfig()
        self._sentence_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        # token states (retrieval/ranking/align.py) of sentences and of questions, for fewer
        # texts than vectors: a sentence's are ~30 x 384 floats (~45 KB)
        self._state_cache: OrderedDict[str, tuple[np.ndarray, TokenStates]] = OrderedDict()
        self._question_states: OrderedDict[str, tuple | None] = OrderedDict()  # _question
        self._term_counts: dict[str, int] = {}  # pinned only: valid until the next swap
        self._thai: dict[int, bool] = {}  # chunk id -> mostly Thai; pinned only, as above
        self._lock = threading.Lock()
        self._centres: Centres | None = None  # language_centres, on first use
        # searches in flight, and whether a swap waits for them to end
        self._gate = threading.Condition()
        self._active = 0
        self._swapping = False

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
                    with self._lock:
                        self._term_counts.clear()
                        self._thai.clear()
            finally:
                self._swapping = False
                self._gate.notify_all()

    def lexical_weight(self, terms: list[str]) -> float:
        """How far BM25 can be trusted for these query terms.

        Coverage is the IDF mass of the terms the corpus knows over the IDF mass of all
        terms (unknown terms count as the rarest); the weight rises from 0 at 70%
        coverage to 1 at full coverage. A Thai question over Thai text gets ~1; an
        English one gets 0 even when a name or number in it occurs in the corpus, so
        the fusion falls back to dense ranking instead of below it
        (benchmarks/fusion_xquad.py); with ``search.tie_break`` set, those names and
        numbers can still settle near-ties (``_bonuses``).
        """
        if not terms:
            return 0.0
        return self._coverage_weight(terms, self.term_counts(terms))

    def term_counts(self, terms: list[str]) -> dict[str, int]:
        """Passages holding each term. FTS5 counts a term by walking its posting list
        (slow for common words), so a pinned searcher remembers the counts."""
        return self._remembered(self._term_counts, terms, self.store.term_document_counts)

    def _remembered(self, memo: dict, keys: list, fetch, limit: int = 200_000) -> dict:
        """``fetch(keys)`` -> {key: value}. A pinned searcher, whose snapshot only moves
        on ``swap_index``, keeps the values in ``memo`` until then (at most ``limit``)."""
        if not self.pinned:
            return fetch(keys)
        with self._lock:
            known = {k: memo[k] for k in keys if k in memo}
        todo = [k for k in dict.fromkeys(keys) if k not in known]
        if todo:
            fresh = fetch(todo)
            with self._lock:
                if len(memo) > limit:
                    memo.clear()
                memo.update(fresh)
            known.update(fresh)
        return known

    def _coverage_weight(self, terms: list[str], counts: dict[str, int]) -> float:
        if not terms or len(self.index) == 0:  # one vector per chunk: no COUNT(*) here
            return 0.0
        idf = self.term_weights(terms, counts)
        total = sum(idf[t] for t in terms)
        known = sum(idf[t] for t in terms if counts.get(t))
        coverage = known / total if total else 0.0
        return max(0.0, (coverage - 0.7) / 0.3)

    def _selective(self, terms: list[str], counts: dict[str, int]) -> list[str]:
        """The terms FTS5 finds candidates by: those in at most ``common_share`` of the
        passages (a word like การ or ที่ matches most of them, costs the most and
        moves the ranking least; the others only add to the candidates' scores:
        ``_lexical``), or the three rarest if every term is that common.
        Numbers are always kept, however common: "6" in "AMCC ครั้งที่ 6" is what tells
        the 6th meeting's release from the 5th's and 7th's.

        Common is also more than ``common_postings`` passages, whatever the share: the
        share alone let FTS5's work grow with the corpus (at 100,000 passages, 5% is
        5,000 postings a word: FTS5 13.5 ms of a ~30 ms search, 8.6 ms with the cap;
        benchmarks/search_parts.py).
        Below 60,000 passages the share is the smaller, so every evaluation set's
        ranking is as before (docs/performance.md, "Common words capped")."""
        limit = self.config.common_share * len(self.index)
        if self.config.common_postings:
            limit = min(limit, self.config.common_postings)
        keep = [t for t in terms if counts.get(t, 0) <= limit or any(c.isdigit() for c in t)]
        return keep or sorted(dict.fromkeys(terms), key=lambda t: counts.get(t, 0))[:3]

    def _lexical(
        self, terms: list[str], counts: dict[str, int], limit: int, common: list[str] = ()
    ) -> list[tuple[int, float]]:
        """The ``limit`` best BM25 candidates for ``terms`` + ``common``: (chunk id, score).

        ``common`` are the question's words ``_selective`` leaves out as too common
        (``common_share``, ``common_postings``): they find no candidates (their posting
        lists are the longest: FTS5's time) but add their BM25 to the candidates' scores,
        as FTS5 would have. Dropping them outright, as before, cost iApp 0.5 points of R@1 (0.9569
        without them, 0.9623 with them; docs/quality.md, "Common words"). Within the
        budget they rescore FTS5's ``limit`` candidates (a larger pool found no more
        and cost 7 ms a question at 100k passages).

        FTS5 scores every passage that holds any of the terms, so its time is the sum of
        their posting lists: over the whole archive (567,078 passages) questions as long
        as a release title took 80 ms p50 and 180 ms p95 in BM25 alone. Past
        ``lexical_budget`` postings, FTS5 ranks by the rarest terms that fit the budget,
        a pool of 4 x ``limit``, and the other terms add their BM25 to the pool's
        scores as FTS5 would have (``Store.add_bm25``): the scores are exact, only a
        passage that holds none of the rarest terms cannot be a candidate. Over the
        archive: the release of a title's opening words ranked first as often (0.943
        of 122), the passage search at 56 ms p50 instead of 104 (docs/performance.md)."""
        budget = self.config.lexical_budget
        if budget <= 0 or sum(counts.get(t, 0) for t in set(terms)) <= budget:
            # (no common words: add_bm25 returns the rows as they are)
            return self.store.add_bm25(self.store.lexical_search(terms, limit), common, counts)
        rare, spent = [], 0
        for t in sorted(set(terms), key=lambda t: counts.get(t, 0)):
            if spent and spent + counts.get(t, 0) > budget:  # words no passage holds cost 0
                break
            rare.append(t)
            spent += counts.get(t, 0)
        # a term the vocabulary lacks (count 0: none, or a phrase like "2.6" that FTS5
        # cuts in two) is among the rarest, so the rest are single vocabulary words
        pool = self.store.lexical_search([t for t in terms if t in rare], 4 * limit)
        rest = [t for t in terms if t not in rare] + list(common)
        return self.store.add_bm25(pool, rest, counts)[:limit]

    def term_weights(
        self, terms: list[str], counts: dict[str, int] | None = None
    ) -> dict[str, float]:
        """IDF of each distinct query term over the indexed passages (unknown: rarest)."""
        n_chunks = max(1, len(self.index))
        if counts is None:
            counts = self.term_counts(terms)
        return {t: math.log(1 + n_chunks / counts[t]) if counts.get(t) else math.log(1 + n_chunks)
                for t in dict.fromkeys(terms)}  # fmt: skip

    def search(self, question: str, k: int = 5, *, with_sentence: bool = True) -> Answer:
        """The top ``k`` passages for ``question`` and the sentence that best answers it."""
        with self._gate:
            self._gate.wait_for(lambda: not self._swapping)
            self._active += 1
        try:
            return self._search(question, k, with_sentence=with_sentence)
        finally:
            with self._gate:
                self._active -= 1
                self._gate.notify_all()

    def _search(self, question: str, k: int, *, with_sentence: bool) -> Answer:
        query = normalise_query(question)
        if not query:
            return Answer(question, None, [])
        # BM25 needs only the question's words: its tokenising and FTS5 run in another
        # thread while the model embeds the question (both let go of the GIL in native
        # code), instead of after it
        words = _LEXICAL.submit(self._lexical_candidates, query, k)
        try:
            qvec = self._question_vector(query)
        finally:
            terms, counts, coverage_weight, lexical = words.result()
        index = self.index
        fusion = self.config.fusion
        centred, nearer = None, []
        if self._centring(query):
            centred = self._centred_question(qvec)
            # the passages nearest the centred question are candidates too: the language
            # pull can leave them out of the first search (one FAISS call for both)
            dense, near = index.search_each(np.stack([qvec, centred]), max(self.config.dense_k, k))
            nearer = [c for c, _ in near[: self.config.dense_k]]
        else:
            dense = index.search(qvec, max(self.config.dense_k, k))
        if fusion == "weighted":
            fused, cosines = self._weighted(
                query, qvec, dense, lexical, coverage_weight, index, (centred, nearer)
            )
        else:
            fused, cosines = self._reciprocal_rank(qvec, dense, lexical, fusion, index)
        if centred is not None and self.config.sentence_passages > 0:
            fused = self._sentence_rescored(fused, centred, query)
        if fusion == "weighted" and is_thai(query):
            fused = self._gram_rescored(fused, query)
        top = sorted(fused, key=lambda c: fused[c], reverse=True)[:k]
        if not top or max(cosines[c] for c in top) < self.config.min_score:
            return Answer(question, None, [])
        rows = self.store.get_chunks(top)
        hits = [Hit(rows[c][0], rows[c][1], fused[c], cosines[c]) for c in top if c in rows]
        sentence = None
        if with_sentence:
            sentence = self.answer_sentence(query, qvec, hits, terms, coverage_weight, counts)
        return Answer(question, sentence, hits)

    def _lexical_candidates(self, query: str, k: int):
        """(terms, their passage counts, the coverage weight, BM25 candidates) of a
        normalised question: everything of the search that needs no vector."""
        fusion = self.config.fusion
        terms = query_terms(query)
        counts = self.term_counts(terms) if terms else {}
        coverage_weight = self._coverage_weight(terms, counts)
        lexical = []
        wanted = fusion in ("rrf", "bm25") or (
            fusion == "weighted" and (coverage_weight > 0 or self.config.tie_break > 0)
        )
        if wanted and any(counts.get(t) for t in terms):
            finders = self._selective(terms, counts)
            # FTS5's IDF of a word in half the passages or more is ~0: such words
            # would add nothing but the time to score them
            half = len(self.index) / 2
            common = [t for t in terms if t not in finders and counts.get(t, 0) < half]
            lexical = self._lexical(finders, counts, max(self.config.lexical_k, k), common)
        return terms, counts, coverage_weight, lexical

    def _reciprocal_rank(self, qvec, dense, lexical, fusion: str, index):
        """Plain reciprocal-rank fusion (``rrf``), or one list alone (``dense``, ``bm25``):
        (fused score, cosine) of every candidate."""
        if fusion == "bm25":
            dense = []
        fused: dict[int, float] = {}
        for results in (dense, [] if fusion == "dense" else lexical):
            for rank, (cid, _) in enumerate(results):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (self.config.rrf_k + rank + 1)
        cosines = self._cosines(qvec, dense, fused, index)
        return {c: f for c, f in fused.items() if c in cosines}, cosines

    def _cosines(self, qvec, dense, candidates, index) -> dict[int, float]:
        """The cosine of every candidate; one the served index does not hold (a row newer
        than it) is left out."""
        cosines = dict(dense)
        for cid in [c for c in candidates if c not in cosines]:
            vector = index.vector(cid)
            if vector is not None:
                cosines[cid] = float(vector @ qvec)
        return cosines

    def _weighted(
        self, query, qvec, dense, lexical, coverage_weight: float, index, centred=(None, ())
    ):
        """prakat's fusion: every candidate (dense or BM25) scores its cosine plus
        ``bm25_weight`` x ``coverage_weight`` x script share x its BM25 score over the
        best one's, plus the bonuses of ``_bonuses``: (fused score, cosine) of every
        candidate.

        Scores, not ranks: BM25 moves a candidate by how well it matches against the best
        match, and a wide cosine gap stands. On XQuAD-th, Thai questions, R@1 0.935 ->
        0.954 against the coverage-weighted reciprocal-rank fusion before it; iApp level
        (docs/quality.md, "Fusion"). ``coverage_weight`` (``lexical_weight()``) is 0 for
        an English question over Thai text, which then ranks by (centred) cosine alone.

        BM25 can only match passages in the question's script, so its weight is also
        scaled by the share of the dense candidates in that script (Thai if the question
        has any Thai word, as a Thai question naming "Los Angeles" does): ~1 for a Thai
        question over Thai text, small for an English question over mostly Thai
        releases, whose English words (names, and the few English releases) gave 572 of
        XQuAD's 1,190 English questions some coverage among 5,000 releases and drew
        them to English news (R@1 0.679 without BM25, 0.624 with it unscaled).

        ``centred``: (the centred question, the passages nearest it) for a question in
        Latin letters (``search.centring``), whose candidates then score their centred
        cosine (``_centred``) in place of the cosine."""
        question, nearer = centred
        more = [c for c, _ in lexical] + list(nearer)
        cosines = self._cosines(qvec, dense, more, index)
        best = lexical[0][1] if lexical else 0.0
        use_bm25 = best > 0 and coverage_weight > 0 and dense
        # one read of the candidates' scripts serves the language bonus, the share and
        # the passages' centres
        needed = self.config.cross_language or use_bm25 or question is not None
        scripts = self._scripts(list(cosines)) if needed else {}
        similarity = cosines
        if question is not None:
            similarity = self._centred(question, list(cosines), scripts, index)
        # a centred question has no language pull left for the language bonus to offset
        # (XQuAD-th, English questions, R@1 0.8084 with it, 0.8109 without; docs/quality.md)
        bonus = self._bonuses(query, list(cosines), lexical, scripts, language=question is None)
        scale = 0.0
        if use_bm25:
            thai = is_thai(query)  # any Thai word can match Thai text
            known = [scripts[c] for c, _ in dense if c in scripts]  # rows the store has
            same = sum(1 for t in known if t == thai) / max(1, len(known))
            scale = self.config.bm25_weight * coverage_weight * same / best
        bm25 = dict(lexical)
        fused = {c: sim + bonus[c] + scale * bm25.get(c, 0.0) for c, sim in similarity.items()}
        return fused, cosines

    def _centring(self, query: str) -> bool:
        """Whether ``query`` is compared after the centres come off (``_centred``)."""
        return self.config.centres_used and not mostly_thai(query)

    def _centred_question(self, qvec: np.ndarray) -> np.ndarray:
        """The question's vector less ``centring`` x the mean English question, unit
        length (``language_centres``: computed once per model, then from the cache)."""
        centres = self._centres
        if centres is None:  # two first questions at once may both compute them: same
            centres = self._centres = language_centres(self.embedder, self.sentences)
        vec = qvec - self.config.centring * centres.question
        return (vec / np.linalg.norm(vec)).astype(np.float32)

    def _centred(
        self, question: np.ndarray, chunk_ids: list[int], scripts: dict[int, bool], index
    ) -> dict[int, float]:
        """Each candidate's cosine with the centred question after the mean passage of
        its script (``scripts``, Thai where unknown) comes off its vector.

        Over XQuAD-th's 240 Thai paragraphs, English questions: R@1 0.788 -> 0.811;
        among 5,000 releases as well, 0.648 -> 0.782 (docs/quality.md, "Centring").
        Thai questions lost 0.3-1 point of R@1 with their own centre taken off, so they
        are compared as before."""
        if not chunk_ids:
            return {}
        vectors = np.stack([index.vector(c) for c in chunk_ids])
        thai = [scripts.get(c, True) for c in chunk_ids]
        cosines = self._centres.cosines(question, vectors, thai)
        return dict(zip(chunk_ids, cosines.tolist(), strict=True))

    def _sentence_rescored(self, fused: dict[int, float], question: np.ndarray, query: str):
        """``fused`` with the top ``sentence_passages`` (those within ``sentence_margin``
        of the first) re-scored by their best whole sentence (``text.answer_spans``: what
        an answer is shown as), each embedded alone and compared as ``_centred`` compares
        passages: each gains ``sentence_weight`` x that sentence's cosine with the centred
        question after the mean passage of its script comes off, and
        ``sentence_alignment`` x the best token alignment of one of them with the
        question (``retrieval.align``). The passages after them gain the least that one
        of them gained, so they stay behind.

        A passage's vector is the model's reading of the whole of it; an English question
        asks about one sentence, whose vector alone the model aligns across languages
        (the pooled vectors of its tokens in the passage's pass do not: docs/quality.md,
        "Sentence vectors from the passage's own forward pass"). Over XQuAD-th, English
        questions: R@1 0.811 -> 0.852; among 5,000 releases 0.782 -> 0.829. The cost:
        22.5 short texts embedded per English question instead of 5, p50 56 -> 178 ms over
        48,880 release passages (docs/quality.md, "Sentences of the top passages")."""
        head = sorted(fused, key=lambda c: fused[c], reverse=True)[: self.config.sentence_passages]
        if head and self.config.sentence_margin > 0:
            head = [c for c in head if fused[c] >= fused[head[0]] - self.config.sentence_margin]
            if len(head) == 1:  # nothing near enough to overtake the first
                return fused
        texts = self.store.chunk_texts(head)
        head = [c for c in head if c in texts]  # a row deleted since the search
        if not head:
            return fused
        spans = {c: [texts[c][a:b] for a, b in answer_spans(texts[c])] or [texts[c]] for c in head}
        owner = [c for c in head for _ in spans[c]]  # the passage of each sentence
        thai = {c: mostly_thai(texts[c]) for c in head}  # as _scripts, from the texts at hand
        sentences = [t for c in head for t in spans[c]]
        asked = None
        if self.config.sentence_alignment > 0 and not is_thai(query):  # see _question
            asked = self._question(query)
        if asked is not None:
            vectors, states = self._passage_states(sentences)
        else:
            vectors, states = self._passage_vectors(sentences), None
        cosines = self._centres.cosines(question, vectors, [thai[c] for c in owner])
        best: dict[int, float] = {}
        for c, cosine in zip(owner, cosines.tolist(), strict=True):
            best[c] = max(best.get(c, -math.inf), self.config.sentence_weight * cosine)
        if states is not None:
            aligned: dict[int, float] = {}
            for c, sentence in zip(owner, states, strict=True):
                score = self.config.sentence_alignment * alignment(*asked[1:], sentence)
                aligned[c] = max(aligned.get(c, -math.inf), score)
            best = {c: b + aligned[c] for c, b in best.items()}
        rest = min(best.values())
        return {c: f + best.get(c, rest) for c, f in fused.items()}

    def _gram_rescored(self, fused: dict[int, float], query: str) -> dict[int, float]:
        """``fused`` with the top ``gram_passages`` each gaining ``gram_weight`` x its
        BM25 of the question's character 3-grams among them over the best one's
        (``retrieval.grams``). The passages after them gain nothing, and so stay behind.

        For questions with Thai letters: the word BM25 misses words cut differently by
        the tokenizer or spelt differently ("ฟอซซิล" / "ฟอสซิล"), and among the
        candidates alone the grams that tell them apart weigh most, which settles
        near-ties between paragraphs of one article. XQuAD-th Thai questions R@1 0.954
        -> 0.967, iApp R@5 0.989 -> 0.991 (docs/quality.md, "Character n-grams").
        English questions over Thai text would lose by it (their grams match only
        names), so they are not re-scored."""
        if self.config.gram_weight <= 0 or self.config.gram_passages <= 0:
            return fused
        head = sorted(fused, key=lambda c: fused[c], reverse=True)[: self.config.gram_passages]
        texts = self.store.chunk_texts(head)
        head = [c for c in head if c in texts]  # a row deleted since the search
        if len(head) < 2:
            return fused
        shares = gram_shares(query, [texts[c] for c in head])
        if not any(shares):
            return fused
        gain = dict(zip(head, shares, strict=True))
        return {c: f + self.config.gram_weight * gain.get(c, 0.0) for c, f in fused.items()}

    def _bonuses(
        self,
        query: str,
        chunk_ids: list[int],
        lexical: list[tuple[int, float]],
        scripts: dict[int, bool],
        *,
        language: bool = True,
    ) -> dict[int, float]:
        """What each candidate's fused score gains beside cosine and coverage-weighted BM25
        (``scripts``: ``_scripts`` of the candidates, needed for the language bonus).

        Language: the model scores a question and a passage of the same content 0.07-0.08
        higher when they share a language (every one of XQuAD-th's 1,190 questions,
        in either language, against its paired Thai and English paragraphs:
        benchmarks/language_bias.py), so among Thai releases an English question is
        drawn to the few English ones, and a Thai question away from them. Passages in
        the other script than the question gain ``cross_language`` (0.02), unless
        ``language`` is False (a centred question: ``_centred``). With 5,000
        releases around XQuAD-th, English questions' R@1 goes 0.494 -> 0.576 (70% of
        their misses had been English news passages); the other directions lose at
        most 0.1 point or gain (docs/quality.md, "Dense ranking").

        Tie-break (off by default): ``tie_break`` x the passage's BM25 score / the best
        one, whatever the question's coverage, to settle near-ties in favour of the
        passage that holds the question's rare words (a name, an acronym, a number). At
        0.005 it moved XQuAD-th R@1 by +0.3 (EN -> TH) and +0.1 points (TH -> TH) among
        the 240 paragraphs, but with the 5,000 releases added it cost English questions
        0.7 points of R@1 on top of the language bonus (docs/quality.md, "Dense
        ranking")."""
        bonus = dict.fromkeys(chunk_ids, 0.0)
        if lexical and lexical[0][1] > 0 and self.config.tie_break:
            best = lexical[0][1]
            for cid, score in lexical:
                if cid in bonus:
                    bonus[cid] += self.config.tie_break * score / best
        if self.config.cross_language and language:
            thai = mostly_thai(query)
            for cid in bonus:
                if cid in scripts and scripts[cid] != thai:
                    bonus[cid] += self.config.cross_language
        return bonus

    def _scripts(self, chunk_ids: list[int]) -> dict[int, bool]:
        """Whether each chunk is mostly Thai (remembered as term counts are)."""

        def fetch(ids: list[int]) -> dict[int, bool]:
            return {c: mostly_thai(t) for c, t in self.store.chunk_texts(ids).items()}

        return self._remembered(self._thai, chunk_ids, fetch, limit=2_000_000)

    def answer_sentence(
        self,
        question: str,
        qvec: np.ndarray,
        hits: list[Hit],
        terms: list[str] = (),
        coverage_weight: float = 0.0,
        counts: dict[str, int] | None = None,
    ) -> AnswerSentence | None:
        """The sentence that best answers the question (see answer.py), from the top
        passages of the best-ranked release, so that the answer and its source agree:
        chosen among crfcut's sentences, shown as the whole sentence around the one
        chosen (``text.whole_sentences``)."""
        if not hits:
            return None
        top = hits[0].document
        candidates = []  # crfcut's sentences, each with its whole sentence's span
        cut: dict[str, list[str]] = {}  # a sentence's newmm tokens, where the splitter made them
        for hit in hits[: self.config.answer_passages]:
            if hit.document.doc_id != top.doc_id:
                continue
            for group in whole_sentence_units(hit.chunk.text):
                for a, b, raw in group:
                    candidates.append((hit, a, b, group[0][0], group[-1][1]))
                    if raw is not None:
                        cut.setdefault(hit.chunk.text[a:b], raw)
        texts = [hit.chunk.text[a:b] for hit, a, b, _, _ in candidates]
        # only the sentences that may answer can win: embed no others
        allowed = may_answer(question, texts)
        every = (candidates, texts, allowed)  # all, in passage order, for _beside
        candidates = [c for c, k in zip(candidates, allowed, strict=True) if k]
        texts = [t for t, k in zip(texts, allowed, strict=True) if k]
        if not candidates:
            return None
        overlap = None
        tokens: dict[str, list[str]] = {}
        if terms and coverage_weight > 0:
            # every distinct sentence, those the answer type filters out too: the
            # question's words are weighed among all of them (answer.among_sentences)
            # (newmm's tokens of the split, made words: one pass of newmm, not two)
            tokens = {t: index_words(cut[t]) if t in cut else word_tokens(t)
                      for t in dict.fromkeys(every[1])}  # fmt: skip
            words = {t: set(ts) for t, ts in tokens.items()}
            weights = self.term_weights(terms, counts)
            if self.config.sentence_idf:
                weights = among_sentences(weights, list(words.values()))
            overlap = (
                OVERLAP_WEIGHT
                * coverage_weight
                * overlap_scores(weights, [words[t] for t in texts])
            )
            if self.config.answer_grams > 0 and is_thai(question):  # as _gram_rescored
                overlap = overlap + coverage_weight * self._gram_share(question, texts, words)
            # Embed only the sentences sharing most of its words: their overlap
            # outweighs the cosine part of the score (choose_sentence), so the others
            # rarely win. A question over text in the other language (coverage 0)
            # embeds them all.
            c = self.config
            keep = sentences_to_embed(overlap, texts, c.answer_margin, c.answer_candidates)
            candidates = [candidates[i] for i in keep]
            texts = [texts[i] for i in keep]
            overlap = overlap[keep]
            if c.answer_margin > 0 and len(set(texts)) == 1:  # one can win: embed none
                hit, _, _, a, b = self._beside(question, every, texts[0], tokens)
                return AnswerSentence(hit.chunk.text[a:b], top.doc_id, hit.chunk.chunk_id,
                                      a, b, float(overlap[0]))  # fmt: skip
        stored = None
        same_script = self._same_script(question, candidates)
        if self.config.stored_sentences and same_script:
            stored = self._stored_vectors(candidates, top)
        asked = None
        if not same_script and not is_thai(question) and self.config.answer_alignment > 0:
            asked = self._question(question)  # Thai words: their overlap says it (_question)
        if stored is not None:
            vecs, topics = stored
        elif asked is not None:
            # across scripts word overlap says nothing; token alignment does the like
            embedded, states = self._passage_states([*texts, top.title])
            vecs, topics = embedded[:-1], np.repeat(embedded[-1:], len(texts), axis=0)
            aligned = self.config.answer_alignment * np.array(
                [alignment(*asked[1:], sentence) for sentence in states[:-1]]
            )
            overlap = aligned if overlap is None else overlap + aligned
        else:
            embedded = self._passage_vectors([*texts, top.title])
            vecs, topics = embedded[:-1], np.repeat(embedded[-1:], len(texts), axis=0)
        best, score = choose_sentence(
            question, qvec, texts, vecs, topics, answer_types=False, overlap=overlap
        )  # the candidates are already those that may answer
        hit, _, _, a, b = self._beside(question, every, texts[best], tokens)
        return AnswerSentence(hit.chunk.text[a:b], top.doc_id, hit.chunk.chunk_id, a, b, score)

    def _beside(self, question: str, every: tuple, chosen: str, tokens: dict):
        """The candidate ``(hit, start, end, whole start, whole end)`` to show for the
        sentence ``chosen``: the sentence next to it in its passage where a Thai
        question's answer lies on that side of it (``answer.answer_side``;
        ``search.answer_side``) and that one may answer too, else ``chosen``
        (``_most_whole``). ``every``: all the candidates, in passage order, with their
        texts and whether each may answer; ``tokens``: ``word_tokens`` of sentences at
        hand."""
        candidates, texts, allowed = every
        shown = _most_whole(candidates, texts, texts.index(chosen))
        if not self.config.answer_side or not is_thai(question):
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

    def _gram_share(self, question: str, texts: list[str], among: dict) -> np.ndarray:
        """``search.answer_grams`` x each of ``texts``' BM25 of the question's character
        3-grams over the best one's (``grams.gram_shares``), with document frequencies
        from ``among`` (the distinct sentences the answer is chosen from): the word
        overlap's IDF among the sentences, for grams (a name or compound newmm cuts
        differently in the question and the text still matches)."""
        shares = dict(zip(among, gram_shares(question, list(among)), strict=True))
        return self.config.answer_grams * np.array([shares[t] for t in texts])

    def _same_script(self, question: str, candidates: list) -> bool:
        """Whether the question is in the script of every candidate's passage (Thai or
        Latin, ``mostly_thai``): kept sentence vectors choose as well as embedded ones
        within a language and much worse across (docs/quality.md), and an English
        question's words can be known to a corpus of mostly Thai releases."""
        chunk_ids = list(dict.fromkeys(hit.chunk.chunk_id for hit, *_ in candidates))
        scripts = self._scripts(chunk_ids)
        thai = mostly_thai(question)
        return all(scripts.get(c) == thai for c in chunk_ids)

    def _stored_vectors(self, candidates: list, doc: Document):
        """The kept vectors of the candidate sentences ``(hit, start, end, ...)`` and of
        the release's title, each sentence's topic (``(sentences, topics)``), or None
        unless every candidate's span was kept (indexer.prepare_document). The title's
        vector is embedded here where it was not kept."""
        if self.sentences is None:
            return None
        shift = passage_offset(doc)
        keys = {hit.chunk.chunk_id: self.embedder.embed_key(embed_text(doc, hit.chunk.text))
                for hit, *_ in candidates}  # fmt: skip
        kept = self.sentences.sentences(list(keys.values()))
        vecs = []
        for hit, a, b, *_ in candidates:
            vec = kept.get(keys[hit.chunk.chunk_id], {}).get((shift + a, shift + b))
            if vec is None:
                return None
            vecs.append(vec)
        # the title alone, as at indexing: a better topic than the header's pooled
        # states (XQuAD-th answer hits 0.7134 against 0.705; docs/quality.md)
        title_key = self.embedder.embed_key(doc.title)
        title = self.sentences.find([title_key]).get(title_key)
        if title is None:
            title = self._passage_vectors([doc.title])[0]
        return np.stack(vecs), np.repeat(title[None, :], len(vecs), axis=0)

    def _question_vector(self, query: str) -> np.ndarray:
        """The question's vector: for a question token alignment may read (no Thai
        letters, alignment on), ``_question``'s, which made its token states in the same
        pass (one pass of the model instead of two)."""
        c = self.config
        if (c.sentence_alignment > 0 or c.answer_alignment > 0) and not is_thai(query):
            asked = self._question(query)
            if asked is not None:
                return asked[0]
        return self.embedder.embed_queries([query])[0]

    def _question(self, query: str) -> tuple[np.ndarray, TokenStates, np.ndarray] | None:
        """The question's vector, token states and their weights (``retrieval.align``),
        from one forward pass, or None where the model gives no token offsets. Asked
        only for a question with no Thai letters: a question in Thai words and English
        names ("ประชากรของ Greater Los Angeles Area คืออะไร?") shares the passages'
        words, which BM25 and the word overlap already read, and alignment cost 2 of
        XQuAD-th's 10 such questions (one first passage, one answer) and gained none
        (docs/quality.md)."""

        def make(queries: list[str]) -> list:
            made = self.embedder.query_states(queries)
            if made is None:
                return [None] * len(queries)
            return [(v, st, token_weights(st.tokens)) for v, st in zip(*made, strict=True)]

        return self._kept(self._question_states, 256, [query], make)[0]

    def _passage_states(self, sentences: list[str]) -> tuple[np.ndarray, list[TokenStates]]:
        """``_passage_vectors`` of ``sentences`` and their token states, from one
        forward pass for those not at hand (kept for the last 250 texts: about ten
        English questions' sentences, ~11 MB)."""

        def make(todo: list[str]) -> list:
            made = self.embedder.passage_states(todo)
            if made is None:  # not reached: _question gives None first
                raise ValueError("this model gives no token states")
            pairs = dict(zip(todo, zip(*made, strict=True), strict=True))
            # the vectors serve _passage_vectors too (where it lacks them)
            self._kept(self._sentence_cache, 20000, todo, lambda lack: [pairs[s][0] for s in lack])
            return [pairs[s] for s in todo]

        pairs = self._kept(self._state_cache, 250, sentences, make)
        return np.stack([v for v, _ in pairs]), [st for _, st in pairs]

    def _passage_vectors(self, sentences: list[str]) -> np.ndarray:
        return np.stack(
            self._kept(self._sentence_cache, 20000, sentences, self.embedder.embed_passages)
        )

    def _kept(self, cache: OrderedDict, limit: int, keys: list, make) -> list:
        """The values of ``keys``: from ``cache`` (the most recently used ``limit``), and
        ``make(missing keys)`` (a value each) for the others, which it then keeps."""
        with self._lock:
            found = {}
            for key in dict.fromkeys(keys):
                if key in cache:
                    cache.move_to_end(key)
                    found[key] = cache[key]
        todo = [key for key in dict.fromkeys(keys) if key not in found]
        if todo:
            made = dict(zip(todo, make(todo), strict=True))
            with self._lock:
                cache.update(made)
                while len(cache) > limit:
                    cache.popitem(last=False)
            found.update(made)
        return [found[key] for key in keys]
