"""Stages 1a and 2, dense candidates and fusion (retrieval/ranking/candidates.py, fusion.py)."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.ranking import fusion as fusion_module
from retrieval.ranking.candidates import Dense, centred_question
from retrieval.ranking.fusion import centred_cosines, language_bonus
from retrieval.ranking.lexical import Words


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


def test_reciprocal_rank_fusion_and_one_list_alone_are_the_baselines(searcher):
    """``rrf`` adds 1 / (rrf_k + rank) from each list; ``dense`` and ``bm25`` rank by one
    list alone. Every candidate carries its cosine, from the index where the dense list
    lacks it."""
    from dataclasses import replace

    a, b, c = (row.chunk.chunk_id for row in searcher.store.chunks_of("46681")[:3])
    qvec = searcher.index.vector(a)
    dense = Dense([(a, 0.9), (b, 0.8)])
    words = Words([], {}, 1.0, [(b, 5.0), (c, 1.0)])

    def fuse(kind):
        ranking = replace(searcher.config, fusion=kind, rrf_k=60)
        return fusion_module.reciprocal_rank(qvec, dense, words, searcher.index, ranking)

    scores, cosines = fuse("rrf")
    assert scores == pytest.approx({a: 1 / 61, b: 1 / 62 + 1 / 61, c: 1 / 62})
    assert cosines[a] == 0.9 and cosines[c] == pytest.approx(
        float(searcher.index.vector(c) @ qvec), abs=1e-6
    )
    assert set(fuse("dense")[0]) == {a, b}
    scores, cosines = fuse("bm25")
    assert scores == pytest.approx({b: 1 / 61, c: 1 / 62})
    assert cosines[b] == pytest.approx(float(searcher.index.vector(b) @ qvec), abs=1e-6)
