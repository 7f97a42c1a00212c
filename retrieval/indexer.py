"""Keep the corpus, the embedding cache and the FAISS index in step.

Adding a document chunks it, embeds only chunks whose text the cache has not
seen, commits the rows in one transaction and updates the vector index in
place; a rebuild re-chunks only what the chunker settings changed, embeds only
what is missing, and writes a fresh index aside before renaming it into place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from corpus.models import Chunk, Document
from corpus.store import Store, document_hash
from retrieval.chunking import ChunkingConfig, chunk_document, chunk_header
from retrieval.embed_cache import EmbeddingCache
from retrieval.embedder import Embedder
from retrieval.errors import IndexCorrupt, IndexMismatch, IndexNotBuilt
from retrieval.text import word_tokens
from retrieval.vector_index import VectorIndex

# (stage, how many more items are done, total items in the stage)
ProgressFn = Callable[[str, int, int], None]


def _no_progress(stage: str, advance: int, total: int) -> None:
    return None


@dataclass
class PreparedDocument:
    doc: Document
    chunks: list[Chunk]
    embed_texts: list[str]
    embed_keys: list[str]
    tokens: list[str]


@dataclass
class AddResult:
    doc_id: str
    title: str
    date: str | None
    status: str  # added, replaced, unchanged
    chunks: int


@dataclass
class RebuildReport:
    documents: int
    chunks: int
    embedded: int
    rechunked: int
    seconds: float
    embed_tokens: int = 0
    embed_seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)


def embed_text(doc: Document, chunk_text: str) -> str:
    """What the model sees for a chunk: a header naming the release, then the passage."""
    return f"{chunk_header(doc)}\n{chunk_text}"


class Indexer:
    """Writes to the corpus and keeps the index consistent with it."""

    def __init__(
        self,
        store: Store,
        cache: EmbeddingCache,
        embedder: Embedder,
        index_path: str | Path,
        chunking: ChunkingConfig | None = None,
    ) -> None:
        self.store = store
        self.cache = cache
        self.embedder = embedder
        self.index_path = Path(index_path)
        self.chunking = chunking or ChunkingConfig()

    @property
    def chunk_sig(self) -> str:
        return self.chunking.signature(self.embedder.signature)

    # -- preparing documents ----------------------------------------------

    def needs_work(self, doc: Document) -> bool:
        return self.store.document_state(doc.doc_id) != (document_hash(doc), self.chunk_sig)

    def prepare(self, doc: Document) -> PreparedDocument:
        chunks = chunk_document(doc, self.embedder.count_tokens, self.chunking)
        texts = [embed_text(doc, c.text) for c in chunks]
        title_tokens = " ".join(word_tokens(doc.title))
        tokens = [f"{title_tokens} {' '.join(word_tokens(c.text))}" for c in chunks]
        keys = [self.embedder.embed_key(t) for t in texts]
        return PreparedDocument(doc, chunks, texts, keys, tokens)

    def _embed_missing(
        self, keys: Sequence[str], texts: Sequence[str], progress: ProgressFn
    ) -> tuple[int, int, float]:
        """Embed the texts whose keys the cache lacks; returns (count, tokens, seconds)."""
        by_key = dict(zip(keys, texts, strict=True))
        todo = self.cache.missing(keys)
        if not todo:
            return 0, 0, 0.0
        todo_texts = [by_key[k] for k in todo]
        tokens = sum(self.embedder.count_tokens(todo_texts))
        started = time.perf_counter()
        step = max(self.embedder.config.batch_size * 8, 64)
        for i in range(0, len(todo), step):  # commit as we go: an interruption loses little
            part = todo[i : i + step]
            vecs = self.embedder.embed_passages(
                todo_texts[i : i + step], progress=lambda n: progress("embed", n, len(todo))
            )
            self.cache.put(part, vecs)
        return len(todo), tokens, time.perf_counter() - started

    # -- incremental updates ----------------------------------------------

    def add_documents(
        self, docs: Iterable[Document], progress: ProgressFn = _no_progress
    ) -> list[AddResult]:
        """Add or replace documents; the index is updated in place, not rebuilt."""
        results: list[AddResult] = []
        pending: list[PreparedDocument] = []
        docs = list(docs)
        for doc in docs:
            if self.needs_work(doc):
                pending.append(self.prepare(doc))
            else:
                n = len(self.store.chunks_of(doc.doc_id))
                results.append(AddResult(doc.doc_id, doc.title, doc.date, "unchanged", n))
            progress("chunk", 1, len(docs))
        if not pending:
            return results
        keys = [k for p in pending for k in p.embed_keys]
        texts = [t for p in pending for t in p.embed_texts]
        self._embed_missing(keys, texts, progress)

        index = self._load_or_none()
        for p in pending:
            put = self.store.put_document(p.doc, p.chunks, p.tokens, p.embed_keys, self.chunk_sig)
            if index is not None:
                index.remove(put.removed_chunk_ids)
                if put.chunks:
                    ids = np.array([c.chunk.chunk_id for c in put.chunks], dtype=np.int64)
                    index.add(ids, self.cache.get([c.embed_key for c in put.chunks]))
            results.append(
                AddResult(p.doc.doc_id, p.doc.title, p.doc.date, put.status, len(put.chunks))
            )
        self._save_or_rebuild(index, progress)
        return results

    def remove_document(self, doc_id: str) -> int:
        """Remove a document and its vectors; returns how many chunks went."""
        removed = self.store.remove_document(doc_id)
        index = self._load_or_none()
        if index is not None:
            index.remove(removed)
        self._save_or_rebuild(index, _no_progress)
        return len(removed)

    def _load_or_none(self) -> VectorIndex | None:
        """The current index if it matches the model and the corpus, else None."""
        try:
            index, meta = VectorIndex.load(self.index_path, model=self.embedder.signature)
        except (IndexNotBuilt, IndexMismatch, IndexCorrupt):
            return None
        if meta.get("fingerprint") != self.store.fingerprint():
            return None
        return index

    def _save_or_rebuild(self, index: VectorIndex | None, progress: ProgressFn) -> None:
        if index is None:
            self.build_index(progress)
        else:
            self._save(index)

    # -- full rebuild -------------------------------------------------------

    def rebuild(self, progress: ProgressFn = _no_progress) -> RebuildReport:
        """Re-chunk what needs it, embed what is missing, write a fresh index."""
        started = time.perf_counter()
        stages: dict[str, float] = {}
        rechunked = 0
        doc_ids = self.store.doc_ids()
        t = time.perf_counter()
        stale = [
            d for d in doc_ids if (self.store.document_state(d) or ("", ""))[1] != self.chunk_sig
        ]
        prepared = []
        for doc_id in stale:
            prepared.append(self.prepare(self.store.get_document(doc_id)))
            progress("chunk", 1, len(stale))
        stages["chunk"] = time.perf_counter() - t

        t = time.perf_counter()
        keys, texts = self._all_embed_inputs(prepared)
        embedded, tokens, embed_seconds = self._embed_missing(keys, texts, progress)
        stages["embed"] = time.perf_counter() - t

        for p in prepared:  # rows change only after their vectors exist
            self.store.put_document(p.doc, p.chunks, p.tokens, p.embed_keys, self.chunk_sig)
            rechunked += 1

        t = time.perf_counter()
        chunks = self.build_index(progress)
        stages["index"] = time.perf_counter() - t
        return RebuildReport(
            documents=len(doc_ids),
            chunks=chunks,
            embedded=embedded,
            rechunked=rechunked,
            seconds=time.perf_counter() - started,
            embed_tokens=tokens,
            embed_seconds=embed_seconds,
            stages=stages,
        )

    def _all_embed_inputs(self, prepared: list[PreparedDocument]) -> tuple[list[str], list[str]]:
        """Keys and texts of every chunk the index will hold (re-chunked ones as prepared)."""
        fresh = {p.doc.doc_id for p in prepared}
        keys = [k for p in prepared for k in p.embed_keys]
        texts = [t for p in prepared for t in p.embed_texts]
        stored_keys = [(cid, key) for cid, key in self.store.all_chunk_keys()]
        missing = set(self.cache.missing(k for _, k in stored_keys))
        if missing:  # only then do we need the texts of stored chunks
            rows = [cid for cid, key in stored_keys if key in missing]
            for chunk, doc in self.store.get_chunks(rows).values():
                if doc.doc_id in fresh:
                    continue
                keys.append(self.embedder.embed_key(embed_text(doc, chunk.text)))
                texts.append(embed_text(doc, chunk.text))
        return keys, texts

    def build_index(self, progress: ProgressFn = _no_progress) -> int:
        """A fresh index of every stored chunk, from cached vectors."""
        rows = self.store.all_chunk_keys()
        index: VectorIndex | None = None
        step = 4096
        for i in range(0, len(rows), step):
            part = rows[i : i + step]
            ids = np.array([cid for cid, _ in part], dtype=np.int64)
            vectors = self.cache.get([key for _, key in part])
            if index is None:  # the cached vectors know their dimension: no model load
                index = VectorIndex(vectors.shape[1], self.embedder.signature)
            index.add(ids, vectors)
            progress("index", len(part), len(rows))
        if index is None:
            index = VectorIndex(self.embedder.dim, self.embedder.signature)
        self._save(index)
        return len(rows)

    def _save(self, index: VectorIndex) -> None:
        docs, chunks = self.store.counts()
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        index.save(
            self.index_path,
            {"fingerprint": self.store.fingerprint(), "documents": docs, "chunks": chunks,
             "built_at": now, "chunk_sig": self.chunk_sig},
        )  # fmt: skip
