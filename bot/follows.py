"""Who follows which topic, and the new releases still to announce: follows.sqlite
beside the corpus (the bot, the CLI and a fetch all write to it).

A release is queued before it is added, by whichever path adds it (the bot, `prakat
corpus add`, a fetch), so that a crash after the add cannot lose its announcement; the
bot drops a queued id the corpus does not hold. ``told`` keeps each (user, release)
announced, so that a restart in the middle of a round tells nobody twice.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS follows (
    follow_id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    chat_id INTEGER NOT NULL,
    topic TEXT NOT NULL,
    lang TEXT NOT NULL,
    created REAL NOT NULL,
    UNIQUE (user_id, topic)
);
CREATE TABLE IF NOT EXISTS pending (doc_id TEXT PRIMARY KEY, queued REAL NOT NULL);
CREATE TABLE IF NOT EXISTS told (
    user_id INTEGER NOT NULL,
    doc_id TEXT NOT NULL,
    PRIMARY KEY (user_id, doc_id)
);
"""
_FOLLOWS = "SELECT follow_id, user_id, chat_id, topic, lang FROM follows"  # Follow's fields
MAX_TOPIC_CHARS = 200


class TooManyTopics(Exception):
    """The user follows as many topics as they may."""


@dataclass(frozen=True)
class Follow:
    follow_id: int
    user_id: int
    chat_id: int
    topic: str
    lang: str


def clean_topic(text: str) -> str:
    """A topic as it is kept: one line, single spaces, at most ``MAX_TOPIC_CHARS``."""
    return " ".join(text.split())[:MAX_TOPIC_CHARS]


class Follows:
    """follows.sqlite; safe to use from several threads."""

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), timeout=10, check_same_thread=False,
                                  isolation_level=None)  # fmt: skip
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    def _rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._lock:
            return self.db.execute(sql, params).fetchall()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One writer's transaction, taken at its start; rolled back on any error."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def _write(self, sql: str, rows: Iterable[Sequence]) -> int:
        with self._transaction() as db:
            return db.executemany(sql, rows).rowcount

    # -- topics -------------------------------------------------------------

    def follow(self, user_id: int, chat_id: int, topic: str, lang: str, cap: int) -> Follow:
        """Follow ``topic`` (already followed: the same follow, its chat and language
        updated). Raises ``TooManyTopics`` past ``cap`` topics."""
        topic = clean_topic(topic)
        with self._transaction() as db:
            known = db.execute("SELECT 1 FROM follows WHERE user_id = ? AND topic = ?",
                               (user_id, topic)).fetchone()  # fmt: skip
            (count,) = db.execute(
                "SELECT count(*) FROM follows WHERE user_id = ?", (user_id,)
            ).fetchone()
            if not known and count >= cap:
                raise TooManyTopics(f"a user may follow at most {cap} topics")
            db.execute(
                "INSERT INTO follows (user_id, chat_id, topic, lang, created)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, topic)"
                " DO UPDATE SET chat_id = excluded.chat_id, lang = excluded.lang",
                (user_id, chat_id, topic, lang, time.time()),
            )
            row = db.execute(f"{_FOLLOWS} WHERE user_id = ? AND topic = ?",
                             (user_id, topic)).fetchone()  # fmt: skip
        return Follow(*row)

    def of_user(self, user_id: int) -> list[Follow]:
        """The user's topics, oldest first (the numbers /following shows)."""
        rows = self._rows(f"{_FOLLOWS} WHERE user_id = ? ORDER BY follow_id", (user_id,))
        return [Follow(*r) for r in rows]

    def anyone(self) -> bool:
        """Whether anybody follows a topic."""
        return bool(self._rows("SELECT 1 FROM follows LIMIT 1"))

    def all(self) -> list[Follow]:
        rows = self._rows(f"{_FOLLOWS} ORDER BY follow_id")
        return [Follow(*r) for r in rows]

    def unfollow(self, user_id: int, follow_id: int) -> bool:
        """Stop one of the user's follows; False where it is not theirs (or gone)."""
        return bool(self._write("DELETE FROM follows WHERE user_id = ? AND follow_id = ?",
                                [(user_id, follow_id)]))  # fmt: skip

    def unfollow_chat(self, chat_id: int) -> int:
        """Stop every follow told in ``chat_id`` (the user blocked the bot there)."""
        return self._write("DELETE FROM follows WHERE chat_id = ?", [(chat_id,)])

    # -- releases to announce -------------------------------------------------

    def queue(self, doc_ids: Iterable[str]) -> None:
        self._write("INSERT OR IGNORE INTO pending (doc_id, queued) VALUES (?, ?)",
                    [(d, time.time()) for d in doc_ids])  # fmt: skip

    def pending(self, limit: int = 200) -> list[str]:
        return [r[0] for r in self._rows("SELECT doc_id FROM pending ORDER BY queued, doc_id"
                                         " LIMIT ?", (limit,))]  # fmt: skip

    def done(self, doc_ids: Iterable[str]) -> None:
        self._write("DELETE FROM pending WHERE doc_id = ?", [(d,) for d in doc_ids])

    def told(self, user_id: int, doc_ids: Iterable[str]) -> set[str]:
        """Which of ``doc_ids`` the user was already told of."""
        doc_ids = list(doc_ids)
        if not doc_ids:
            return set()
        marks = ",".join("?" * len(doc_ids))
        rows = self._rows(f"SELECT doc_id FROM told WHERE user_id = ? AND doc_id IN ({marks})",
                          [user_id, *doc_ids])  # fmt: skip
        return {r[0] for r in rows}

    def mark_told(self, user_id: int, doc_ids: Iterable[str]) -> None:
        self._write("INSERT OR IGNORE INTO told (user_id, doc_id) VALUES (?, ?)",
                    [(user_id, d) for d in doc_ids])  # fmt: skip


def queue_new(follows_path: Path, store, doc_ids: Iterable[str]) -> None:
    """Queue the releases of ``doc_ids`` the corpus does not hold yet, before they are
    added (whoever adds them: the bot, the CLI, a fetch); nothing while nobody follows
    a topic, so that building the archive queues nothing."""
    follows = Follows(follows_path)
    try:
        if follows.anyone():
            follows.queue(d for d in dict.fromkeys(doc_ids) if not store.has_document(d))
    finally:
        follows.close()
