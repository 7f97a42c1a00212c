"""Stage 1b, the BM25 candidates (retrieval/ranking/lexical.py): the question's words,
their coverage, and which of them find candidates."""

from __future__ import annotations

import pytest

from corpus.loader import iter_release_paths, load_path
from retrieval.ranking.lexical import bm25_candidates, finding_terms


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
