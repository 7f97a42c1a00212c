"""Embeddings by key (model signature + embedded text), so nothing is embedded twice."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from corpus.schema import CACHE_MIGRATIONS, connect


def pack_int8(vectors: np.ndarray) -> bytes:
    """``[n, dim]`` vectors as a float32 scale each, then their int8 values (value x
    scale): a quarter of float32's space; a unit vector comes back at cosine >= 0.9998
    to itself (tests/test_indexer.py)."""
    if not len(vectors):
        return b""
    vectors = np.asarray(vectors, np.float32).reshape(len(vectors), -1)
    scales = np.abs(vectors).max(axis=1, initial=0.0) / 127
    safe = np.where(scales > 0, scales, 1.0)[:, None]
    values = np.clip(np.rint(vectors / safe), -127, 127).astype(np.int8)
    return scales.astype("<f4").tobytes() + values.tobytes()


def unpack_int8(blob: bytes, n: int) -> np.ndarray:
    """``pack_int8``'s ``n`` vectors, as float32 unit vectors."""
    if not n:
        return np.zeros((0, 0), np.float32)
    scales = np.frombuffer(blob, "<f4", count=n)
    values = np.frombuffer(blob, np.int8, offset=4 * n).reshape(n, -1)
    vectors = values.astype(np.float32) * scales[:, None]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


class EmbeddingCache:
    """A SQLite file of float32 vectors; safe to delete (everything is recomputed)."""

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = connect(str(path), CACHE_MIGRATIONS)
        self._lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    def _select(self, query: str, keys: Iterable[str]) -> list[tuple]:
        """The rows of ``query`` (``{marks}``: the keys' placeholders) for the distinct
        ``keys``, 500 at a time."""
        unique = list(dict.fromkeys(keys))
        rows: list[tuple] = []
        with self._lock:
            for i in range(0, len(unique), 500):
                part = unique[i : i + 500]
                marks = ",".join("?" * len(part))
                rows += self.db.execute(query.format(marks=marks), part).fetchall()
        return rows

    def missing(self, keys: Iterable[str], *, sentences: bool = False) -> list[str]:
        """The keys (deduplicated, in first-seen order) that have no vector yet; with
        ``sentences``, also those whose sentence vectors were not kept (a sentences row
        comes with its passage's vector: ``put``)."""
        wanted = list(dict.fromkeys(keys))
        table = "sentences" if sentences else "embeddings"
        have = {
            r[0] for r in self._select(f"SELECT key FROM {table} WHERE key IN ({{marks}})", wanted)
        }
        return [k for k in wanted if k not in have]

    def put(
        self,
        keys: Sequence[str],
        vectors: np.ndarray,
        sentences: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> None:
        """Store each key's vector and, with ``sentences``, its ``(spans, vectors)``:
        character spans ``[n, 2]`` of the embedded text and a vector for each (kept in
        int8, ``pack_int8``)."""
        rows = [
            (k, int(v.shape[0]), np.asarray(v, dtype="<f4").tobytes())
            for k, v in zip(keys, vectors, strict=True)
        ]
        sentence_rows = [
            (k, np.asarray(spans, "<i4").tobytes(), pack_int8(vecs))
            for k, (spans, vecs) in zip(keys, sentences or [], strict=sentences is not None)
        ]
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany(
                    "INSERT OR REPLACE INTO embeddings (key, dim, vector) VALUES (?, ?, ?)", rows
                )
                self.db.executemany(
                    "INSERT OR REPLACE INTO sentences (key, spans, vectors) VALUES (?, ?, ?)",
                    sentence_rows,
                )
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def sentences(self, keys: Sequence[str]) -> dict[str, dict[tuple[int, int], np.ndarray]]:
        """The kept sentence vectors of each key that has them: span -> float32 vector."""
        out: dict[str, dict[tuple[int, int], np.ndarray]] = {}
        query = "SELECT key, spans, vectors FROM sentences WHERE key IN ({marks})"
        for key, spans, vectors in self._select(query, keys):
            pairs = np.frombuffer(spans, "<i4").reshape(-1, 2).tolist()
            vecs = unpack_int8(vectors, len(pairs))
            out[key] = {(a, b): v for (a, b), v in zip(pairs, vecs, strict=True)}
        return out

    def find(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors of those ``keys`` that have one."""
        query = "SELECT key, vector FROM embeddings WHERE key IN ({marks})"
        return {key: np.frombuffer(blob, dtype="<f4") for key, blob in self._select(query, keys)}

    def get(self, keys: Sequence[str]) -> np.ndarray:
        """Vectors for ``keys`` in order; every key must be present."""
        found = self.find(keys)
        unique = list(dict.fromkeys(keys))
        absent = [k for k in unique if k not in found]
        if absent:
            raise KeyError(f"{len(absent)} embeddings missing from the cache")
        if not keys:
            return np.zeros((0, 0), np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32)

    def count(self) -> int:
        with self._lock:
            return self.db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
