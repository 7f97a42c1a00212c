"""The SQLite store of documents, chunks and their full-text index."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from corpus.failpoints import failpoint
from corpus.fulltext import FullText
from corpus.models import Chunk, Document, DocumentNotFound, StoreLocked
from corpus.schema import CORPUS_MIGRATIONS, connect


@dataclass(frozen=True)
class DocumentInfo:
    """A row of ``prakat corpus list``."""

    doc_id: str
    title: str
    date: str | None
    url: str | None
    lang: str
    chunks: int
    added_at: str


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as stored, with the key of the embedding of its header + text."""

    chunk: Chunk
    embed_key: str


@dataclass(frozen=True)
class PutResult:
    """What ``Store.put_document`` did: ``added``, ``replaced`` or ``unchanged``."""

    status: str
    doc_id: str
    removed_chunk_ids: list[int]
    chunks: list[StoredChunk]


def document_hash(doc: Document) -> str:
    """Hash of everything about a document that the index depends on."""
    parts = [doc.title, doc.date or "", doc.url or "", doc.lang, doc.text]
    if doc.section:  # (a release without one keeps the hash it had before sections)
        parts.append(doc.section)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class Store(FullText):
    """Documents and chunks in one SQLite file (WAL mode, one writer at a time)."""

    def __init__(self, path: str | Path, *, timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = connect(str(self.path), CORPUS_MIGRATIONS, timeout=timeout)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise StoreLocked("the corpus database is busy with another writer") from None
            raise
        self._lock = threading.RLock()
        self._depth = 0  # nesting of write(): only the outermost begins and commits

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; a second concurrent writer gets ``StoreLocked``.
        Nested calls join the outer transaction."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.db
                finally:
                    self._depth -= 1
                return
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc):
                    raise StoreLocked(
                        "another prakat process is writing to the corpus; try again when it ends"
                    ) from None
                raise
            self._depth = 1
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0
            self.db.execute("COMMIT")

    # -- documents ---------------------------------------------------------

    def get_document(self, doc_id: str) -> Document:
        with self._lock:
            row = self.db.execute(
                "SELECT doc_id, title, date, url, lang, text, source_path, section FROM documents"
                " WHERE doc_id = ?",
                (doc_id,),
            ).fetchone()
        if row is None:
            raise DocumentNotFound(f"no document with id {doc_id!r} in the corpus")
        return Document(*row)

    def has_document(self, doc_id: str) -> bool:
        with self._lock:
            return (
                self.db.execute("SELECT 1 FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
                is not None
            )

    def document_state(self, doc_id: str) -> tuple[str, str] | None:
        """``(content_hash, chunk_sig)`` of a stored document, or None."""
        with self._lock:
            row = self.db.execute(
                "SELECT content_hash, chunk_sig FROM documents WHERE doc_id = ?", (doc_id,)
            ).fetchone()
        return (row[0], row[1]) if row else None

    def put_document(
        self,
        doc: Document,
        chunks: Sequence[Chunk],
        tokens: Sequence[str],
        embed_keys: Sequence[str],
        chunk_sig: str,
    ) -> PutResult:
        """Insert or replace a document with its chunks in one transaction.

        ``tokens`` are the chunks' pre-tokenised texts for the full-text index and
        ``embed_keys`` the cache keys of their embeddings, one per chunk.
        """
        digest = document_hash(doc)
        state = self.document_state(doc.doc_id)
        if state == (digest, chunk_sig):
            return PutResult("unchanged", doc.doc_id, [], self.chunks_of(doc.doc_id))
        with self.write() as db:
            removed = self._delete(db, doc.doc_id)
            db.execute(
                "INSERT INTO documents (doc_id, title, date, url, lang, text, source_path,"
                " content_hash, chunk_sig, section) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (doc.doc_id, doc.title, doc.date, doc.url, doc.lang, doc.text,
                 doc.source_path, digest, chunk_sig, doc.section),
            )  # fmt: skip
            failpoint("db-write")
            stored = []
            for chunk, toks, key in zip(chunks, tokens, embed_keys, strict=True):
                cur = db.execute(
                    "INSERT INTO chunks (doc_id, position, text, start, end, embed_key)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (doc.doc_id, chunk.position, chunk.text, chunk.start, chunk.end, key),
                )
                chunk_id = cur.lastrowid
                db.execute("INSERT INTO chunks_fts (rowid, tokens) VALUES (?, ?)", (chunk_id, toks))
                stored.append(
                    StoredChunk(
                        Chunk(chunk_id, doc.doc_id, chunk.position, chunk.text, chunk.start,
                              chunk.end),
                        key,
                    )
                )  # fmt: skip
        return PutResult("replaced" if state else "added", doc.doc_id, removed, stored)

    def remove_document(self, doc_id: str) -> list[int]:
        """Delete a document; returns the ids of the chunks that went with it."""
        with self.write() as db:
            if db.execute("SELECT 1 FROM documents WHERE doc_id = ?", (doc_id,)).fetchone() is None:
                raise DocumentNotFound(f"no document with id {doc_id!r} in the corpus")
            return self._delete(db, doc_id)

    @staticmethod
    def _delete(db: sqlite3.Connection, doc_id: str) -> list[int]:
        ids = [r[0] for r in db.execute("SELECT chunk_id FROM chunks WHERE doc_id = ?", (doc_id,))]
        db.executemany("DELETE FROM chunks_fts WHERE rowid = ?", [(i,) for i in ids])
        db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        return ids

    def list_documents(
        self, *, limit: int | None = None, newest_first: bool = False
    ) -> list[DocumentInfo]:
        order = "d.date DESC, d.doc_id DESC" if newest_first else "d.date, d.doc_id"
        sql = (
            "SELECT d.doc_id, d.title, d.date, d.url, d.lang, COUNT(c.chunk_id), d.added_at"
            " FROM documents d LEFT JOIN chunks c ON c.doc_id = d.doc_id"
            f" GROUP BY d.doc_id ORDER BY {order}"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            return [DocumentInfo(*row) for row in self.db.execute(sql)]

    def doc_ids(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self.db.execute("SELECT doc_id FROM documents ORDER BY doc_id")]

    # -- chunks ------------------------------------------------------------

    def chunks_of(self, doc_id: str) -> list[StoredChunk]:
        with self._lock:
            rows = self.db.execute(
                "SELECT chunk_id, doc_id, position, text, start, end, embed_key FROM chunks"
                " WHERE doc_id = ? ORDER BY position",
                (doc_id,),
            ).fetchall()
        return [StoredChunk(Chunk(*row[:6]), row[6]) for row in rows]

    def all_chunk_keys(self) -> list[tuple[int, str]]:
        """``(chunk_id, embed_key)`` of every chunk, in id order."""
        with self._lock:
            return self.db.execute(
                "SELECT chunk_id, embed_key FROM chunks ORDER BY chunk_id"
            ).fetchall()

    def chunk_docs(self) -> list[tuple[int, str]]:
        """``(chunk_id, doc_id)`` of every chunk, in id order."""
        with self._lock:
            sql = "SELECT chunk_id, doc_id FROM chunks ORDER BY chunk_id"
            return self.db.execute(sql).fetchall()

    def get_chunks(self, chunk_ids: Sequence[int]) -> dict[int, tuple[Chunk, Document]]:
        """Chunks with their documents, by id; unknown ids are left out."""
        rows = self._rows_in(
            "SELECT c.chunk_id, c.doc_id, c.position, c.text, c.start, c.end,"
            " d.title, d.date, d.url, d.lang, d.source_path"
            " FROM chunks c JOIN documents d ON d.doc_id = c.doc_id"
            " WHERE c.chunk_id IN ({keys})",
            chunk_ids,
        )
        out = {}
        for r in rows:
            doc = Document(r[1], r[6], r[7], r[8], r[9], "", r[10])
            out[r[0]] = (Chunk(*r[:6]), doc)
        return out

    def chunk_releases(self, chunk_ids: Sequence[int]) -> dict[int, tuple[str, str | None, str]]:
        """``(doc_id, date, title)`` of each chunk's release, by chunk id."""
        rows = self._rows_in(
            "SELECT c.chunk_id, d.doc_id, d.date, d.title FROM chunks c"
            " JOIN documents d ON d.doc_id = c.doc_id WHERE c.chunk_id IN ({keys})",
            chunk_ids,
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def chunks_dated(self, first: str, last: str) -> list[int]:
        """The chunk ids of the releases dated from ``first`` to ``last`` (ISO days)."""
        with self._lock:
            rows = self.db.execute(
                "SELECT c.chunk_id FROM documents d JOIN chunks c ON c.doc_id = d.doc_id"
                " WHERE d.date BETWEEN ? AND ?",
                (first, last),
            ).fetchall()
        return [r[0] for r in rows]

    def chunk_texts(self, chunk_ids: Sequence[int]) -> dict[int, str]:
        """The text of each chunk, by id; unknown ids are left out."""
        return dict(self._rows_in("SELECT chunk_id, text FROM chunks WHERE chunk_id IN ({keys})",
                                  chunk_ids))  # fmt: skip

    # -- read snapshots ------------------------------------------------------

    def pin_snapshot(self) -> None:
        """From now on read the database as it is at this moment, until the next pin or
        ``release_snapshot``: writers in other processes commit meanwhile, but this
        connection does not see it (WAL snapshot isolation). The bot pins the snapshot
        that matches the index it serves, so an answer never mixes old and new rows."""
        with self._lock:
            if self.db.in_transaction:
                self.db.execute("COMMIT")
            self.db.execute("BEGIN")
            self.db.execute("SELECT COUNT(*) FROM meta").fetchone()  # the snapshot starts here

    def release_snapshot(self) -> None:
        with self._lock:
            if self.db.in_transaction and not self._depth:
                self.db.execute("COMMIT")

    # -- integrity ---------------------------------------------------------

    INTEGRITY_QUERIES = {
        "chunks without a document": "SELECT chunk_id FROM chunks"
        " WHERE doc_id NOT IN (SELECT doc_id FROM documents)",
        "full-text rows without a chunk": "SELECT rowid FROM chunks_fts"
        " WHERE rowid NOT IN (SELECT chunk_id FROM chunks)",
        "chunks without a full-text row": "SELECT chunk_id FROM chunks"
        " WHERE chunk_id NOT IN (SELECT rowid FROM chunks_fts)",
        "documents without chunks": "SELECT doc_id FROM documents"
        " WHERE doc_id NOT IN (SELECT doc_id FROM chunks)",
    }

    def integrity(self) -> dict[str, list]:
        """What does not hang together in the database: problem -> row ids."""
        with self._lock:
            quick = self.db.execute("PRAGMA quick_check").fetchone()[0]
            found = {name: [r[0] for r in self.db.execute(sql)]
                     for name, sql in self.INTEGRITY_QUERIES.items()}  # fmt: skip
        found["sqlite quick_check"] = [] if quick == "ok" else [quick]
        return found

    def repair_integrity(self, tokens_of) -> dict[str, int]:
        """Fix what ``integrity`` finds, in one transaction: orphans are deleted,
        missing full-text rows are rebuilt (``tokens_of(chunk, document)`` gives their
        tokens), and documents without chunks are marked for re-chunking."""
        fixed = {}
        with self.write() as db:
            found = self.integrity()
            ids = found["chunks without a document"]
            db.executemany("DELETE FROM chunks_fts WHERE rowid = ?", [(i,) for i in ids])
            db.executemany("DELETE FROM chunks WHERE chunk_id = ?", [(i,) for i in ids])
            fixed["chunks without a document"] = len(ids)
            ids = found["full-text rows without a chunk"]
            db.executemany("DELETE FROM chunks_fts WHERE rowid = ?", [(i,) for i in ids])
            fixed["full-text rows without a chunk"] = len(ids)
            ids = found["chunks without a full-text row"]
            for cid, (chunk, doc) in self.get_chunks(ids).items():
                db.execute(
                    "INSERT INTO chunks_fts (rowid, tokens) VALUES (?, ?)",
                    (cid, tokens_of(chunk, doc)),
                )
            fixed["chunks without a full-text row"] = len(ids)
            ids = found["documents without chunks"]
            db.executemany("UPDATE documents SET chunk_sig = '' WHERE doc_id = ?",
                           [(i,) for i in ids])  # fmt: skip
            fixed["documents without chunks"] = len(ids)
        return fixed

    # -- bookkeeping -------------------------------------------------------

    def counts(self) -> tuple[int, int]:
        with self._lock:
            docs = self.db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            chunks = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return docs, chunks

    def fingerprint(self) -> str:
        """A hash of the set of chunks (ids and embedding keys): the index must match it."""
        h = hashlib.sha256()
        for chunk_id, key in self.all_chunk_keys():
            h.update(f"{chunk_id}:{key};".encode())
        return h.hexdigest()

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.write() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
