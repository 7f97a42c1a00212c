"""Pack a document's sentences into overlapping chunks bounded by model tokens."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from corpus.models import Chunk, Document
from retrieval.text.sentences import sentence_units
from retrieval.text.words import index_words, word_tokens

TokenCounter = Callable[[Sequence[str]], list[int]]

CHUNKER_VERSION = "4"  # 2: linear cutting of overlong sentences, crfcut in windows;
#                          3: English abbreviations by a list, not by length;
#                          4: each passage's sentence vectors kept with it (indexer.py)


@dataclass(frozen=True)
class ChunkingConfig:
    max_tokens: int = 128  # model tokens of chunk text, header excluded (measured: docs/quality.md)
    overlap_sentences: int = 1
    # processes that chunk while the model embeds: 0 = auto (one thread beside an encoder
    # on the CPU, which has the cores; all cores but one beside a GPU). Never in the
    # signature: the passages are the same however many cut them.
    workers: int = 0

    def signature(self, model_sig: str) -> str:
        """Documents chunked under another signature are re-chunked on rebuild."""
        raw = f"{CHUNKER_VERSION}|{self.max_tokens}|{self.overlap_sentences}|{model_sig}"
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


def chunk_header(doc: Document) -> str:
    """What every embedded chunk is prefixed with, so a passage knows its release."""
    return f"{doc.title} ({doc.date})" if doc.date else doc.title


def embed_text(doc: Document, chunk_text: str) -> str:
    """What the model sees for a chunk: a header naming the release, then the passage."""
    return f"{chunk_header(doc)}\n{chunk_text}"


def passage_offset(doc: Document) -> int:
    """Where the passage starts in ``embed_text``: after the header and its line break."""
    return len(chunk_header(doc)) + 1


def _split_long(text: str, start: int, end: int, count: TokenCounter, max_tokens: int):
    """Cut a sentence longer than ``max_tokens`` into pieces that fit, at spaces where
    there are any (Thai runs without spaces are cut anywhere).

    Linear in the sentence's length: one count of the whole sentence gives its
    characters per token; each piece is then a window of about that many characters,
    shrunk until the tokenizer agrees it fits (a megabyte-long line takes seconds).
    """
    pieces: list[tuple[int, int]] = []
    total = count([text[start:end]])[0]
    chars_per_token = max(1.0, (end - start) / max(1, total))
    width = max(1, int(max_tokens * chars_per_token * 0.9))
    pos = start
    while pos < end:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            break
        cut = min(end, pos + width)
        while True:
            if cut < end:  # end the piece at a space in its second half, if there is one
                space = text.rfind(" ", pos + 1, cut + 1)
                if space > pos + (cut - pos) // 2:
                    cut = space
            if cut - pos <= 1 or count([text[pos:cut]])[0] <= max_tokens:
                break
            cut = pos + max(1, (cut - pos) * 3 // 4)
        stop = cut
        while stop > pos and text[stop - 1].isspace():
            stop -= 1
        pieces.append((pos, stop))
        pos = cut
    return pieces


def chunk_document(doc: Document, count: TokenCounter, config: ChunkingConfig) -> list[Chunk]:
    """Sentences packed greedily up to ``max_tokens``, each chunk repeating the last
    ``overlap_sentences`` of the one before. Offsets index into ``doc.text``."""
    return chunk_document_words(doc, count, config)[0]


def chunk_document_words(
    doc: Document, count: TokenCounter, config: ChunkingConfig
) -> tuple[list[Chunk], list[list[str]]]:
    """``chunk_document`` and each chunk's ``word_tokens`` (for BM25), taken from the
    sentence splitter's own tokens where it has them instead of tokenising again."""
    return chunk_document_parts(doc, count, config)[:2]


def chunk_document_parts(
    doc: Document, count: TokenCounter, config: ChunkingConfig
) -> tuple[list[Chunk], list[list[str]], list[list[tuple[int, int]]]]:
    """``chunk_document_words`` and the spans of each chunk's sentences (the pieces it
    was packed from), relative to the chunk's start."""
    text = doc.text
    sentences = sentence_units(text)
    if not sentences:
        return [], [], []
    sizes = count([text[a:b] for a, b, _ in sentences])
    units: list[tuple[int, int, int, list[str] | None]] = []
    for (a, b, tokens), n in zip(sentences, sizes, strict=True):
        if n <= config.max_tokens:
            units.append((a, b, n, tokens))
        else:
            for pa, pb in _split_long(text, a, b, count, config.max_tokens):
                units.append((pa, pb, count([text[pa:pb]])[0], None))
    words = [index_words(t) if t is not None else word_tokens(text[a:b]) for a, b, _, t in units]

    chunks: list[Chunk] = []
    chunk_words: list[list[str]] = []
    chunk_spans: list[list[tuple[int, int]]] = []
    i = 0
    while i < len(units):
        j, total = i, 0
        while j < len(units) and (j == i or total + units[j][2] <= config.max_tokens):
            total += units[j][2]
            j += 1
        start, end = units[i][0], units[j - 1][1]
        chunks.append(Chunk(None, doc.doc_id, len(chunks), text[start:end], start, end))
        chunk_words.append([w for unit in words[i:j] for w in unit])
        chunk_spans.append([(a - start, b - start) for a, b, _, _ in units[i:j]])
        if j >= len(units):
            break
        i = max(i + 1, j - config.overlap_sentences)
    return chunks, chunk_words, chunk_spans
