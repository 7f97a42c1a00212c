from __future__ import annotations

import numpy as np
import pytest

from corpus.loader import iter_release_paths, load_path
from retrieval.ranking import fusion as fusion_module
from retrieval.ranking.candidates import Dense, centred_question
from retrieval.ranking.fusion import centred_cosines, language_bonus
from retrieval.ranking.lexical import Words, bm25_candidates, finding_terms
from retrieval.text.chunking import embed_text
from retrieval.text.sentences import answer_spans, sentence_spans, whole_sentences


@pytest.fixture
def searcher(runtime_factory, amcc_dir):
    rt = runtime_factory()
    rt.indexer.add_documents([load_path(p) for p in iter_release_paths([amcc_dir])])
    return rt.searcher


@pytest.mark.parametrize(
    "question", ["who chaired the 6th AMCC?", "ใครเป็นประธานการประชุม AMCC ครั้งที่ 6"]
)
def test_amcc_question_finds_the_6th_not_the_5th_or_7th(searcher, question):
    answer = searcher.search(question, k=5)
    assert answer.hits[0].document.url.endswith("/46681")
    assert answer.sentence is not None
    assert answer.sentence.doc_id == "46681"
    assert "Josephine Teo" in answer.sentence.text


def test_passages_carry_source_and_sentence_offsets(searcher):
    answer = searcher.search("ASEAN cybersecurity ministers meeting", k=3)
    assert len(answer.hits) == 3
    assert [h.score for h in answer.hits] == sorted((h.score for h in answer.hits), reverse=True)
    for hit in answer.hits:
        assert hit.document.title and hit.document.url.startswith("https://www.thaigov.go.th/")
    s = answer.sentence
    chunk = next(h.chunk for h in answer.hits if h.chunk.chunk_id == s.chunk_id)
    assert chunk.text[s.start : s.end] == s.text


@pytest.mark.parametrize(
    "question", ["How was the 6th AMCC held?", "การประชุม AMCC ครั้งที่ 6 จัดผ่านช่องทางใด"]
)
def test_the_answer_is_the_whole_sentence_around_the_clause_chosen(searcher, question):
    """The clause that answers ("... (The 6th ASEAN Ministerial Conference on
    Cybersecurity: AMCC) ผ่านระบบการประชุมทางไกล") is shown with the start of its
    sentence, which crfcut cut off ("เมื่อวันที่ 6 ตุลาคม 2564 นายเนวินธุ์ ...").
    Sentences embedded at question time: from the vectors kept at indexing, the Thai
    question's two best candidates score 0.0003 apart (this clause or the next
    sentence), which rounding settles either way; the showing is what is tested. For
    the English question the release's second passage, which repeats the clause at its
    start, ranks first: the clause is shown from the first passage, which holds its
    whole sentence (``answering.most_whole``)."""
    from dataclasses import replace

    searcher.config = replace(searcher.config, stored_sentences=False)
    answer = searcher.search(question, k=3)
    s = answer.sentence
    chunk = next(h.chunk for h in answer.hits if h.chunk.chunk_id == s.chunk_id)
    assert chunk.text[s.start : s.end] == s.text
    assert "ผ่านระบบการประชุมทางไกล" in s.text
    assert s.text.startswith("เมื่อวันที่ 6 ตุลาคม 2564")
    assert (s.start, s.end) in answer_spans(chunk.text)
    assert (s.start, s.end) not in sentence_spans(chunk.text)


def test_a_who_question_embeds_only_the_sentences_that_name_a_person(searcher):
    """Only they can be the answer (answer.choose_sentence), so only they are embedded;
    the answer is the one the full comparison gives."""
    from dataclasses import replace

    from retrieval.ranking.answer import sentence_has_type

    # the top passages' sentences, re-scored for an English question, are counted apart
    searcher.config = replace(searcher.config, sentence_passages=0)
    searcher.embedded.sentence_cache.clear()
    searcher.embedded.state_cache.clear()  # an English question's sentences, with token states
    answer = searcher.search("who chaired the 6th AMCC?", k=5)
    assert "Josephine Teo" in answer.sentence.text
    embedded = [t for t in searcher.embedded.sentence_cache if t != answer.hits[0].document.title]
    assert len(embedded) >= 2
    assert all(sentence_has_type("person", t) for t in embedded)
    candidates = [
        hit.chunk.text[a:b]
        for hit in answer.hits[: searcher.config.answer_passages]
        if hit.document.doc_id == answer.hits[0].document.doc_id
        for a, b in sentence_spans(hit.chunk.text)
    ]
    assert len(candidates) > len(embedded)


def test_a_question_in_the_passages_script_is_answered_from_kept_sentence_vectors(
    searcher, monkeypatch
):
    """``search.stored_sentences``: a question in the script of its passages is answered
    from the sentence vectors kept at indexing, without the model; an English question
    over Thai text still embeds its candidates (pooled vectors choose worse across
    languages, docs/quality.md), even when the Thai text holds its words, and so does a
    question whose candidate spans were not all kept."""
    from retrieval.ranking.lexical import query_terms
    from retrieval.text.normalise import normalise_query

    thai = "ใครเป็นประธานการประชุม AMCC ครั้งที่ 6"
    embedded = answer_and_embedded(searcher, thai, answer_margin=0.0)  # several candidates
    searcher.embedded.sentence_cache.clear()
    searcher.embedded.state_cache.clear()  # an English question's sentences, with token states

    def no_model(*args, **kwargs):
        raise AssertionError("a sentence was embedded")

    monkeypatch.setattr(searcher.embedder, "embed_passages", no_model)
    stored = answer_and_embedded(searcher, thai, stored_sentences=True)
    assert "Josephine Teo" in stored[0] and stored == (stored[0], [])
    assert not searcher.embedded.sentence_cache
    monkeypatch.undo()
    assert "Josephine Teo" in embedded[0] and embedded[1]
    english = answer_and_embedded(searcher, "who chaired the 6th AMCC?", stored_sentences=True)
    assert "Josephine Teo" in english[0] and len(english[1]) >= 2
    # Latin words the Thai passages hold: known to the corpus, still another script
    latin = "AMCC Josephine Teo Singapore"
    assert searcher.lexical_weight(query_terms(normalise_query(latin))) > 0
    assert answer_and_embedded(searcher, latin, stored_sentences=True)[1]
    # the cache lost the kept vectors of the answer's passage: its sentences are embedded
    answer = searcher.search(thai, k=5)
    hit = next(h for h in answer.hits if h.chunk.chunk_id == answer.sentence.chunk_id)
    key = searcher.embedder.embed_key(embed_text(hit.document, hit.chunk.text))
    searcher.sentences.db.execute("DELETE FROM sentences WHERE key = ?", (key,))
    again = answer_and_embedded(searcher, thai, stored_sentences=True)
    assert "Josephine Teo" in again[0] and again[1]


def test_lexical_weight_trusts_bm25_for_thai_not_for_english_over_thai(searcher):
    from retrieval.text.words import word_tokens

    thai = searcher.lexical_weight(word_tokens("การประชุมรัฐมนตรีอาเซียนด้านความมั่นคงปลอดภัยไซเบอร์"))
    english = searcher.lexical_weight(
        word_tokens("what did the ministers discuss about resilience")
    )
    assert thai > 0.9
    assert english < 0.2


def test_question_words_are_not_search_terms(searcher):
    """Thai question words (as newmm cuts them) and English function words stay out of
    BM25 and the word overlap; a question word the corpus lacks (เมื่อใด) would count as
    unknown and pull the question's vocabulary coverage, and so BM25's weight, down."""
    from retrieval.ranking.lexical import query_terms
    from retrieval.text.words import word_tokens

    question = "การประชุมรัฐมนตรีอาเซียนด้านความมั่นคงปลอดภัยไซเบอร์ ครั้งที่ 6 จัดขึ้นเมื่อใด"
    terms = query_terms(question)
    assert "เมื่อใด" in word_tokens(question) and "เมื่อใด" not in terms
    assert {"อาเซียน", "6"} <= set(terms)
    assert query_terms("ใครเป็นประธานการประชุม ปีใด กี่คน อย่างไร") == [
        "เป็น", "ประธาน", "การประชุม", "ปี", "คน"
    ]  # fmt: skip
    assert query_terms("who chaired the 6th AMCC?") == ["chaired", "6", "th", "amcc"]
    assert searcher.term_counts(["เมื่อใด"]) == {"เมื่อใด": 0}
    assert searcher.lexical_weight(terms) == pytest.approx(1.0)
    assert searcher.lexical_weight(word_tokens(question)) < 0.9


def test_empty_question_has_no_answer(searcher):
    answer = searcher.search("   ", k=5)
    assert not answer.found and answer.sentence is None


def test_pinned_searcher_remembers_term_counts_until_the_index_is_swapped(
    runtime_factory, amcc_dir
):
    from corpus.models import Document
    from retrieval.ranking.search import Searcher

    rt = runtime_factory()
    rt.indexer.add_documents([load_path(p) for p in iter_release_paths([amcc_dir])])
    index, _ = rt.load_index()
    pinned = Searcher(rt.read_store, rt.embedder, index, pinned=True)
    before = pinned.term_counts(["อาเซียน", "zyxwvut"])
    assert before["อาเซียน"] > 0 and before["zyxwvut"] == 0

    extra = Document("9001", "zyxwvut อาเซียน", "2021-10-07", None, "th", "zyxwvut อาเซียน ประชุม")
    rt.indexer.add_documents([extra])
    assert pinned.term_counts(["อาเซียน", "zyxwvut"]) == before  # same snapshot, same counts
    assert rt.searcher.term_counts(["zyxwvut"]) == {"zyxwvut": 1}  # unpinned: reads now

    new_index, _ = rt.load_index()
    pinned.swap_index(new_index)
    after = pinned.term_counts(["อาเซียน", "zyxwvut"])
    assert after == {"อาเซียน": before["อาเซียน"] + 1, "zyxwvut": 1}
    assert pinned.search("zyxwvut อาเซียน").hits[0].document.doc_id == "9001"


def test_common_words_find_no_bm25_candidates_but_numbers_do(searcher):
    """On the bundled sample "ครั้งที่" and "6" are each in more than 5% of passages;
    skipping "6" too made the Thai AMCC question answer from the 5th meeting's release."""
    n = len(searcher.index)
    counts = {"ใคร": 1, "ครั้งที่": n, "6": n, "การประชุม": n, "amcc": 1}
    kept = finding_terms(["ใคร", "ครั้งที่", "6", "การประชุม", "amcc"], counts, n, searcher.config)
    assert kept == ["ใคร", "6", "amcc"]
    pair = ["ครั้งที่", "การประชุม"]
    assert finding_terms(pair, counts, n, searcher.config) == pair


def test_common_words_are_capped_in_postings_as_well_as_by_share(searcher):
    """A word in more than ``common_postings`` passages is common however large the
    corpus (its posting list is FTS5's time); numbers still find candidates; 0: no cap."""
    from dataclasses import replace

    terms = ["ใคร", "การประชุม", "6"]
    counts = {"ใคร": 1, "การประชุม": 2, "6": 2}
    assert 2 <= searcher.config.common_share * len(searcher.index)  # not common by share
    assert finding_terms(terms, counts, len(searcher.index), searcher.config) == terms
    searcher.config = replace(searcher.config, common_postings=1)
    assert finding_terms(terms, counts, len(searcher.index), searcher.config) == ["ใคร", "6"]
    searcher.config = replace(searcher.config, common_postings=0)
    assert finding_terms(terms, counts, len(searcher.index), searcher.config) == terms


def weighted(searcher, question, qvec, dense, lexical, coverage):
    """Stage 2 alone, on hand-made candidates: (scores, cosines)."""
    words = Words([], {}, coverage, lexical)
    return fusion_module.weighted(question, qvec, Dense(dense), words, searcher.index,
                                  searcher.facts.scripts, None, searcher.config)  # fmt: skip


def _ranked(cosines, bonus):
    return [c for c, _ in sorted(cosines, key=lambda cs: cs[1] + bonus[cs[0]], reverse=True)]


def test_passages_in_the_other_language_gain_against_the_same_language_pull(searcher):
    """Release 46940 is in English, 46681 in Thai: an English question's Thai passage
    gains 0.02 over the English one, a Thai question's English passage over the Thai."""
    english = searcher.store.chunks_of("46940")[0].chunk.chunk_id
    thai = searcher.store.chunks_of("46681")[0].chunk.chunk_id
    ids = [english, thai]
    scripts = searcher.facts.scripts(ids)

    def bonus(question, amount=0.02):
        return language_bonus(question, ids, scripts, amount)

    assert bonus("who chaired it?") == {english: 0.0, thai: 0.02}
    assert bonus("ใครเป็นประธาน") == {english: 0.02, thai: 0.0}
    near = [(english, 0.830), (thai, 0.815)]
    assert _ranked(near, bonus("who chaired it?")) == [thai, english]
    wide = [(english, 0.86), (thai, 0.815)]  # more than 0.02 apart: the order stands
    assert _ranked(wide, bonus("who chaired it?")) == [english, thai]
    assert bonus("who chaired it?", 0.0) == {english: 0.0, thai: 0.0}


def test_weighted_fusion_adds_bm25_by_coverage_to_the_cosine(searcher):
    """Score = cosine + bm25_weight x coverage x BM25 / best BM25: a strong BM25 match
    overtakes a slightly higher cosine, not a wide gap; English questions over Thai text
    (coverage 0) rank by cosine; a BM25-only candidate competes on its own cosine."""
    from dataclasses import replace

    searcher.config = replace(searcher.config, cross_language=0.0, bm25_weight=0.1)
    a, b, c = (row.chunk.chunk_id for row in searcher.store.chunks_of("46681")[:3])
    qvec = searcher.index.vector(c)  # c's own vector: its cosine is 1
    lexical = [(b, 10.0), (a, 2.0), (c, 1.0)]

    def order(dense, coverage, question="ใครเป็นประธาน"):
        fused, cosines = weighted(searcher, question, qvec, dense, lexical, coverage)
        return sorted(fused, key=fused.get, reverse=True), fused, cosines

    ranked, fused, cosines = order([(a, 0.85), (b, 0.84)], 1.0)
    assert fused[b] == pytest.approx(0.84 + 0.1) and fused[a] == pytest.approx(0.85 + 0.02)
    assert cosines[c] == pytest.approx(1.0, abs=1e-4)  # not in the dense list: from the index
    assert ranked == [c, b, a]
    assert order([(a, 0.85), (b, 0.84)], 0.0)[0] == [c, a, b]  # coverage 0: cosine alone
    assert order([(a, 0.95), (b, 0.80)], 1.0)[0][1:] == [a, b]  # a wide gap stands
    searcher.config = replace(searcher.config, bm25_weight=0.0)
    assert order([(a, 0.85), (b, 0.84)], 1.0)[0] == [c, a, b]


def test_bm25_counts_as_far_as_the_dense_candidates_share_the_questions_script(searcher):
    """A question whose words the corpus knows (coverage 1): BM25, which can only match
    words in the question's script, is weighted by the share of dense candidates in
    that script (Thai for a question with any Thai word)."""
    from dataclasses import replace

    searcher.config = replace(searcher.config, cross_language=0.0, bm25_weight=0.1)
    thai = searcher.store.chunks_of("46681")[0].chunk.chunk_id
    english = searcher.store.chunks_of("46940")[0].chunk.chunk_id
    qvec = searcher.index.vector(thai)
    lexical = [(english, 8.0)]

    def fused(dense, question):
        return weighted(searcher, question, qvec, dense, lexical, 1.0)[0]

    both = [(thai, 0.85), (english, 0.80)]
    assert fused(both, "who chaired it?")[english] == pytest.approx(0.80 + 0.1 * 0.5)
    assert fused([(thai, 0.85)], "who chaired it?")[english] == pytest.approx(
        float(searcher.index.vector(english) @ qvec)  # no Latin candidates: no BM25
    )
    # a Thai question naming something in English counts as Thai: BM25 at full weight
    mixed = "ใครเป็นประธาน ASEAN Ministerial Conference on Cybersecurity"
    assert fused([(thai, 0.85)], mixed)[english] == pytest.approx(
        float(searcher.index.vector(english) @ qvec) + 0.1
    )


def test_bm25_past_its_budget_finds_by_the_rarest_words_and_scores_by_all(searcher):
    """Past ``search.lexical_budget`` postings FTS5 is asked for the rarest words only;
    the candidates it finds score exactly what all the words give them."""
    from dataclasses import replace

    from retrieval.text.normalise import normalise_query
    from retrieval.text.words import word_tokens

    question = "ใครเป็นประธานการประชุม AMCC ครั้งที่ 6"
    terms = word_tokens(normalise_query(question))
    counts = searcher.term_counts(terms)
    exact = dict(searcher.store.lexical_search(terms, 1000))
    asked = []
    lexical_search = searcher.store.lexical_search

    def spy(words, limit):
        asked.append(list(words))
        return lexical_search(words, limit)

    searcher.store.lexical_search = spy
    searcher.config = replace(searcher.config, lexical_budget=1)  # only the rarest word
    found = bm25_candidates(searcher.store, terms, counts, 20, (), searcher.config.lexical_budget)
    rarest = min((t for t in terms if counts.get(t)), key=lambda t: counts[t])
    unknown = {t for t in terms if not counts.get(t)}  # cost nothing, find nothing
    assert len(asked) == 1 and set(asked[0]) == {rarest} | unknown
    holding = {cid for cid, _ in lexical_search([rarest], 1000)}
    assert found and {cid for cid, _ in found} <= holding
    for cid, score in found:
        assert score == pytest.approx(exact[cid], rel=1e-12)
    for q in ("who chaired the 6th AMCC?", question):  # the answer stands
        assert "Josephine Teo" in searcher.search(q, k=5).sentence.text


def test_common_words_find_no_candidates_but_add_their_bm25(searcher):
    """Words in more than ``common_share`` of the passages stay out of FTS5's query
    (their posting lists are its time) and add their BM25 to what the rarer words
    found, exactly as FTS5 would score them; words in half the passages or more, whose
    IDF is ~0, are not scored at all."""
    from dataclasses import replace

    from retrieval.ranking.lexical import query_terms
    from retrieval.text.normalise import normalise_query

    question = "ใครเป็นประธานการประชุม AMCC ครั้งที่ 6 ของอาเซียน"
    terms = query_terms(normalise_query(question))
    counts = searcher.term_counts(terms)
    n = len(searcher.index)
    searcher.config = replace(searcher.config, common_share=0.05)
    finders = finding_terms(terms, counts, len(searcher.index), searcher.config)
    common = [t for t in terms if t not in finders and counts.get(t, 0) < n / 2]
    assert common and finders  # the sample has both kinds in this question
    exact = dict(searcher.store.lexical_search(finders + common, 1000))
    asked, added = [], []
    lexical_search, add_bm25 = searcher.store.lexical_search, searcher.store.add_bm25

    def spy_search(words, limit):
        asked.append(list(words))
        return lexical_search(words, limit)

    def spy_add(scored, words, doc_counts):
        added.append(list(words))
        return add_bm25(scored, words, doc_counts)

    searcher.store.lexical_search, searcher.store.add_bm25 = spy_search, spy_add
    searcher.search(question, k=5, with_sentence=False)
    assert asked == [finders]
    assert added == [common]  # not the words in half the passages or more
    found = bm25_candidates(
        searcher.store, finders, counts, 20, common, searcher.config.lexical_budget
    )
    assert found == sorted(found, key=lambda r: r[1], reverse=True)
    for cid, score in found:
        assert score == pytest.approx(exact[cid], rel=1e-12)
    assert "Josephine Teo" in searcher.search(question, k=5).sentence.text


def test_a_question_embeds_only_the_sentences_sharing_most_of_its_words(searcher):
    """``search.answer_candidates``: a Thai question over Thai text embeds that many of
    the candidate sentences, those holding most of its words, and the answer stands; an
    English question over Thai text shares no words with it and embeds them all."""
    from retrieval.text.words import word_tokens

    thai = "การประชุมรัฐมนตรีอาเซียนด้านความมั่นคงปลอดภัยไซเบอร์ ครั้งที่ 6 จัดผ่านระบบอะไร"
    assert searcher.lexical_weight(word_tokens(thai)) > 0  # the corpus knows its words
    # the margin off: it alone leaves this question two sentences to embed
    answer, every = answer_and_embedded(searcher, thai, answer_candidates=0, answer_margin=0.0)
    _, english = answer_and_embedded(searcher, "How was the 6th AMCC held?")
    assert len(every) > 2 and len(english) > 2
    fewer_answer, fewer = answer_and_embedded(searcher, thai, answer_candidates=2)
    assert len(fewer) == 2 and set(fewer) < set(every)  # two distinct sentences
    assert fewer_answer == answer
    assert len(answer_and_embedded(searcher, "How was the 6th AMCC held?")[1]) == len(english)


def test_a_sentence_far_ahead_in_shared_words_is_chosen_without_embedding(searcher):
    """``search.answer_margin``: candidates whose word-overlap score trails the best's
    by more than the margin are not embedded; when one sentence is left, nothing is,
    and it is the sentence embedding them all would have chosen."""
    thai = "รัฐมนตรีสิงคโปร์"
    answer, every = answer_and_embedded(searcher, thai, answer_margin=0.0)
    assert len(every) >= 2
    assert answer_and_embedded(searcher, thai, answer_margin=0.15)[0] == answer
    assert not searcher.embedded.sentence_cache  # nothing embedded, the title neither
    for question in ("ใครเป็นประธานการประชุม AMCC ครั้งที่ 6", "How was the 6th AMCC held?"):
        on = answer_and_embedded(searcher, question, answer_margin=0.15)[0]
        assert on == answer_and_embedded(searcher, question, answer_margin=0.0)[0]


def test_sentences_to_embed_keeps_the_near_ones_and_counts_a_repeated_sentence_once():
    from retrieval.ranking.answer import sentences_to_embed

    overlap = np.array([0.1, 0.5, 0.45, 0.5, 0.2, 0.36])
    texts = ["a", "b", "c", "b", "d", "e"]  # "b" in two passages
    assert sentences_to_embed(overlap, texts, 0.0, 0) == [0, 1, 2, 3, 4, 5]
    assert sentences_to_embed(overlap, texts, 0.15, 0) == [1, 2, 3, 5]
    assert sentences_to_embed(overlap, texts, 0.0, 2) == [1, 2, 3]  # two distinct texts
    assert sentences_to_embed(overlap, texts, 0.15, 3) == [1, 2, 3, 5]
    assert sentences_to_embed(overlap, texts, 0.01, 0) == [1, 3]  # one sentence left
    ties = np.array([0.3, 0.3, 0.3])
    assert sentences_to_embed(ties, ["x", "y", "z"], 0.0, 2) == [0, 1]  # ties: in order


def answer_and_embedded(searcher, question: str, **config) -> tuple[str, list[str]]:
    """The answer sentence to ``question`` under ``config`` (search settings) and the
    sentences embedded for it, the release title left out; sentences are embedded at
    question time unless ``stored_sentences`` is given."""
    from dataclasses import replace

    config.setdefault("stored_sentences", False)
    # an English question's top passages embed their sentences too (sentence_passages)
    config.setdefault("sentence_passages", 0)
    searcher.config = replace(searcher.config, **config)
    searcher.embedded.sentence_cache.clear()
    searcher.embedded.state_cache.clear()  # an English question's sentences, with token states
    answer = searcher.search(question, k=5)
    title = answer.hits[0].document.title
    return answer.sentence.text, [t for t in searcher.embedded.sentence_cache if t != title]


def test_an_english_question_is_compared_after_each_languages_centre_comes_off(searcher):
    """The English AMCC question's best passage (Thai, 46681) and the English release
    46940 nearly tie by cosine (within 0.001): the model's same-language pull. With the
    mean English question off the question and each script's mean passage off the
    passages, the Thai passage that answers it is clearly ahead; a Thai question is
    compared as before. The passages nearest the centred question are candidates too."""
    from dataclasses import replace

    question = "who chaired the 6th AMCC?"
    english = searcher.store.chunks_of("46940")[0].chunk.chunk_id
    thai = [c.chunk.chunk_id for c in searcher.store.chunks_of("46681")]
    ids = [english, *thai]
    qvec = searcher.embedder.embed_queries([question])[0]
    centred = centred_question(qvec, searcher.config.centring, searcher.embedded.centres())
    centres = searcher.embedded.centres()
    expected = qvec - 0.75 * centres.question
    np.testing.assert_allclose(centred, expected / np.linalg.norm(expected), atol=1e-6)
    scores = centred_cosines(centred, ids, searcher.facts.scripts(ids), searcher.index, centres)
    for cid in ids:
        mean = centres.latin_passage if cid == english else centres.thai_passage
        vec = searcher.index.vector(cid) - mean
        assert scores[cid] == pytest.approx(float(vec @ centred) / np.linalg.norm(vec), abs=1e-5)

    def margin(**config) -> float:
        searcher.config = replace(searcher.config, **config)
        hits = searcher.search(question, k=10, with_sentence=False).hits
        best = {}
        for hit in hits:
            best.setdefault(hit.document.doc_id, hit.score)
        return best["46681"] - best.get("46940", -1.0)

    assert margin(centring=0.0, cross_language=0.0) < 0.01  # 46940 ahead by 0.001 here
    assert margin(centring=0.75, cross_language=0.0) > 0.05  # 0.083 here
    # nor does the language bonus, which offsets that pull, apply to it any more
    scripts = searcher.facts.scripts(ids)
    searcher.config = replace(searcher.config, cross_language=0.02)
    assert set(
        language_bonus(
            question, ids, scripts, searcher.config.cross_language, applies=False
        ).values()
    ) == {0.0}
    assert language_bonus(question, ids, scripts, searcher.config.cross_language)[thai[0]] == 0.02
    thai_question = "ใครเป็นประธานการประชุม AMCC ครั้งที่ 6"
    searcher.config = replace(searcher.config, centring=0.75)
    on = searcher.search(thai_question, k=10, with_sentence=False).hits
    searcher.config = replace(searcher.config, centring=0.0)
    off = searcher.search(thai_question, k=10, with_sentence=False).hits
    assert [(h.chunk.chunk_id, h.score) for h in on] == [(h.chunk.chunk_id, h.score) for h in off]


def test_the_passages_nearest_the_centred_question_are_candidates_too(searcher, monkeypatch):
    """The language pull can keep the passage that answers an English question out of
    the vector index's first results; a search by the centred question, in the same
    FAISS call, adds the passages nearest it to the candidates."""
    from dataclasses import replace

    searcher.config = replace(searcher.config, dense_k=1)
    question = "who chaired the 6th AMCC?"
    searches, scored = [], []
    search_each, centred = searcher.index.search_each, fusion_module.centred_cosines

    def spy_search(queries, k):
        searches.append(queries)
        return search_each(queries, k)

    def spy_centred(question, chunk_ids, scripts, index, centres):
        scored.extend(chunk_ids)
        return centred(question, chunk_ids, scripts, index, centres)

    monkeypatch.setattr(searcher.index, "search_each", spy_search)
    monkeypatch.setattr(fusion_module, "centred_cosines", spy_centred)
    searcher.search(question, k=1, with_sentence=False)
    qvec = searcher.embedder.embed_queries([question])[0]
    assert len(searches) == 1 and len(searches[0]) == 2
    np.testing.assert_allclose(searches[0][0], qvec, atol=1e-6)
    np.testing.assert_allclose(
        searches[0][1],
        centred_question(qvec, searcher.config.centring, searcher.embedded.centres()),
        atol=1e-6,
    )
    nearest = search_each(searches[0], 1)
    assert nearest[1][0][0] in scored and nearest[0][0][0] in scored
    assert searcher.index.search(searches[0][1], 1) == nearest[1]  # one at a time: the same
    searches.clear()
    searcher.search("ใครเป็นประธานการประชุม AMCC ครั้งที่ 6", k=1, with_sentence=False)
    assert [len(q) for q in searches] == [1]  # a Thai question: by its own vector alone


def test_bm25_runs_in_another_thread_while_the_question_is_embedded(searcher, monkeypatch):
    """The search's lexical half needs no vector: it starts before the model embeds
    the question and runs beside it (docs/performance.md: p50 ~6 ms sooner)."""
    import threading

    from retrieval.ranking import search as search_module

    lexical, embed = search_module.question_words, searcher.embedder.embed_queries
    started, threads = threading.Event(), {}

    def spy_lexical(*args):
        threads["bm25"] = threading.current_thread().name
        started.set()
        return lexical(*args)

    def spy_embed(texts):
        assert started.wait(10), "BM25 had not started when the model ran"
        threads["embed"] = threading.current_thread().name
        return embed(texts)

    monkeypatch.setattr(search_module, "question_words", spy_lexical)
    monkeypatch.setattr(searcher.embedder, "embed_queries", spy_embed)
    answer = searcher.search("ใครเป็นประธานการประชุม AMCC ครั้งที่ 6", k=3)
    assert threads["bm25"].startswith("prakat-bm25")
    assert threads["embed"] == threading.current_thread().name
    assert answer.hits[0].document.doc_id == "46681" and "Josephine Teo" in answer.sentence.text


def texts_embedded(searcher, monkeypatch) -> list[list[str]]:
    """The texts of each call the searcher makes to embed sentences, as it makes them."""
    calls = []

    def spying(real):
        def spy(texts):
            calls.append(list(texts))
            return real(texts)

        return spy

    for name in ("passage_vectors", "passage_states"):  # the latter: with token states
        monkeypatch.setattr(searcher.embedded, name, spying(getattr(searcher.embedded, name)))
    return calls


def test_an_english_questions_top_passages_gain_their_best_sentences_centred_cosine(
    searcher, monkeypatch
):
    """A centred question's top ``sentence_passages`` passages each gain
    ``sentence_weight`` x the centred cosine of their best whole sentence, embedded
    alone, and ``sentence_alignment`` x their best sentence's token alignment with the
    question; the passages after them gain the least of those, so they stay behind. A
    Thai question embeds no sentence for this and scores as before."""
    from dataclasses import replace

    from retrieval.ranking.align import alignment, token_weights

    question = "who chaired the 6th AMCC?"
    embedded = texts_embedded(searcher, monkeypatch)
    searcher.config = replace(searcher.config, sentence_passages=0)
    off = searcher.search(question, k=12, with_sentence=False).hits
    assert embedded == []
    searcher.config = replace(
        searcher.config,
        sentence_passages=3,
        sentence_weight=0.75,
        sentence_margin=0.0,
        sentence_alignment=3.0,
    )
    on = searcher.search(question, k=12, with_sentence=False).hits
    head = [h.chunk.chunk_id for h in off[:3]]
    texts = {h.chunk.chunk_id: h.chunk.text for h in off}
    sentences = [texts[c][a:b] for c in head for a, b in answer_spans(texts[c])]
    assert embedded == [sentences]
    qvec = searcher.embedder.embed_queries([question])[0]
    centred = centred_question(qvec, searcher.config.centring, searcher.embedded.centres())
    scripts = searcher.facts.scripts(head)
    asked = searcher.embedder.query_states([question])[1][0]
    weights = token_weights(asked.tokens)
    gained = {}
    for c in head:
        spans = [texts[c][a:b] for a, b in answer_spans(texts[c])]
        vecs = searcher.embedder.embed_passages(spans) - searcher.embedded.centres().passage(
            scripts[c]
        )
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        states = searcher.embedder.passage_states(spans)[1]
        aligned = max(alignment(asked, weights, s) for s in states)
        assert 0.3 < aligned < 1.0
        gained[c] = 0.75 * float((vecs @ centred).max()) + 3.0 * aligned
    before = {h.chunk.chunk_id: h.score for h in off}
    after = {h.chunk.chunk_id: h.score for h in on}
    for c in head:
        assert after[c] == pytest.approx(before[c] + gained[c], abs=1e-4)
    rest = [h.chunk.chunk_id for h in off[3:]]
    for c in rest:
        if c in after:
            assert after[c] == pytest.approx(before[c] + min(gained.values()), abs=1e-6)
    assert {h.chunk.chunk_id for h in on[:3]} == set(head)  # re-ordered among themselves
    assert [h.chunk.chunk_id for h in on[3:]] == [c for c in rest if c in after]
    assert on[0].document.doc_id == "46681"

    embedded.clear()
    thai_question = "ใครเป็นประธานการประชุม AMCC ครั้งที่ 6"
    th_on = searcher.search(thai_question, k=10, with_sentence=False).hits
    assert embedded == []
    searcher.config = replace(searcher.config, sentence_passages=0)
    th_off = searcher.search(thai_question, k=10, with_sentence=False).hits
    assert [(h.chunk.chunk_id, h.score) for h in th_on] == [
        (h.chunk.chunk_id, h.score) for h in th_off
    ]


def test_only_the_passages_near_enough_to_overtake_the_first_are_rescored(searcher, monkeypatch):
    """``search.sentence_margin``: of the top passages, only those whose fused score is
    within the margin of the first's are re-scored; with none but the first, nothing is
    embedded for it."""
    from dataclasses import replace

    question = "who chaired the 6th AMCC?"
    searcher.config = replace(searcher.config, sentence_passages=0)
    off = searcher.search(question, k=6, with_sentence=False).hits
    gaps = [off[0].score - h.score for h in off[:5]]
    margin = (sorted(gaps)[2] + sorted(gaps)[3]) / 2  # the first three are within it
    assert sorted(gaps)[2] < margin < sorted(gaps)[3]
    embedded = texts_embedded(searcher, monkeypatch)
    searcher.config = replace(searcher.config, sentence_passages=5, sentence_margin=margin)
    searcher.search(question, k=6, with_sentence=False)
    near = [h.chunk for h in off[:5] if off[0].score - h.score <= margin]
    assert len(near) == 3
    assert embedded == [[c.text[a:b] for c in near for a, b in answer_spans(c.text)]]
    embedded.clear()
    searcher.config = replace(searcher.config, sentence_margin=min(g for g in gaps if g > 0) / 2)
    on = searcher.search(question, k=6, with_sentence=False).hits
    assert embedded == []
    assert [(h.chunk.chunk_id, h.score) for h in on] == [(h.chunk.chunk_id, h.score) for h in off]


def test_a_repeated_sentence_is_shown_from_the_passage_holding_more_of_it():
    """A sentence repeated at the start of the next passage (overlap_sentences) is one
    candidate twice; the one whose whole sentence the passage holds most of is shown."""
    from retrieval.ranking.answering import most_whole

    # (hit, start, end, whole sentence start, end): the clause at 40-60 of passage A,
    # whose whole sentence is 0-60, and at 0-20 of passage B, which begins with it
    candidates = [("B", 0, 20, 0, 20), ("other", 30, 50, 30, 50), ("A", 40, 60, 0, 60)]
    texts = ["clause", "another", "clause"]
    assert most_whole(candidates, texts, 0) == 2
    assert most_whole(candidates, texts, 2) == 2
    assert most_whole(candidates, texts, 1) == 1
    tie = [("B", 0, 20, 0, 20), ("A", 40, 60, 40, 60)]
    assert most_whole(tie, ["clause", "clause"], 1) == 0  # a tie keeps the better-ranked


def test_a_question_over_text_in_the_other_script_adds_token_alignment_to_its_answer(searcher):
    """An English question answered from Thai passages: each candidate sentence's
    score is its topic-residual cosine plus ``answer_alignment`` x its token alignment
    with the question (word overlap says nothing across scripts); a Thai question is
    answered as before, with no token states made."""
    from dataclasses import replace

    from retrieval.ranking.align import alignment, token_weights
    from retrieval.ranking.answer import topic_residual_scores

    question = "who chaired the 6th AMCC?"
    searcher.config = replace(searcher.config, sentence_passages=0, answer_alignment=0.0)
    plain = searcher.search(question, k=5)
    searcher.config = replace(searcher.config, answer_alignment=2.0)
    searcher.embedded.state_cache.clear()
    aligned = searcher.search(question, k=5)
    assert [h.chunk.chunk_id for h in aligned.hits] == [h.chunk.chunk_id for h in plain.hits]
    assert "Josephine Teo" in aligned.sentence.text and "Josephine Teo" in plain.sentence.text
    # the score of the clause chosen, recomputed: residual cosine + 2 x alignment
    hit = next(h for h in aligned.hits if h.chunk.chunk_id == aligned.sentence.chunk_id)
    group = next(
        g for g in whole_sentences(hit.chunk.text)
        if (g[0][0], g[-1][1]) == (aligned.sentence.start, aligned.sentence.end)
    )  # fmt: skip
    clauses = [hit.chunk.text[a:b] for a, b in group]
    qvec = searcher.embedder.embed_queries([question])[0]
    vecs = searcher.embedder.embed_passages([*clauses, hit.document.title])
    topics = np.repeat(vecs[-1:], len(clauses), axis=0)
    residual = topic_residual_scores(qvec, vecs[:-1], topics)
    asked = searcher.embedder.query_states([question])[1][0]
    states = searcher.embedder.passage_states(clauses)[1]
    weights = token_weights(asked.tokens)
    expected = residual + 2.0 * np.array([alignment(asked, weights, st) for st in states])
    assert min(abs(expected - aligned.sentence.score)) < 1e-4
    chosen = clauses[int(np.argmin(abs(expected - aligned.sentence.score)))]
    assert chosen in searcher.embedded.state_cache

    searcher.embedded.state_cache.clear()
    thai = searcher.search("ใครเป็นประธานการประชุม AMCC ครั้งที่ 6", k=5)
    assert "Josephine Teo" in thai.sentence.text
    assert not searcher.embedded.state_cache


def test_kept_values_are_the_most_recently_used_and_survive_their_own_eviction(searcher):
    """``Embedded.kept``: a call's values come back even when making its new ones
    pushes its cached ones out (a full cache; this once raised KeyError over 5,000
    releases), and a value used is kept over one older in use."""
    from collections import OrderedDict

    cache = OrderedDict(a=1, b=2)
    made = []

    def make(keys):
        made.append(list(keys))
        return [k.upper() for k in keys]

    assert searcher.embedded.kept(cache, 2, ["a", "x", "y", "a"], make) == [1, "X", "Y", 1]
    assert made == [["x", "y"]] and list(cache) == ["x", "y"]
    assert searcher.embedded.kept(cache, 3, ["x", "z"], make) == ["X", "Z"]
    assert list(cache) == ["y", "x", "z"]
    searcher.embedded.kept(cache, 3, ["w"], make)
    assert list(cache) == ["x", "z", "w"]  # y, the least recently used, went


def test_token_states_are_made_for_sentences_whose_vectors_alone_are_at_hand(searcher):
    """A sentence embedded without its token states (a Thai question's answer, a
    release title) and asked about across scripts later is embedded again with them;
    its vector stays as it was."""
    sentences = ["นายกรัฐมนตรีเป็นประธานการประชุม", "AMCC chaired by Josephine Teo"]
    searcher.embedded.sentence_cache.clear()
    searcher.embedded.state_cache.clear()
    first = searcher.embedded.passage_vectors(sentences[:1])
    vecs, states = searcher.embedded.passage_states(sentences)
    np.testing.assert_allclose(vecs[0], first[0], atol=1e-5)
    assert [len(s.tokens) > 1 for s in states] == [True, True]
    assert list(searcher.embedded.state_cache) == sentences
    assert list(searcher.embedded.sentence_cache) == sentences
    np.testing.assert_allclose(searcher.embedded.passage_vectors(sentences), vecs, atol=1e-6)


def test_a_question_with_thai_words_and_english_names_makes_no_token_states(searcher):
    """Mostly Latin letters (so centred and re-scored) but with Thai words: the word
    overlap reads those, and token alignment is not used; a question in English only
    is aligned."""
    from dataclasses import replace

    searcher.config = replace(searcher.config, sentence_margin=0.0)
    for cache in (searcher.embedded.state_cache, searcher.embedded.question_states):
        cache.clear()
    mixed = "who chaired the 6th AMCC ครั้งที่ 6?"
    answer = searcher.search(mixed, k=5)
    assert answer.hits[0].document.doc_id == "46681"
    assert not searcher.embedded.question_states and not searcher.embedded.state_cache
    searcher.search("who chaired the 6th AMCC?", k=5)
    assert list(searcher.embedded.question_states) == ["who chaired the 6th AMCC?"]
    assert searcher.embedded.state_cache


def test_an_english_question_is_passed_through_the_model_once_for_vector_and_states(
    searcher, monkeypatch
):
    """The question's vector and its token states come from one forward pass; a Thai
    question is embedded as before, without states."""
    calls = []

    def spying(name, real):
        def spy(texts):
            calls.append((name, list(texts)))
            return real(texts)

        return spy

    for name in ("embed_queries", "query_states"):
        monkeypatch.setattr(searcher.embedder, name, spying(name, getattr(searcher.embedder, name)))
    searcher.embedded.question_states.clear()
    answer = searcher.search("who chaired the 6th AMCC?", k=5)
    assert "Josephine Teo" in answer.sentence.text
    assert calls == [("query_states", ["who chaired the 6th AMCC?"])]
    calls.clear()
    searcher.search("ใครเป็นประธานการประชุม AMCC ครั้งที่ 6", k=5)
    assert calls == [("embed_queries", ["ใครเป็นประธานการประชุม AMCC ครั้งที่ 6"])]


def test_a_thai_questions_top_passages_gain_their_character_gram_bm25(searcher):
    """A question with Thai letters: its top ``gram_passages`` passages each gain
    ``gram_weight`` x their BM25 of the question's character 3-grams among them over the
    best one's; the passages after them gain nothing. An English question is scored as
    before."""
    from dataclasses import replace

    from retrieval.text.grams import gram_bm25
    from retrieval.text.normalise import normalise_query

    question = "ใครเป็นประธานการประชุม AMCC ครั้งที่ 6"
    searcher.config = replace(searcher.config, gram_weight=0.0)
    off = searcher.search(question, k=12, with_sentence=False).hits
    searcher.config = replace(searcher.config, gram_weight=0.1, gram_passages=5)
    on = searcher.search(question, k=12, with_sentence=False).hits
    scores = gram_bm25(normalise_query(question), [h.chunk.text for h in off[:5]])
    assert max(scores) > min(scores) > 0
    before = {h.chunk.chunk_id: h.score for h in off}
    after = {h.chunk.chunk_id: h.score for h in on}
    for hit, score in zip(off[:5], scores, strict=True):
        assert after[hit.chunk.chunk_id] == pytest.approx(
            before[hit.chunk.chunk_id] + 0.1 * score / max(scores), abs=1e-6
        )
    for hit in off[5:]:
        if hit.chunk.chunk_id in after:
            assert after[hit.chunk.chunk_id] == pytest.approx(hit.score, abs=1e-6)
    assert on[0].document.doc_id == "46681"

    english = "who chaired the 6th AMCC?"
    en_on = searcher.search(english, k=12, with_sentence=False).hits
    searcher.config = replace(searcher.config, gram_weight=0.0)
    en_off = searcher.search(english, k=12, with_sentence=False).hits
    assert [(h.chunk.chunk_id, h.score) for h in en_on] == [
        (h.chunk.chunk_id, h.score) for h in en_off
    ]


RESTATED = (
    "ที่ประชุมคณะรัฐมนตรีวันนี้มีมติเห็นชอบ\n"
    "โครงการก่อสร้างสะพานข้ามแม่น้ำโขงแห่งที่ 5 วงเงิน 3,930 ล้านบาท\n"
    "โดยให้กระทรวงคมนาคมเป็นผู้ดำเนินการ\n"
    "พรรคเพื่อไทยมีฐานเสียงมากที่สุดในภาคเหนือ\n"
    "มีฐานเสียงมากในภาคอีสานเช่นกัน"
)


@pytest.mark.parametrize(
    ("question", "restating", "answer"),
    [
        ("คณะรัฐมนตรีมีมติเห็นชอบอะไร", "ที่ประชุมคณะรัฐมนตรีวันนี้มีมติเห็นชอบ", "โครงการก่อสร้างสะพาน"),
        ("พรรคใดมีฐานเสียงมากในภาคอีสาน", "มีฐานเสียงมากในภาคอีสานเช่นกัน", "พรรคเพื่อไทย"),
    ],
)
def test_a_thai_questions_answer_is_the_sentence_beside_the_one_restating_it(
    runtime_factory, question, restating, answer
):
    """The sentence sharing most of the question's words restates it up to its question
    word (answer.answer_side): the answer shown is the next sentence (the question
    word comes after the words the sentence ends with) or the previous one (the
    sentence starts with the predicate of a question word that is the subject)."""
    from dataclasses import replace

    from corpus.models import Document

    rt = runtime_factory()
    url = "https://www.thaigov.go.th/news/contents/details/900"
    rt.indexer.add_documents(
        [Document("900", "ครม. เห็นชอบโครงการสะพาน", "2024-01-09", url, "th", RESTATED)]
    )
    searcher = rt.searcher
    searcher.config = replace(searcher.config, answer_side=False)
    assert searcher.search(question, k=3).sentence.text == restating
    searcher.config = replace(searcher.config, answer_side=True)
    shown = searcher.search(question, k=3)
    assert shown.sentence.text.startswith(answer)
    chunk = next(h.chunk for h in shown.hits if h.chunk.chunk_id == shown.sentence.chunk_id)
    assert chunk.text[shown.sentence.start : shown.sentence.end] == shown.sentence.text
    # an English question (Thai leaves its question word in place; English does not) is
    # answered as before
    searcher.config = replace(searcher.config, min_score=0.0)
    english = searcher.search("What did the cabinet approve?", k=3).sentence
    searcher.config = replace(searcher.config, answer_side=False)
    assert searcher.search("What did the cabinet approve?", k=3).sentence == english


def test_a_sentence_adds_its_share_of_the_questions_character_grams_among_them(searcher):
    """``search.answer_grams`` x each sentence's 3-gram BM25 over the best one's, with
    document frequencies from the sentences the answer is chosen from."""
    from dataclasses import replace

    from retrieval.text.grams import gram_bm25
    from retrieval.text.normalise import normalise_query

    question = normalise_query("ใครเป็นประธานการประชุม AMCC ครั้งที่ 6")
    among = {t: set() for t in ["Josephine Teo เป็นประธานการประชุม", "ที่ประชุมหารือ", "อื่น"]}
    texts = ["ที่ประชุมหารือ", "Josephine Teo เป็นประธานการประชุม"]
    searcher.config = replace(searcher.config, answer_grams=0.2)
    shares = searcher.chooser.gram_share(question, texts, among)
    scores = dict(zip(among, gram_bm25(question, list(among)), strict=True))
    best = max(scores.values())
    assert shares.tolist() == pytest.approx([0.2 * scores[t] / best for t in texts])
    assert shares[1] == pytest.approx(0.2)
    assert 0 < shares[0] < shares[1]


def test_only_a_question_with_thai_letters_adds_character_grams_to_its_answer(
    searcher, monkeypatch
):
    """As the passages' 3-gram re-scoring: an English question's grams meet Thai text
    only in names and numbers."""
    asked = []
    real = searcher.chooser.gram_share
    chooser = searcher.chooser
    monkeypatch.setattr(chooser, "gram_share", lambda q, *a: asked.append(q) or real(q, *a))
    searcher.search("ใครเป็นประธานการประชุม AMCC ครั้งที่ 6", k=5)
    assert len(asked) == 1
    english = searcher.search("who chaired the 6th AMCC?", k=5)
    assert len(asked) == 1
    assert "Josephine Teo" in english.sentence.text
