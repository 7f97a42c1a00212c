"""Property-based tests (hypothesis) of the parser, the normaliser and the chunker on
hostile text: arbitrary Unicode, Thai marks without a base, zero-width and RTL
characters, NUL bytes, no sentence breaks at all. Each input either yields a valid
document and valid chunks or raises the named error; a time limit per case catches
hangs. Megabyte-long lines are checked separately (hypothesis keeps inputs small).
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from corpus.loader import load_bytes
from corpus.models import Document, UnsupportedDocument
from corpus.release import parse_release
from retrieval.text.chunking import ChunkingConfig, chunk_document
from retrieval.text.normalise import normalise
from retrieval.text.sentences import sentence_spans
from retrieval.text.words import word_tokens

HOSTILE = (
    "กขคงจฉชซญดตถทนบปผพฟภมยรลวศสหอฮะาำเแโใไ"  # Thai letters
    "\u0e31\u0e34\u0e35\u0e36\u0e37\u0e38\u0e39\u0e3a"  # vowel marks
    "\u0e47\u0e48\u0e49\u0e4a\u0e4b\u0e4c\u0e4d"  # tone marks
    "๑๒๓"  # Thai digits
    "\u200b\u200c\u200d\u2060\ufeff\u00ad"  # zero-width, soft hyphen
    "\u202e\u202d\u200f\u0627\u0644\u05d0"  # RTL overrides, Arabic, Hebrew
    "\x00\x01\x7f\ufffd"  # NUL, controls, replacement character
    " \t\n\r\u00a0\u3000.!?\"'()<>&;:-*"  # spaces, punctuation, markup
    "AbcXyz019éñ😀👍🏽"  # Latin, digits, accents, emoji
)
hostile_text = st.text(alphabet=HOSTILE, max_size=400) | st.text(max_size=300)
SETTINGS = settings(max_examples=60, deadline=5000, suppress_health_check=[HealthCheck.too_slow])


def check_document(doc: Document) -> None:
    assert doc.title.strip() and doc.text.strip() and doc.doc_id
    assert doc.lang in ("th", "en")
    assert "\x00" not in doc.text and "\ufeff" not in doc.text


@SETTINGS
@given(hostile_text)
@example("\u0e48\u0e49\u0e4a" * 50)  # tone marks with no consonant to sit on
@example("title\n" + "\u200b" * 300)  # a body of zero-width spaces only
@example("0\r\x00")  # a body of a NUL only (found by hypothesis in CI)
def test_parse_release_yields_a_document_or_the_named_error(raw):
    try:
        doc = parse_release(raw)
    except UnsupportedDocument:
        return
    check_document(doc)


@SETTINGS
@given(st.binary(max_size=600) | hostile_text.map(lambda s: s.encode("utf-8", "surrogatepass")))
@example(b"\xff\xfe" + "ข่าว".encode("utf-16-le") + b"\x00")  # odd-length UTF-16
@example(b"\xef\xbb\xbf")  # a BOM and nothing else
def test_load_bytes_yields_a_document_or_the_named_error(data):
    try:
        doc = load_bytes(data, "upload.txt")
    except UnsupportedDocument as exc:
        assert str(exc)  # one sentence, not an empty message
        return
    check_document(doc)


@SETTINGS
@given(hostile_text)
def test_normalise_is_idempotent_and_leaves_no_invisibles(text):
    once = normalise(text)
    assert normalise(once) == once
    assert "  " not in once
    assert not set(once) & set("\u200b\u200c\u200d\u2060\ufeff\u00a0\u3000")
    tokens = word_tokens(text)
    assert all(t and t == t.strip() for t in tokens)


@pytest.fixture(scope="module")
def count(embedder):
    return embedder.count_tokens


def check_chunks(doc: Document, count, max_tokens: int) -> None:
    chunks = chunk_document(doc, count, ChunkingConfig(max_tokens=max_tokens))
    assert chunks, "a document with text has at least one chunk"
    for i, chunk in enumerate(chunks):
        assert chunk.position == i
        assert 0 <= chunk.start < chunk.end <= len(doc.text)
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip()
        assert count([chunk.text])[0] <= max_tokens
    for a, b in sentence_spans(doc.text):
        assert 0 <= a < b <= len(doc.text)


@SETTINGS
@given(text=hostile_text, max_tokens=st.sampled_from([16, 32, 128]))
@example(text="ก" * 3000, max_tokens=16)  # no spaces, no sentence break
@example(text="\u0e31" * 500, max_tokens=16)  # a mark repeated with no base
def test_chunks_are_non_empty_and_inside_the_text(count, text, max_tokens):
    try:
        doc = parse_release("title\n" + text)
    except UnsupportedDocument:
        return
    check_chunks(doc, count, max_tokens)


@pytest.mark.slow
@pytest.mark.parametrize(
    "line",
    ["การประชุมรัฐมนตรี" * 62_500, "a" * 1_000_000, "word " * 200_000],
    ids=["thai-without-spaces", "one-latin-word", "spaces-no-full-stop"],
)
def test_megabyte_long_line_is_chunked_in_bounded_time(count, line):
    started = time.perf_counter()
    doc = load_bytes(("A title\n" + line).encode(), "big.txt")
    check_chunks(doc, count, 128)
    assert time.perf_counter() - started < 120  # seconds on 2 cores, measured ~10
