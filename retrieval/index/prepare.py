"""A release made ready to embed and store: its passages, their cache keys and model
inputs, and the spans of their sentences, in the indexing process or in a worker."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from corpus.models import Chunk, Document
from retrieval.encoder.embedder import embed_key
from retrieval.encoder.tokens import PassageInputs, passage_inputs, token_counter
from retrieval.text.chunking import ChunkingConfig, chunk_document_parts, embed_text, passage_offset
from retrieval.text.words import word_tokens


@dataclass
class PreparedDocument:
    doc: Document
    chunks: list[Chunk]
    embed_texts: list[str]
    embed_keys: list[str]
    tokens: list[str]
    embed_tokens: list[int]  # model tokens of each embed text (counted where it was chunked)
    # character spans, in each embed text, of each sentence the chunk was packed from:
    # each gets a vector from the passage's forward pass (the answer's candidates at
    # question time: Searcher.answer_sentence)
    sentence_spans: list[list[tuple[int, int]]] = field(default_factory=list)
    # the model's input ids of each embed text and the token rows of each of its spans,
    # where the model's tokenizer can make them outside the model
    # (Embedder.passage_tokenizer_json); dropped once handed to the encoder
    embed_ids: list[np.ndarray] | None = None
    embed_rows: list[np.ndarray] | None = None
    # the release's title, embedded alone as a passage too (with inputs only): the topic
    # the answer's sentences are compared against (answer.topic_residual_scores)
    # (key, text, model tokens, ids, rows)
    title: tuple[str, str, int, np.ndarray, np.ndarray] | None = None

    def embed_inputs(self) -> tuple[list, list, list, list, list | None, list | None]:
        """What the encoder gets for this document: ``(keys, texts, model tokens, spans,
        ids, rows)`` of its passages, then of its title where it has one (ids and rows:
        None where the chunking made none)."""
        keys, texts = list(self.embed_keys), list(self.embed_texts)
        counts, spans = list(self.embed_tokens), list(self.sentence_spans)
        if self.embed_ids is None:
            return keys, texts, counts, spans, None, None
        ids, rows = list(self.embed_ids), list(self.embed_rows or [])
        if self.title is not None:
            for part, value in zip((keys, texts, counts, ids, rows), self.title, strict=True):
                part.append(value)
            spans.append([])
        return keys, texts, counts, spans, ids, rows


def prepare_document(
    doc: Document, count: Callable[[Sequence[str]], list[int]], chunking: ChunkingConfig,
    signature: str, inputs: PassageInputs | None = None,
) -> PreparedDocument:  # fmt: skip
    """Chunk ``doc``: its passages, what the model embeds of each, their cache keys under
    the embedder ``signature``, their BM25 words, the model tokens of each (counted
    here, in the chunking thread or process: counting in the embedding loop kept a GPU
    waiting, docs/performance.md), the spans of its sentences and, with ``inputs``
    (``Embedder.passage_inputs``), the model's input ids and each span's token rows."""
    chunks, words, units = chunk_document_parts(doc, count, chunking)
    texts = [embed_text(doc, c.text) for c in chunks]
    title_tokens = " ".join(word_tokens(doc.title))
    tokens = [f"{title_tokens} {' '.join(w)}" for w in words]
    keys = [embed_key(signature, t) for t in texts]
    shift = passage_offset(doc)
    spans = [[(shift + a, shift + b) for a, b in u] for u in units]
    prepared = PreparedDocument(doc, chunks, texts, keys, tokens, count(texts), spans)
    if inputs is not None:
        title = [doc.title] if chunks and doc.title.strip() else []
        ids, rows = inputs([*texts, *title], [*spans, *([[]] * len(title))])
        prepared.embed_ids, prepared.embed_rows = ids[: len(texts)], rows[: len(texts)]
        if title:
            key = embed_key(signature, doc.title)
            prepared.title = (key, doc.title, count(title)[0], ids[-1], rows[-1])
    return prepared


_worker_state: tuple | None = None


def start_worker(
    tokenizer_json: str, chunking: ChunkingConfig, signature: str,
    passage_json: str | None = None, passage_prompt: str = "",
) -> None:  # fmt: skip
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    # One thread each: the tokenizer's own thread pool, in every worker, put several
    # threads per core and left the GPU idle most of the time (docs/performance.md).
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    os.environ["RAYON_NUM_THREADS"] = "1"
    global _worker_state
    inputs = passage_inputs(passage_json, passage_prompt) if passage_json else None
    _worker_state = (token_counter(tokenizer_json), chunking, signature, inputs)


def prepare_in_worker(doc: Document) -> PreparedDocument:
    count, chunking, signature, inputs = _worker_state
    return prepare_document(doc, count, chunking, signature, inputs)


def reached_spans(
    spans: Sequence[tuple[int, int]], rows: np.ndarray, vectors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The spans that reached the model (a passage cut at the model's length limit
    loses its last ones) and their vectors, as the cache keeps them."""
    reached = rows[:, 1] > rows[:, 0]
    return np.asarray(spans, np.int32).reshape(-1, 2)[reached], vectors[reached]
