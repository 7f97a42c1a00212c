"""The search as a whole: the pipeline of retrieval/ranking/search.py, its answers on the
AMCC look-alikes, and its threads."""

from __future__ import annotations

import pytest


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


def test_empty_question_has_no_answer(searcher):
    answer = searcher.search("   ", k=5)
    assert not answer.found and answer.sentence is None


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
