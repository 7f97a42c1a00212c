from __future__ import annotations

import pytest

from corpus.loader import iter_release_paths, load_path


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


def test_lexical_weight_trusts_bm25_for_thai_not_for_english_over_thai(searcher):
    from retrieval.text import word_tokens

    thai = searcher.lexical_weight(word_tokens("การประชุมรัฐมนตรีอาเซียนด้านความมั่นคงปลอดภัยไซเบอร์"))
    english = searcher.lexical_weight(
        word_tokens("what did the ministers discuss about resilience")
    )
    assert thai > 0.9
    assert english < 0.2


def test_empty_question_has_no_answer(searcher):
    answer = searcher.search("   ", k=5)
    assert not answer.found and answer.sentence is None


def test_pinned_searcher_remembers_term_counts_until_the_index_is_swapped(
    runtime_factory, amcc_dir
):
    from corpus.models import Document
    from retrieval.search import Searcher

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


def test_common_words_are_skipped_by_bm25_but_numbers_are_kept(searcher):
    """On the bundled sample "ครั้งที่" and "6" are each in more than 5% of passages;
    skipping "6" too made the Thai AMCC question answer from the 5th meeting's release."""
    n = len(searcher.index)
    counts = {"ใคร": 1, "ครั้งที่": n, "6": n, "การประชุม": n, "amcc": 1}
    kept = searcher._selective(["ใคร", "ครั้งที่", "6", "การประชุม", "amcc"], counts)
    assert kept == ["ใคร", "6", "amcc"]
    assert searcher._selective(["ครั้งที่", "การประชุม"], counts) == ["ครั้งที่", "การประชุม"]


def test_tie_break_settles_near_ties_only(searcher):
    """A dense candidate holding the question's rare words wins a near-tie (cosines
    0.001 apart), not a wide gap; BM25-only passages are not added to the dense list."""
    from dataclasses import replace

    searcher.config = replace(searcher.config, cross_language=0.0, tie_break=0.005)
    order = searcher._dense_order
    dense = [(1, 0.8162), (2, 0.8152), (3, 0.7000)]
    lexical = [(3, 12.0), (2, 9.0), (4, 3.0)]
    assert [c for c, _ in order("q", dense, lexical)] == [2, 1, 3]
    assert order("q", dense, lexical)[0] == (2, 0.8152)  # cosines kept as they are
    searcher.config = replace(searcher.config, tie_break=0.0)
    assert order("q", dense, lexical) == dense


def test_passages_in_the_other_language_gain_against_the_same_language_pull(searcher):
    """Release 46940 is in English, 46681 in Thai: an English question's dense list
    moves the Thai passage up by 0.02 of cosine, a Thai question's the English one."""
    from dataclasses import replace

    searcher.config = replace(searcher.config, tie_break=0.0)
    english = searcher.store.chunks_of("46940")[0].chunk.chunk_id
    thai = searcher.store.chunks_of("46681")[0].chunk.chunk_id
    dense = [(english, 0.830), (thai, 0.815)]
    assert [c for c, _ in searcher._dense_order("who chaired it?", dense, [])] == [thai, english]
    assert searcher._dense_order("ใครเป็นประธาน", dense, []) == dense
    dense = [(thai, 0.830), (english, 0.815)]
    assert [c for c, _ in searcher._dense_order("ใครเป็นประธาน", dense, [])] == [english, thai]
    wide = [(english, 0.86), (thai, 0.815)]  # more than 0.02 apart: the order stands
    assert searcher._dense_order("who chaired it?", wide, []) == wide
    searcher.config = replace(searcher.config, cross_language=0.0)
    near = [(english, 0.830), (thai, 0.815)]
    assert searcher._dense_order("who chaired it?", near, []) == near
