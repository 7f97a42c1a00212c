"""Keep the corpus, the embedding cache and the FAISS index in step.

Adding a document chunks it, embeds only chunks whose text the cache has not
seen, commits the rows in one transaction and updates the vector index in
place; a rebuild re-chunks only what the chunker settings changed, embeds only
what is missing, and writes a fresh index aside before renaming it into place.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from corpus.failpoints import failpoint
from corpus.models import Document
from corpus.store import Store, document_hash
from retrieval.encoder.embedder import Embedder
from retrieval.index.embed_cache import EmbeddingCache
from retrieval.index.prepare import (
    PreparedDocument,
    prepare_document,
    prepare_in_worker,
    reached_spans,
    start_worker,
)
from retrieval.index.upkeep import ProgressFn, Upkeep, no_progress
from retrieval.index.vector_index import IndexConfig, VectorIndex, fsync_dir
from retrieval.text.chunking import (
    ChunkingConfig,
)

# Committing a batch writes the whole index, so its cost grows with the corpus; batches
# grow to keep it near this share of the time (see ``next_batch_size``).
COMMIT_SHARE = 0.05
# Fewer documents than this are chunked in a thread even where processes are configured:
# starting the processes (each imports pythainlp) would cost more than it saves.
MIN_DOCS_FOR_PROCESSES = 32
# Vectors per call when a batch's passages go into the index (bounds the memory of one call).
ADD_STEP = 32_768


@dataclass
class AddResult:
    doc_id: str
    title: str
    date: str | None
    status: str  # added, replaced, unchanged
    chunks: int


def next_batch_size(done: int, work_seconds: float, commit_seconds: float, minimum: int) -> int:
    """Documents in the next batch of ``add_documents``, from the last batch: ``done``
    documents took ``work_seconds`` to chunk and embed and ``commit_seconds`` to commit.
    At least ``minimum``; more once a commit would otherwise take over ``COMMIT_SHARE``
    of the time (it writes the whole index: about 0.9 GB at the archive's 590,000
    passages), so committing stays a small, fixed share however large the corpus. At
    most twice ``done``: one slow commit (the index turning into a graph, say) must not
    make a batch so large that an interruption loses much."""
    if done <= 0 or work_seconds <= 0 or commit_seconds <= 0:
        return minimum
    wanted = commit_seconds / COMMIT_SHARE / (work_seconds / done)
    return max(minimum, min(int(wanted), 2 * done))


# -- chunking in worker processes ---------------------------------------------------


class Indexer(Upkeep):
    """Writes to the corpus and keeps the index consistent with it."""

    def __init__(
        self,
        store: Store,
        cache: EmbeddingCache,
        embedder: Embedder,
        index_path: str | Path,
        chunking: ChunkingConfig | None = None,
        index_config: IndexConfig | None = None,
    ) -> None:
        self.index_config = index_config or IndexConfig()
        self.store = store
        self.cache = cache
        self.embedder = embedder
        self.index_path = Path(index_path)
        self.chunking = chunking or ChunkingConfig()
        self._processes: ProcessPoolExecutor | None = None
        self._keep_processes = False

    @property
    def chunk_sig(self) -> str:
        return self.chunking.signature(self.embedder.signature)

    # -- preparing documents ----------------------------------------------

    def needs_work(self, doc: Document) -> bool:
        return self.store.document_state(doc.doc_id) != (document_hash(doc), self.chunk_sig)

    def prepare(self, doc: Document) -> PreparedDocument:
        e = self.embedder
        return prepare_document(doc, e.count_tokens, self.chunking, e.signature,
                                e.passage_inputs())  # fmt: skip

    def chunk_processes(self) -> int:
        """How many processes chunk beside the encoder (0: one thread in this process).
        ``chunking.workers``, or for 0 (auto): none when the model runs on the CPU, whose
        cores it uses; all cores but this process's one when it runs on a GPU."""
        if self.chunking.workers:
            return self.chunking.workers
        if not self.embedder.load().device.startswith("cuda"):
            return 0
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        return max(0, (cores or 1) - 1)

    @contextmanager
    def _chunk_processes(self) -> Iterator[None]:
        """Inside, worker processes started for one batch are kept for the next."""
        self._keep_processes = True
        try:
            yield
        finally:
            self._keep_processes = False
            self._stop_processes()

    def _process_pool(self, n_docs: int) -> ProcessPoolExecutor | None:
        if self._processes is not None:
            return self._processes
        if n_docs < MIN_DOCS_FOR_PROCESSES:
            return None
        workers = self.chunk_processes()
        tokenizer = self.embedder.counter_json() if workers else None
        if tokenizer is None:  # a slow tokenizer cannot travel: chunk in a thread
            return None
        # the workers also make the model's input ids, where they would be the model's own
        passage_json = self.embedder.passage_tokenizer_json()
        self._processes = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),  # never fork a CUDA process
            initializer=start_worker,
            initargs=(tokenizer, self.chunking, self.embedder.signature, passage_json,
                      self.embedder.config.passage_prompt),
        )  # fmt: skip
        return self._processes

    def _stop_processes(self) -> None:
        if self._processes is not None:
            self._processes.shutdown(wait=True, cancel_futures=True)
            self._processes = None

    @property
    def _embed_step(self) -> int:
        """Passages embedded between cache commits (an interruption loses at most these)."""
        return self.embedder.batch_size * 8

    def _embed_missing(
        self,
        keys: Sequence[str],
        texts: Sequence[str],
        progress: ProgressFn,
        total: Callable[[int], int] | None = None,
        counts: Sequence[int] | None = None,
        ids: Sequence[np.ndarray] | None = None,
        rows: Sequence[np.ndarray] | None = None,
        spans: Sequence[Sequence[tuple[int, int]]] | None = None,
    ) -> tuple[int, int, float]:
        """Embed the texts whose keys the cache lacks; returns (count, tokens, seconds).
        ``total`` turns this call's count into the progress bar's total (for callers
        that embed in several calls); ``counts``, the texts' model tokens where the
        caller has them (else they are counted here); ``ids``, the texts' model input
        ids where the chunking made them (then the texts are not tokenised here), which
        come with ``rows`` and ``spans``: each text's sentence spans and their token
        rows, whose vectors are kept too (and a text whose sentence vectors the cache
        lacks is embedded again)."""
        by_key = dict(zip(keys, range(len(keys)), strict=True))
        pooling = ids is not None
        todo = self.cache.missing(keys, sentences=pooling)
        if not todo:
            return 0, 0, 0.0
        bar_total = total(len(todo)) if total else len(todo)
        todo_texts = [texts[by_key[k]] for k in todo]
        if counts is None:
            tokens = sum(self.embedder.count_tokens(todo_texts))
        else:
            tokens = sum(counts[by_key[k]] for k in todo)
        started = time.perf_counter()
        step = self._embed_step
        for i in range(0, len(todo), step):  # commit as we go: an interruption loses little
            part = todo[i : i + step]
            bar = lambda n: progress("embed", n, bar_total)  # noqa: E731
            sentences = None
            if pooling:
                at = [by_key[k] for k in part]
                vecs, pooled = self.embedder.embed_passage_inputs(
                    [ids[j] for j in at], [rows[j] for j in at], bar
                )
                sentences = [
                    reached_spans(spans[j], rows[j], v) for j, v in zip(at, pooled, strict=True)
                ]
            else:
                vecs = self.embedder.embed_passages(todo_texts[i : i + step], progress=bar)
            self.cache.put(part, vecs, sentences)
            failpoint("embed")
        return len(todo), tokens, time.perf_counter() - started

    # -- incremental updates ----------------------------------------------

    def add_documents(
        self, docs: Iterable[Document], progress: ProgressFn = no_progress, batch: int = 500
    ) -> list[AddResult]:
        """Add or replace documents; the index is updated in place, not rebuilt.

        Work goes in batches of at least ``batch`` documents: each batch's rows and the
        index that holds their vectors are committed together (see ``_commit``), so an
        interruption keeps every finished batch and loses nothing else. Batches grow
        as the index does, so that writing it stays a small share of the time
        (``next_batch_size``); vectors are cached as they are made in any case.
        """
        results: list[AddResult] = []
        docs = list(docs)
        start, size = 0, batch
        with self._chunk_processes():
            while start < len(docs):
                part = docs[start : start + size]
                started = time.perf_counter()
                done, commit_seconds = self._add_batch(part, len(docs), progress)
                results += done
                work = time.perf_counter() - started - commit_seconds
                size = next_batch_size(len(part), work, commit_seconds, batch)
                start += len(part)
        return results

    def _add_batch(
        self, docs: list[Document], total: int, progress: ProgressFn
    ) -> tuple[list[AddResult], float]:
        """Add one batch; returns its results and the seconds its commit took."""
        results: list[AddResult] = []
        work = []
        for doc in docs:
            if self.needs_work(doc):
                work.append(doc)
            else:
                n = len(self.store.chunks_of(doc.doc_id))
                results.append(AddResult(doc.doc_id, doc.title, doc.date, "unchanged", n))
                progress("chunk", 1, total)
        pending, _ = self._prepare_and_embed(work, total, progress)
        if not pending:
            return results, 0.0
        started = time.perf_counter()
        with self._commit(progress) as index:
            removed: list[int] = []  # chunk ids the index held before this batch
            added: dict[int, str] = {}  # chunk id -> cache key, in order
            for p in pending:
                put = self.store.put_document(
                    p.doc, p.chunks, p.tokens, p.embed_keys, self.chunk_sig
                )
                for chunk_id in put.removed_chunk_ids:  # a release twice in one batch
                    if added.pop(chunk_id, None) is None:
                        removed.append(chunk_id)
                if put.status != "unchanged":
                    added.update((c.chunk.chunk_id, c.embed_key) for c in put.chunks)
                results.append(
                    AddResult(p.doc.doc_id, p.doc.title, p.doc.date, put.status, len(put.chunks))
                )
            if index is not None:
                self._update_index(index, removed, added)
        return results, time.perf_counter() - started

    def _update_index(self, index: VectorIndex, removed: list[int], added: dict[int, str]) -> None:
        """One batch's changes to the index, in few large calls: FAISS adds a batch to an
        HNSW graph on all cores (one release's ten passages at a time kept it on one,
        and a GPU waited), and HNSW drops nodes by rebuilding the graph (once per batch,
        not once per replaced release). Ids are never reused (AUTOINCREMENT), and an id
        added and removed within the batch never reaches the index (``_add_batch``)."""
        index.remove(removed)
        ids = list(added)
        for i in range(0, len(ids), ADD_STEP):
            part = ids[i : i + ADD_STEP]
            index.add(np.array(part, dtype=np.int64), self.cache.get([added[c] for c in part]))

    def _prepare_and_embed(
        self, docs: list[Document], total: int, progress: ProgressFn
    ) -> tuple[list[PreparedDocument], tuple[int, int, float]]:
        """Chunk ``docs`` while the model embeds the passages chunked so far (the cache
        commits them as it goes). Chunking is single-threaded Python (crfcut, newmm):
        beside a CPU encoder it runs in one thread (the model's kernels release the GIL,
        so the two overlap); beside a GPU, in worker processes (``chunk_processes``)."""
        prepared: list[PreparedDocument] = []
        keys: list[str] = []
        texts: list[str] = []
        counts: list[int] = []
        spans: list[list[tuple[int, int]]] = []
        ids: list[np.ndarray] = []  # stays empty unless every passage came with its ids
        rows: list[np.ndarray] = []  # ... and its sentences' token rows
        queued = 0

        def grow(n: int) -> int:  # the embedding bar's total grows as chunking goes on
            nonlocal queued
            queued += n
            return queued

        stats = [0, 0, 0.0]  # passages embedded, their tokens, seconds of embedding

        def embed() -> None:
            made = len(ids) == len(keys)  # ids and rows come together (embed_inputs)
            given = (ids, rows, spans) if made else (None, None, None)
            for i, value in enumerate(
                self._embed_missing(keys, texts, progress, grow, counts, *given)
            ):
                stats[i] += value
            for part in (keys, texts, counts, spans, ids, rows):
                part.clear()

        processes = self._process_pool(len(docs)) if docs else None
        if processes is None and docs:
            self.embedder.passage_inputs()  # checked here, not in the chunking thread
        thread = None
        if processes is not None:
            results = processes.map(prepare_in_worker, docs, chunksize=4)
        else:
            thread = ThreadPoolExecutor(1, thread_name_prefix="prakat-chunk")
            results = (f.result() for f in [thread.submit(self.prepare, doc) for doc in docs])
        try:
            for p in results:
                prepared.append(p)
                progress("chunk", 1, total)
                p_keys, p_texts, p_counts, p_spans, p_ids, p_rows = p.embed_inputs()
                keys += p_keys
                texts += p_texts
                counts += p_counts
                spans += p_spans
                if p_ids is not None:
                    ids += p_ids
                    rows += p_rows
                # the batch's documents are kept until its commit
                p.embed_ids = p.embed_rows = p.title = None
                if len(keys) >= self._embed_step:
                    embed()
            embed()
        finally:
            if thread is not None:
                thread.shutdown(wait=True, cancel_futures=True)
            if not self._keep_processes:
                self._stop_processes()
        return prepared, (stats[0], stats[1], stats[2])

    def remove_document(self, doc_id: str) -> int:
        """Remove a document and its vectors; returns how many chunks went."""
        with self._commit(no_progress) as index:
            removed = self.store.remove_document(doc_id)
            if index is not None:
                index.remove(removed)
        return len(removed)

    @contextmanager
    def _commit(self, progress: ProgressFn, *, fresh: bool = False) -> Iterator[VectorIndex | None]:
        """Change the corpus and its index together, or neither.

        Yields the current index (None if there is none matching the corpus) inside
        one write transaction; the caller changes rows and the index alike. Then the
        new index is written to ``<index>.pending``, the transaction commits, and the
        pending file is renamed over the index. A crash before the commit leaves the
        old rows and the old index; one between the commit and the rename leaves a
        pending file that matches the rows, which ``recover`` installs.
        """
        pending = self.pending_path
        try:
            with self.store.write():
                self._recover_locked()
                index = None if fresh else self._load_or_none()
                yield index
                if index is None:  # no usable index: a fresh one from the cache, rows as now
                    index = self._index_from_store(progress)
                else:  # grown past (or shrunk below) index.auto_threshold: change kind
                    index = index.retyped()
                self._save(index, pending)
                failpoint("before-commit")
        except BaseException:
            pending.unlink(missing_ok=True)  # the rows rolled back: so does the index
            raise
        failpoint("after-commit")
        os.replace(pending, self.index_path)
        fsync_dir(self.index_path.parent)

    def _save(self, index: VectorIndex, path: Path) -> None:
        docs, chunks = self.store.counts()
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        index.save(
            path,
            {"fingerprint": self.store.fingerprint(), "documents": docs, "chunks": chunks,
             "built_at": now, "chunk_sig": self.chunk_sig},
        )  # fmt: skip
