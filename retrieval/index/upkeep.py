"""What keeps the index whole: finishing what a crashed writer left, the consistency
check and its repair, and the full rebuild. Mixed into ``Indexer``, whose writing
(``_commit``, ``_prepare_and_embed``, ``_embed_missing``) it uses."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from corpus.models import StoreLocked
from retrieval.errors import IndexCorrupt, IndexMismatch, IndexNotBuilt
from retrieval.index.vector_index import VectorIndex, fsync_dir
from retrieval.text.chunking import embed_text
from retrieval.text.words import word_tokens

# (stage, how many more items are done, total items in the stage)
ProgressFn = Callable[[str, int, int], None]


def no_progress(stage: str, advance: int, total: int) -> None:
    return None


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


class Upkeep:
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

    def check(self, *, repair: bool = False, progress: ProgressFn = no_progress) -> dict:
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

    def rebuild(self, progress: ProgressFn = no_progress) -> RebuildReport:
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

    def build_index(self, progress: ProgressFn = no_progress) -> int:
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
