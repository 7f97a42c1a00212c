"""The one place that touches FAISS: an id-mapped inner-product index, saved atomically.

The index and its manifest live in one file, so replacing it is one rename:
``PRKIDX1\\n`` + 8-byte manifest length + manifest JSON + serialised FAISS index.
The manifest carries a SHA-256 of the FAISS bytes, so damage is detected on load.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from retrieval.errors import IndexCorrupt, IndexMismatch, IndexNotBuilt

MAGIC = b"PRKIDX1\n"


class VectorIndex:
    """Normalised vectors keyed by chunk id; search by inner product (= cosine)."""

    def __init__(self, dim: int, model: str) -> None:
        self.dim = dim
        self.model = model
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape[1] != self.dim:
            raise IndexMismatch(f"vectors have dimension {vectors.shape[1]}, index has {self.dim}")
        self.index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: list[int] | np.ndarray) -> int:
        if len(ids) == 0:
            return 0
        return int(self.index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top ``k`` ``(chunk_id, cosine)`` for one normalised query vector."""
        if len(self) == 0 or k <= 0:
            return []
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        scores, ids = self.index.search(q, min(k, len(self)))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def save(self, path: str | Path, manifest: dict[str, Any]) -> None:
        """Write index + manifest aside, fsync, then rename over ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = faiss.serialize_index(self.index).tobytes()
        meta = dict(manifest, model=self.model, dim=self.dim, vectors=len(self),
                    sha256=hashlib.sha256(blob).hexdigest())  # fmt: skip
        head = json.dumps(meta, ensure_ascii=False).encode()
        fd, tmp = tempfile.mkstemp(prefix=".index.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + struct.pack("<Q", len(head)) + head)
                f.write(blob)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @staticmethod
    def read_manifest(path: str | Path) -> dict[str, Any]:
        meta, _ = _read(Path(path), with_blob=False)
        return meta

    @classmethod
    def load(cls, path: str | Path, *, model: str | None = None) -> tuple[VectorIndex, dict]:
        """Load an index; ``model`` (the embedder signature) must match its builder's."""
        path = Path(path)
        meta, blob = _read(path, with_blob=True)
        if model is not None and meta.get("model") != model:
            raise IndexMismatch(
                f"the index was built with model {meta.get('model')!r}, but the configured "
                f"model is {model!r}; run `prakat index rebuild`"
            )
        if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
            raise IndexCorrupt(f"the index file {path} is damaged; run `prakat index rebuild`")
        try:
            index = faiss.deserialize_index(np.frombuffer(blob, dtype=np.uint8))
        except RuntimeError:
            raise IndexCorrupt(
                f"the index file {path} is damaged; run `prakat index rebuild`"
            ) from None
        self = cls.__new__(cls)
        self.dim = int(meta["dim"])
        self.model = meta["model"]
        self.index = index
        return self, meta


def _read(path: Path, *, with_blob: bool) -> tuple[dict, bytes]:
    if not path.exists():
        raise IndexNotBuilt("there is no index yet; run `prakat index rebuild`")
    try:
        with open(path, "rb") as f:
            if f.read(len(MAGIC)) != MAGIC:
                raise IndexCorrupt(f"{path} is not a prakat index; run `prakat index rebuild`")
            (n,) = struct.unpack("<Q", f.read(8))
            if n > 64 * 1024 * 1024:
                raise IndexCorrupt(f"the index file {path} is damaged; run `prakat index rebuild`")
            meta = json.loads(f.read(n).decode())
            blob = f.read() if with_blob else b""
    except (struct.error, UnicodeDecodeError, json.JSONDecodeError):
        raise IndexCorrupt(
            f"the index file {path} is damaged; run `prakat index rebuild`"
        ) from None
    return meta, blob
