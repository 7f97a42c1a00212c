"""What a search embeds at question time, and keeps (retrieval/ranking/embedded.py)."""

from __future__ import annotations

import numpy as np


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
