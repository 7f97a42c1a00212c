from __future__ import annotations

import numpy as np

from corpus.models import Document
from corpus.release import parse_release
from retrieval.text.chunking import ChunkingConfig, chunk_document
from retrieval.text.normalise import normalise
from retrieval.text.sentences import (
    answer_spans,
    sentence_spans,
    split_sentences,
    whole_sentence_units,
    whole_sentences,
)
from retrieval.text.words import index_words, word_tokens
from tests.conftest import sample_file


def words(texts):
    """A deterministic stand-in tokenizer for pure packing logic: one token per word."""
    return [len(t.split()) for t in texts]


def test_abbreviations_stay_inside_their_sentence():
    doc = parse_release(sample_file("46681").read_text(encoding="utf-8"))
    sentences = split_sentences(doc.text)
    teo = [s for s in sentences if "Josephine Teo" in s]
    assert len(teo) == 1
    assert "H.E. Mrs. Josephine Teo" in teo[0]
    assert teo[0].endswith("ทำหน้าที่เป็นประธานการประชุมฯ")
    assert not any(s.strip() in {"H.E.", "Mrs.", "ค.ศ."} for s in sentences)


def test_thai_and_english_sentence_spans_point_into_the_text():
    text = (
        "นายกรัฐมนตรีกล่าวว่า พ.ศ. 2564 เป็นปีสำคัญ ประชาชนต้องร่วมมือกัน\n"
        "Mr. Smith arrived. He met Dr. Lee at 9 a.m. today."
    )
    spans = sentence_spans(text)
    assert all(0 <= a < b <= len(text) for a, b in spans)
    assert [text[a:b] for a, b in spans] == [text[a:b].strip() for a, b in spans]
    english = [text[a:b] for a, b in spans if text[a:b].isascii()]
    assert english[0] == "Mr. Smith arrived."
    assert english[1].startswith("He met Dr. Lee")


def test_english_sentences_end_after_short_words_but_not_after_titles():
    """A word of four letters or fewer before the full stop used to count as an
    abbreviation, so "the city." ran on into the next sentence."""
    text = (
        "The port lies east of the city. It opened in 1990 and grew. "
        "Gen. Prayut met Mrs. Lee and Assoc. Prof. Naraporn there. They all spoke with them. "
        "The U.S. sent Maj.Gen. John W. Smith."
    )
    assert split_sentences(text) == [
        "The port lies east of the city.",
        "It opened in 1990 and grew.",
        "Gen. Prayut met Mrs. Lee and Assoc. Prof. Naraporn there.",
        "They all spoke with them.",
        "The U.S. sent Maj.Gen. John W. Smith.",
    ]


def test_whole_sentences_join_crfcuts_unsure_cuts():
    """crfcut cuts the first sentence of release 46681 between its clauses ("... ไซเบอร์
    | ครั้งที่ 6 (The 6th ASEAN ..."); the whole sentence joins them, and keeps the
    sentence naming the chair apart."""
    doc = parse_release(sample_file("46681").read_text(encoding="utf-8"))
    text = doc.text
    clauses, groups = sentence_spans(text), whole_sentences(text)
    assert [span for group in groups for span in group] == clauses
    assert len(groups) < len(clauses)
    spans = answer_spans(text)
    assert spans == [(g[0][0], g[-1][1]) for g in groups]
    assert all(text[:b].count("\n") == text[:a].count("\n") for a, b in spans)  # one paragraph
    first = next(g for g in groups if any(text[a:b].startswith("ครั้งที่ 6 (The 6th") for a, b in g))
    a, b = first[0][0], first[-1][1]
    assert len(first) > 1 and text[a:b].startswith("เมื่อวันที่ 6 ตุลาคม 2564")
    teo = next(g for g in groups if any("Josephine Teo" in text[a:b] for a, b in g))
    assert len(teo) == 1 and text[teo[0][0] : teo[0][1]].endswith("ทำหน้าที่เป็นประธานการประชุมฯ")
    assert answer_spans(text, boundary=0.0) == clauses  # no cut is under p 0
    assert len(answer_spans(text, boundary=1.0)) == text.count("\n") + 1  # paragraphs


def test_whole_sentences_carry_the_words_the_splitter_cut_them_from():
    """The answer reads a candidate sentence's words from the splitter's own newmm
    tokens instead of cutting its text again: they must be the words ``word_tokens``
    gives (Thai sentences; English ones carry none and are cut as before)."""
    for doc_id in ("46681", "35821", "46520"):
        text = parse_release(sample_file(doc_id).read_text(encoding="utf-8")).text
        groups = whole_sentence_units(text)
        assert [[(a, b) for a, b, _ in g] for g in groups] == whole_sentences(text)
        units = [unit for group in groups for unit in group]
        thai = [(a, b, raw) for a, b, raw in units if raw is not None]
        assert len(thai) > len(units) / 2
        for a, b, raw in thai:
            assert index_words(raw) == word_tokens(text[a:b])


def test_whole_sentences_from_several_threads_are_each_texts_own():
    """The CRF's end probabilities are read after its labelling, from crfcut's one
    tagger: threads (a question beside an upload) must not read each other's."""
    from concurrent.futures import ThreadPoolExecutor

    texts = [
        parse_release(sample_file(n).read_text(encoding="utf-8")).text[:1500]
        for n in ("46681", "46581", "35821")
    ]
    alone = {t: (whole_sentences(t), sentence_spans(t)) for t in texts}

    def both(text):
        return text, (whole_sentences(text), sentence_spans(text))

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(both, texts * 20))
    assert all(got == alone[text] for text, got in results)


def test_chunks_respect_the_token_budget_and_overlap_one_sentence():
    sentences = [f"Sentence number {i} has exactly seven words." for i in range(20)]
    doc = Document("d", "T", None, None, "en", " ".join(sentences))
    chunks = chunk_document(doc, words, ChunkingConfig(max_tokens=30, overlap_sentences=1))
    assert len(chunks) > 1
    for c in chunks:
        assert words([c.text])[0] <= 30
        assert doc.text[c.start : c.end] == c.text
    for a, b in zip(chunks, chunks[1:], strict=False):
        last_sentence = a.text.rsplit("Sentence", 1)[1]
        assert b.text.startswith("Sentence" + last_sentence)
    assert chunks[-1].text.endswith(sentences[-1])


def test_an_overlong_sentence_is_cut_under_the_budget():
    doc = Document("d", "T", None, None, "th", " ".join(["คำ"] * 100) + " " + "ก" * 500)
    chunks = chunk_document(
        doc, lambda ts: [len(t) // 10 + 1 for t in ts], ChunkingConfig(max_tokens=20)
    )
    assert all(len(c.text) // 10 + 1 <= 20 for c in chunks)
    assert "".join(c.text.replace(" ", "") for c in chunks).count("ก") >= 500


def test_real_tokenizer_chunks_a_real_release(embedder):
    doc = parse_release(sample_file("46681").read_text(encoding="utf-8"))
    chunks = chunk_document(doc, embedder.count_tokens, ChunkingConfig(max_tokens=64))
    assert len(chunks) >= 3
    assert all(n <= 64 for n in embedder.count_tokens([c.text for c in chunks]))
    assert any("Josephine Teo" in c.text for c in chunks)


def test_normalise_and_word_tokens():
    assert normalise("a\u00a0\u00a0b\u200bc") == "a bc"
    assert word_tokens("ใครเป็นประธาน AMCC ครั้งที่ ๖?") == [
        "ใคร",
        "เป็น",
        "ประธาน",
        "amcc",
        "ครั้ง",
        "ที่",
        "6",
    ]


def test_crfcut_with_its_tokens_splits_as_crfcut_segment_does(monkeypatch):
    """The sentence splitter keeps crfcut's own tokens (to reuse them as BM25 words);
    its sentences must be crfcut.segment's, on real releases and an abbreviation case."""
    import retrieval.text.sentences as text_mod

    docs = [parse_release(sample_file(n).read_text(encoding="utf-8")) for n in ("46681", "46581")]
    texts = [d.text for d in docs] + ["พ.ศ. 2564 ครม. อนุมัติ! ประชาชนได้รับเงิน 5,000 บาท ทุกคน"]
    with_tokens = [sentence_spans(t) for t in texts]
    crfcut = text_mod._crfcut()

    class PublicOnly:  # what _crf_segments falls back to without pythainlp's internals
        segment = staticmethod(crfcut.segment)

    monkeypatch.setattr(text_mod, "_crfcut", lambda: PublicOnly)
    assert [sentence_spans(t) for t in texts] == with_tokens
    assert all(len(spans) > 1 for spans in with_tokens)


def test_crf_features_are_crfcuts_own():
    """The faster feature builder gives the CRF exactly crfcut's features."""
    import retrieval.text.sentences as text_mod

    crfcut = text_mod._crfcut()
    doc = parse_release(sample_file("46681").read_text(encoding="utf-8"))
    pieces = [p for p in doc.text.split("\n") if text_mod.is_thai(p)] + ["ครับ", "นี้ ผม"]
    for piece in pieces:
        toks = text_mod.newmm()(piece)
        ours = text_mod._crf_features(toks, crfcut._ENDERS, crfcut._STARTERS)
        assert ours == crfcut._extract_features(toks)
    assert text_mod._crf_features([], crfcut._ENDERS, crfcut._STARTERS) == []


def test_the_numpy_crf_labels_every_thai_paragraph_of_the_sample_as_crfcuts_tagger(tmp_path):
    """retrieval/text/crf.py replaces crfcut's tagger where chunking labels sentences and
    where an answer is grouped into whole sentences: its labels must be the tagger's,
    and its probabilities of a sentence end its marginals, on every Thai paragraph of
    the bundled sample."""
    import retrieval.text.sentences as text_mod
    from retrieval.text import crf
    from tests.conftest import SAMPLE

    crfcut = text_mod._crfcut()
    linear = text_mod._linear_crf()
    assert linear is not None  # the product path, not the fallback
    enders, starters = crfcut._ENDERS, crfcut._STARTERS
    pieces = [
        piece
        for path in sorted(SAMPLE.glob("*.txt"))
        for paragraph in path.read_text(encoding="utf-8").split("\n")
        if text_mod.is_thai(paragraph)
        for piece in text_mod._windows(paragraph, text_mod._CRF_WINDOW)
    ]
    assert len(pieces) > 3000
    differ = 0
    gap = 0.0
    for piece in pieces:
        toks = text_mod.newmm()(piece)
        if toks:
            scores = linear.scores(toks, enders, starters)
            ours = linear.best(scores)
            tagger = crfcut._tagger
            differ += ours != tagger.tag(text_mod._crf_features(toks, enders, starters))
            theirs = [tagger.marginal("E", i) for i in range(len(toks))]
            gap = max(gap, *np.abs(np.subtract(linear.end_probabilities(scores), theirs)))
    assert differ == 0
    assert gap < 1e-6  # crfsuite computes in float64 as well
    assert "E" in ours and "I" in ours  # the last piece has both labels
    not_a_model = tmp_path / "x.model"
    not_a_model.write_bytes(b"lCRF" + bytes(60))
    assert crf.load(not_a_model, crfcut._tagger) is None  # the tagger labels, as before
    assert crf.load(tmp_path / "missing.model", crfcut._tagger) is None


def test_chunk_words_are_the_word_tokens_of_each_chunk():
    from retrieval.text.chunking import chunk_document_words

    doc = parse_release(sample_file("46681").read_text(encoding="utf-8"))
    doc = Document(doc.doc_id, doc.title, doc.date, doc.url, doc.lang, doc.text + "\n" + "ก" * 400)
    count = lambda ts: [len(t) // 4 + 1 for t in ts]  # noqa: E731  (forces a cut sentence)
    chunks, chunk_words = chunk_document_words(doc, count, ChunkingConfig(max_tokens=60))
    assert chunks == chunk_document(doc, count, ChunkingConfig(max_tokens=60))
    assert len(chunk_words) == len(chunks) > 3
    same = sum(w == word_tokens(c.text) for c, w in zip(chunks, chunk_words, strict=True))
    assert same >= len(chunks) - 1  # newmm may cut a date like /2564 differently in context
    assert all(w for w in chunk_words)
