from __future__ import annotations

from corpus.models import Document
from corpus.release import parse_release
from retrieval.chunking import ChunkingConfig, chunk_document
from retrieval.text import normalise, sentence_spans, split_sentences, word_tokens
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
