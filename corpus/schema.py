"""The one place that owns the SQLite schemas, as numbered migrations.

Two databases: ``corpus.sqlite`` (documents, chunks, full-text index) and
``embeddings.sqlite`` (the embedding cache, safe to delete). Each migration runs
once, in order, in one transaction; ``PRAGMA user_version`` records progress.
"""

from __future__ import annotations

import logging
import sqlite3

log = logging.getLogger(__name__)

M001_CORPUS = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    date TEXT,
    url TEXT,
    lang TEXT NOT NULL,
    text TEXT NOT NULL,
    source_path TEXT,
    content_hash TEXT NOT NULL,
    chunk_sig TEXT NOT NULL,
    added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX documents_date ON documents(date);
CREATE TABLE chunks (
    chunk_id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    embed_key TEXT NOT NULL
);
CREATE INDEX chunks_doc ON chunks(doc_id, position);
-- Pre-tokenised (pythainlp newmm) text, space separated; rowid = chunk_id.
CREATE VIRTUAL TABLE chunks_fts USING fts5(tokens, tokenize = 'ascii');
-- Per-term chunk counts, for weighting the lexical side of the fusion.
CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, row);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

M001_CACHE = """
CREATE TABLE embeddings (
    key TEXT PRIMARY KEY,  -- sha256 of model signature + embedded text
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL   -- float32, little endian
) WITHOUT ROWID;
"""

# A rowid table: its rows (~2 KB) fit in a page, where a WITHOUT ROWID table keeps
# ~1 KB of a row in the page and the rest in overflow pages of their own.
M002_CACHE = """
CREATE TABLE sentences (
    key TEXT PRIMARY KEY,  -- the passage's key in embeddings
    spans BLOB NOT NULL,   -- int32 (start, end) pairs: character spans of the embedded text
    vectors BLOB NOT NULL  -- per span a float32 scale, then per span dim int8 (x scale)
);
"""

# The vectors move to a rowid table too: M001's WITHOUT ROWID table kept ~1 KB of each
# 1.5 KB row in its page and the rest in an overflow page of its own, 4.5 KB a vector.
M003_CACHE = """
CREATE TABLE embeddings_rowid (
    key TEXT PRIMARY KEY,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL
);
INSERT INTO embeddings_rowid (key, dim, vector) SELECT key, dim, vector FROM embeddings;
DROP TABLE embeddings;
ALTER TABLE embeddings_rowid RENAME TO embeddings;
"""

# the site's section of a release read from its page ("ด้านความมั่นคง")
M002_CORPUS = """
ALTER TABLE documents ADD COLUMN section TEXT;
"""

CORPUS_MIGRATIONS: list[str] = [M001_CORPUS, M002_CORPUS]
CACHE_MIGRATIONS: list[str] = [M001_CACHE, M002_CACHE, M003_CACHE]
# migrations that free much of the file: the database is compacted after them
_COMPACT_AFTER = frozenset({M003_CACHE})


def migrate(db: sqlite3.Connection, migrations: list[str]) -> None:
    """Apply the migrations this database has not seen yet."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(migrations):
        raise RuntimeError(
            f"database schema version {version} is newer than this prakat knows "
            f"({len(migrations)}); upgrade prakat"
        )
    pending = migrations[version:]
    if version and pending:
        log.warning("upgrading a database to schema version %d (once)", len(migrations))
    for number, sql in enumerate(pending, start=version + 1):
        try:
            db.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
        except sqlite3.Error:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    if version and _COMPACT_AFTER & set(pending):
        try:  # give the freed pages back; where another connection is busy, they are reused
            db.execute("VACUUM")
        except sqlite3.OperationalError:
            pass


def connect(path: str, migrations: list[str], *, timeout: float = 10.0) -> sqlite3.Connection:
    """Open a database (autocommit; explicit transactions) in WAL mode, fully migrated."""
    db = sqlite3.connect(path, timeout=timeout, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    migrate(db, migrations)
    return db
