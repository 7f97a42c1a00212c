"""Embeddings by key (model signature + embedded text), so nothing is embedded twice."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from corpus.schema import CACHE_MIGRATIONS, connect


class EmbeddingCache:
    """A SQLite file of float32 vectors; safe to delete (everything is recomputed)."""

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = connect(str(path), CACHE_MIGRATIONS)
        self._lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    def missing(self, keys: Iterable[str]) -> list[str]:
        """The keys (deduplicated, in first-seen order) that have no vector yet."""
        wanted = list(dict.fromkeys(keys))
        have: set[str] = set()
        with self._lock:
            for i in range(0, len(wanted), 500):
                part = wanted[i : i + 500]
                marks = ",".join("?" * len(part))
                have.update(
                    r[0]
                    for r in self.db.execute(
                        f"SELECT key FROM embeddings WHERE key IN ({marks})", part
                    )
                )
        return [k for k in wanted if k not in have]

    def put(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        rows = [
            (k, int(v.shape[0]), np.asarray(v, dtype="<f4").tobytes())
            for k, v in zip(keys, vectors, strict=True)
        ]
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany(
                    "INSERT OR REPLACE INTO embeddings (key, dim, vector) VALUES (?, ?, ?)", rows
                )
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def get(self, keys: Sequence[str]) -> np.ndarray:
        """Vectors for ``keys`` in order; every key must be present."""
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for i in range(0, len(unique), 500):
                part = unique[i : i + 500]
                marks = ",".join("?" * len(part))
                for key, _dim, blob in self.db.execute(
                    f"SELECT key, dim, vector FROM embeddings WHERE key IN ({marks})", part
                ):
                    found[key] = np.frombuffer(blob, dtype="<f4")
        absent = [k for k in unique if k not in found]
        if absent:
            raise KeyError(f"{len(absent)} embeddings missing from the cache")
        if not keys:
            return np.zeros((0, 0), np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32)

    def count(self) -> int:
        with self._lock:
            return self.db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
