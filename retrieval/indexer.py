"""Keep the corpus, the embedding cache and the FAISS index in step.

Adding a document chunks it, embeds only chunks whose text the cache has not
seen, commits the rows in one transaction and updates the vector index in
place; a rebuild re-chunks only what the chunker settings changed, embeds only
what is missing, and writes a fresh index aside before renaming it into place.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from corpus.failpoints import failpoint
from corpus.models import Chunk, Document, StoreLocked
from corpus.store import Store, document_hash
from retrieval.chunking import (
    ChunkingConfig,
    chunk_document_parts,
    embed_text,
    passage_offset,
)
from retrieval.embed_cache import EmbeddingCache
from retrieval.embedder import Embedder, PassageInputs, embed_key, passage_inputs, token_counter
from retrieval.errors import IndexCorrupt, IndexMismatch, IndexNotBuilt
from retrieval.text import word_tokens
from retrieval.vector_index import IndexConfig, VectorIndex, fsync_dir

# (stage, how many more items are done, total items in the stage)
ProgressFn = Callable[[str, int, int], None]

# Committing a batch writes the whole index, so its cost grows with the corpus; batches
# grow to keep it near this share of the time (see ``next_batch_size``).
COMMIT_SHARE = 0.05
# Fewer documents than this are chunked in a thread even where processes are configured:
# starting the processes (each imports pythainlp) would cost more than it saves.
MIN_DOCS_FOR_PROCESSES = 32
# Vectors per call when a batch's passages go into the index (bounds the memory of one call).
ADD_STEP = 32_768


def _no_progress(stage: str, advance: int, total: int) -> None:
    return None


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
    embedded: int  # passages and titles (each release's title is embedded alone too)
    rechunked: int
    seconds: float
    embed_tokens: int = 0
    embed_seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)


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

_worker_state: tuple | None = None


def _start_worker(
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


def _prepare_in_worker(doc: Document) -> PreparedDocument:
    count, chunking, signature, inputs = _worker_state
    return prepare_document(doc, count, chunking, signature, inputs)


def _kept(
    spans: Sequence[tuple[int, int]], rows: np.ndarray, vectors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The spans that reached the model (a passage cut at the model's length limit
    loses its last ones) and their vectors, as the cache keeps them."""
    reached = rows[:, 1] > rows[:, 0]
    return np.asarray(spans, np.int32).reshape(-1, 2)[reached], vectors[reached]


class Indexer:
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
            initializer=_start_worker,
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
                sentences = [_kept(spans[j], rows[j], v) for j, v in zip(at, pooled, strict=True)]
            else:
                vecs = self.embedder.embed_passages(todo_texts[i : i + step], progress=bar)
            self.cache.put(part, vecs, sentences)
            failpoint("embed")
        return len(todo), tokens, time.perf_counter() - started

    # -- incremental updates ----------------------------------------------

    def add_documents(
        self, docs: Iterable[Document], progress: ProgressFn = _no_progress, batch: int = 500
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
            results = processes.map(_prepare_in_worker, docs, chunksize=4)
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
        with self._commit(_no_progress) as index:
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

    @property
    def pending_path(self) -> Path:
        return self.index_path.with_name(self.index_path.name + ".pending")

    def recover(self) -> str | None:
        """Finish or discard what a crashed writer left; returns what was done
        ("installed" or "discarded"), or None. Skipped while another writer works."""
        if not self.pending_path.exists() and not self._temp_files():
            return None
        try:
            with self.store.write():
                return self._recover_locked()
        except StoreLocked:
            return None

    def _temp_files(self) -> list[Path]:
        folder = self.index_path.parent
        return list(folder.glob(".index.*")) if folder.exists() else []

    def _recover_locked(self) -> str | None:
        """``recover`` for a caller that holds the write transaction."""
        for tmp in self._temp_files():  # half-written by a killed writer
            tmp.unlink(missing_ok=True)
        pending = self.pending_path
        if not pending.exists():
            return None
        try:
            meta = VectorIndex.read_manifest(pending)
        except IndexCorrupt:
            meta = {}
        if meta.get("fingerprint") == self.store.fingerprint():
            os.replace(pending, self.index_path)
            fsync_dir(self.index_path.parent)
            return "installed"
        pending.unlink(missing_ok=True)
        return "discarded"

    def _load_or_none(self) -> VectorIndex | None:
        """The current index if it matches the model and the corpus, else None."""
        try:
            index, meta = VectorIndex.load(
                self.index_path, model=self.embedder.signature, config=self.index_config
            )
        except (IndexNotBuilt, IndexMismatch, IndexCorrupt):
            return None
        if meta.get("fingerprint") != self.store.fingerprint():
            return None
        return index

    # -- consistency ---------------------------------------------------------

    def check(self, *, repair: bool = False, progress: ProgressFn = _no_progress) -> dict:
        """Verify that rows, full-text rows, cached vectors and the index agree.

        Returns ``{"problems": {name: count}, "repaired": {...}, "ok": bool}``; with
        ``repair`` the database is fixed and the index rebuilt where needed (embedding
        only vectors that are not cached), then everything is checked again.
        """
        problems: dict[str, int] = {}
        leftovers = int(self.pending_path.exists()) + len(self._temp_files())
        if leftovers:
            problems["files left by an interrupted writer"] = leftovers
        for name, ids in self.store.integrity().items():
            if ids:
                problems[name] = len(ids)
        rows = {cid for cid, _ in self.store.all_chunk_keys()}
        try:
            index, meta = VectorIndex.load(
                self.index_path, model=self.embedder.signature, config=self.index_config
            )
        except (IndexNotBuilt, IndexMismatch, IndexCorrupt) as exc:
            problems[f"index: {exc}"] = 1
        else:
            have = set(index.ids().tolist())
            if have - rows:
                problems["vectors without a chunk"] = len(have - rows)
            if rows - have:
                problems["chunks without a vector"] = len(rows - have)
            if not (have ^ rows) and meta.get("fingerprint") != self.store.fingerprint():
                problems["index fingerprint differs from the corpus"] = 1
        if not repair or not problems:
            return {"ok": not problems, "problems": problems, "repaired": {}}

        repaired = {}
        self.recover()
        fixed = self.store.repair_integrity(
            lambda chunk, doc: (
                f"{' '.join(word_tokens(doc.title))} {' '.join(word_tokens(chunk.text))}"
            )
        )
        repaired.update({k: v for k, v in fixed.items() if v})
        report = self.rebuild(progress)  # re-chunks marked documents, embeds what is missing
        repaired["index rebuilt (vectors)"] = report.chunks
        after = self.check()
        return {"ok": after["ok"], "problems": problems, "repaired": repaired,
                "after": after["problems"]}  # fmt: skip

    # -- full rebuild -------------------------------------------------------

    def rebuild(self, progress: ProgressFn = _no_progress) -> RebuildReport:
        """Re-chunk what needs it, embed what is missing, write a fresh index.

        Embedding comes first and is committed to the cache as it goes (an interrupted
        rebuild resumes there); the re-chunked rows and the new index then replace the
        old ones together (``_commit``).
        """
        started = time.perf_counter()
        stages: dict[str, float] = {}
        self.recover()
        doc_ids = self.store.doc_ids()
        t = time.perf_counter()
        stale = [
            d for d in doc_ids if (self.store.document_state(d) or ("", ""))[1] != self.chunk_sig
        ]
        docs = [self.store.get_document(doc_id) for doc_id in stale]
        # re-chunked passages are embedded as chunking goes; then any stored passage
        # whose vector the cache lacks (a deleted or foreign cache)
        with self._chunk_processes():
            prepared, (embedded, tokens, embed_seconds) = self._prepare_and_embed(
                docs, len(stale), progress
            )
        stages["chunk+embed"] = time.perf_counter() - t

        t = time.perf_counter()
        keys, texts = self._stored_missing_inputs({p.doc.doc_id for p in prepared})
        more, more_tokens, more_seconds = self._embed_missing(keys, texts, progress)
        embedded, tokens, embed_seconds = (
            embedded + more,
            tokens + more_tokens,
            embed_seconds + more_seconds,
        )
        stages["embed"] = time.perf_counter() - t

        t = time.perf_counter()
        with self._commit(progress, fresh=True):
            for p in prepared:  # rows change only after their vectors exist
                self.store.put_document(p.doc, p.chunks, p.tokens, p.embed_keys, self.chunk_sig)
        chunks = self.store.counts()[1]
        stages["index"] = time.perf_counter() - t
        return RebuildReport(
            documents=len(doc_ids),
            chunks=chunks,
            embedded=embedded,
            rechunked=len(prepared),
            seconds=time.perf_counter() - started,
            embed_tokens=tokens,
            embed_seconds=embed_seconds,
            stages=stages,
        )

    def _stored_missing_inputs(self, rechunked: set[str]) -> tuple[list[str], list[str]]:
        """Keys and texts of the stored passages whose vectors the cache lacks (a deleted
        or foreign cache), outside the documents in ``rechunked`` (their old rows are
        about to be replaced; their new passages were embedded while chunking)."""
        stored_keys = self.store.all_chunk_keys()
        missing = set(self.cache.missing(k for _, k in stored_keys))
        keys: list[str] = []
        texts: list[str] = []
        if missing:  # only then do we need the texts of stored chunks
            rows = [cid for cid, key in stored_keys if key in missing]
            for chunk, doc in self.store.get_chunks(rows).values():
                if doc.doc_id in rechunked:
                    continue
                text = embed_text(doc, chunk.text)
                keys.append(self.embedder.embed_key(text))
                texts.append(text)
        return keys, texts

    def build_index(self, progress: ProgressFn = _no_progress) -> int:
        """A fresh index of every stored chunk, from cached vectors."""
        with self._commit(progress, fresh=True):
            pass
        return self.store.counts()[1]

    def _index_from_store(self, progress: ProgressFn) -> VectorIndex:
        rows = self.store.all_chunk_keys()
        ids = np.array([cid for cid, _ in rows], dtype=np.int64)
        parts = []
        step = 4096
        for i in range(0, len(rows), step):
            parts.append(self.cache.get([key for _, key in rows[i : i + step]]))
            progress("index", len(parts[-1]), len(rows))
        # the cached vectors know their dimension: no model load when there are any
        dim = parts[0].shape[1] if parts else self.embedder.dim
        vectors = np.concatenate(parts) if parts else np.zeros((0, dim), np.float32)
        return VectorIndex.build(dim, self.embedder.signature, ids, vectors, self.index_config)

    def _save(self, index: VectorIndex, path: Path) -> None:
        docs, chunks = self.store.counts()
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        index.save(
            path,
            {"fingerprint": self.store.fingerprint(), "documents": docs, "chunks": chunks,
             "built_at": now, "chunk_sig": self.chunk_sig},
        )  # fmt: skip
