"""Pack a document's sentences into overlapping chunks bounded by model tokens."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from corpus.models import Chunk, Document
from retrieval.text import sentence_spans

TokenCounter = Callable[[Sequence[str]], list[int]]

CHUNKER_VERSION = "1"


@dataclass(frozen=True)
class ChunkingConfig:
    max_tokens: int = 128  # model tokens of chunk text, header excluded (measured: docs/quality.md)
    overlap_sentences: int = 1

    def signature(self, model_sig: str) -> str:
        """Documents chunked under another signature are re-chunked on rebuild."""
        raw = f"{CHUNKER_VERSION}|{self.max_tokens}|{self.overlap_sentences}|{model_sig}"
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


def chunk_header(doc: Document) -> str:
    """What every embedded chunk is prefixed with, so a passage knows its release."""
    return f"{doc.title} ({doc.date})" if doc.date else doc.title


def _split_long(text: str, start: int, end: int, count: TokenCounter, max_tokens: int):
    """Cut a sentence longer than ``max_tokens`` at spaces (or anywhere) into pieces."""
    pieces: list[tuple[int, int]] = []
    words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]
    if not words:
        return pieces
    cur_start = words[0][0]
    cur_end = words[0][0]
    for ws, we in words:
        candidate = text[cur_start:we]
        if cur_end > cur_start and count([candidate])[0] > max_tokens:
            pieces.append((cur_start, cur_end))
            cur_start = ws
        cur_end = we
        # a single "word" (Thai text without spaces) that is itself too long
        while count([text[cur_start:cur_end]])[0] > max_tokens:
            cut = cur_start + max(1, (cur_end - cur_start) // 2)
            while cut > cur_start + 1 and count([text[cur_start:cut]])[0] > max_tokens:
                cut = cur_start + max(1, (cut - cur_start) // 2)
            pieces.append((cur_start, cut))
            cur_start = cut
    if cur_end > cur_start:
        pieces.append((cur_start, cur_end))
    return pieces


def chunk_document(doc: Document, count: TokenCounter, config: ChunkingConfig) -> list[Chunk]:
    """Sentences packed greedily up to ``max_tokens``, each chunk repeating the last
    ``overlap_sentences`` of the one before. Offsets index into ``doc.text``."""
    text = doc.text
    spans = sentence_spans(text)
    if not spans:
        return []
    sizes = count([text[a:b] for a, b in spans])
    units: list[tuple[int, int, int]] = []
    for (a, b), n in zip(spans, sizes, strict=True):
        if n <= config.max_tokens:
            units.append((a, b, n))
        else:
            for pa, pb in _split_long(text, a, b, count, config.max_tokens):
                units.append((pa, pb, count([text[pa:pb]])[0]))

    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j, total = i, 0
        while j < len(units) and (j == i or total + units[j][2] <= config.max_tokens):
            total += units[j][2]
            j += 1
        start, end = units[i][0], units[j - 1][1]
        chunks.append(Chunk(None, doc.doc_id, len(chunks), text[start:end], start, end))
        if j >= len(units):
            break
        i = max(i + 1, j - config.overlap_sentences)
    return chunks
