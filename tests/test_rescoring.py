"""Stage 3, re-scoring the top passages (retrieval/ranking/rescoring.py)."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.ranking.candidates import centred_question
from retrieval.text.sentences import answer_spans


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
    """The best passages of a centred question's top ``sentence_passages`` releases
    each gain ``sentence_weight`` x the centred cosine of their best whole sentence,
    embedded alone, and ``sentence_alignment`` x their best sentence's token alignment
    with the question; the other passages gain the least of those, so they stay
    behind. A Thai question embeds no sentence for this and scores as before."""
    from dataclasses import replace

    from retrieval.ranking.align import alignment, token_weights

    question = "who chaired the 6th AMCC?"
    embedded = texts_embedded(searcher, monkeypatch)
    # passages, not releases: the stage re-scores passages
    searcher.config = replace(searcher.config, sentence_passages=0, distinct_releases=False)
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
    firsts = {}  # each release's best passage, by fused score (the ordinal reorders)
    for h in sorted(off, key=lambda h: h.score, reverse=True):
        firsts.setdefault(h.document.doc_id, h.chunk.chunk_id)
    head = list(firsts.values())[:3]
    assert head != [h.chunk.chunk_id for h in off[:3]]  # a release's second passage is passed
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
    rest = [h.chunk.chunk_id for h in off if h.chunk.chunk_id not in head]
    for c in rest:
        if c in after:
            assert after[c] == pytest.approx(before[c] + min(gained.values()), abs=1e-6)
    assert on[0].chunk.chunk_id in head
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
    off = searcher.search(question, k=6, with_sentence=False).hits  # one passage a release
    off = sorted(off, key=lambda h: h.score, reverse=True)  # by fused score
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
    assert {h.chunk.chunk_id: h.score for h in on} == {h.chunk.chunk_id: h.score for h in off}


def test_a_thai_questions_top_passages_gain_their_character_gram_bm25(searcher):
    """A question with Thai letters: its top ``gram_passages`` passages each gain
    ``gram_weight`` x their BM25 of the question's character 3-grams among them over the
    best one's; the passages after them gain nothing. An English question is scored as
    before."""
    from dataclasses import replace

    from retrieval.text.grams import gram_bm25
    from retrieval.text.normalise import normalise_query

    question = "ใครเป็นประธานการประชุม AMCC ครั้งที่ 6"
    searcher.config = replace(searcher.config, gram_weight=0.0, distinct_releases=False)
    off = searcher.search(question, k=12, with_sentence=False).hits
    searcher.config = replace(searcher.config, gram_weight=0.1, gram_passages=5)
    on = searcher.search(question, k=12, with_sentence=False).hits
    # the stage sees the passages by score (the occurrence asked reorders them after it)
    off = sorted(off, key=lambda h: h.score, reverse=True)
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
