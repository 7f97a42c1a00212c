"""The one place that touches FAISS: an inner-product index keyed by chunk id, saved
atomically.

Three kinds (config `index.type`): ``flat`` (exact), ``hnsw`` (a graph; approximate,
fast at any size) and ``ivf`` (inverted lists; approximate, small memory overhead).
``auto`` picks flat below ``auto_threshold`` vectors and hnsw above
(benchmarks/query_latency.py).

The index and its manifest live in one file, so replacing it is one rename:
``PRKIDX1\\n`` + 8-byte manifest length + manifest JSON + serialised FAISS index.
The manifest carries a SHA-256 of the FAISS bytes, so damage is detected on load.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from corpus.failpoints import failpoint
from retrieval.errors import IndexCorrupt, IndexMismatch, IndexNotBuilt

MAGIC = b"PRKIDX1\n"
INDEX_TYPES = ("auto", "flat", "hnsw", "ivf")


@dataclass(frozen=True)
class IndexConfig:
    type: str = "auto"  # auto, flat, hnsw, ivf
    auto_threshold: int = 50_000  # auto: flat below this many vectors, hnsw from here
    hnsw_m: int = 32  # graph neighbours per node
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 256  # candidates per query: recall@10 0.985 at 1M (docs/performance.md)
    ivf_nprobe: int = 64  # lists visited (of 4 * sqrt(vectors)): recall@10 0.984 at 1M

    def kind_for(self, n_vectors: int) -> str:
        if self.type == "auto":
            return "hnsw" if n_vectors >= self.auto_threshold else "flat"
        return self.type


def _ids_of_ivf(index) -> np.ndarray:
    invlists = index.invlists
    parts = [
        faiss.rev_swig_ptr(invlists.get_ids(lst), invlists.list_size(lst)).copy()
        for lst in range(index.nlist)
        if invlists.list_size(lst)
    ]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


class VectorIndex:
    """Normalised vectors keyed by chunk id; search by inner product (= cosine)."""

    def __init__(
        self, dim: int, model: str, kind: str = "flat", config: IndexConfig | None = None
    ) -> None:
        self.dim = dim
        self.model = model
        self.kind = kind
        self.config = config or IndexConfig()
        if kind == "flat":
            self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        elif kind == "hnsw":
            self.index = faiss.IndexIDMap2(self._new_hnsw())
        elif kind == "ivf":
            self.index = None  # made on the first add, which trains it (see _train_ivf)
        else:
            raise ValueError(f"index.type must be one of {', '.join(INDEX_TYPES)}")

    @classmethod
    def build(
        cls, dim: int, model: str, ids: np.ndarray, vectors: np.ndarray,
        config: IndexConfig | None = None,
    ) -> VectorIndex:  # fmt: skip
        """An index of the kind ``config`` gives for this many vectors, holding them."""
        config = config or IndexConfig()
        self = cls(dim, model, config.kind_for(len(ids)), config)
        self.add(ids, vectors)
        return self

    def _new_hnsw(self):
        hnsw = faiss.IndexHNSWFlat(self.dim, self.config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = self.config.hnsw_ef_construction
        hnsw.hnsw.efSearch = self.config.hnsw_ef_search
        return hnsw

    def _train_ivf(self, vectors: np.ndarray) -> None:
        n = len(vectors)
        nlist = max(1, min(int(4 * math.sqrt(n)), n // 39 or 1))
        quantizer = faiss.IndexFlatIP(self.dim)
        ivf = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = vectors
        if n > 64 * nlist:  # k-means on a sample (faiss wants >= 39 per list): much faster
            pick = np.random.default_rng(0).choice(n, 64 * nlist, replace=False)
            sample = vectors[np.sort(pick)]
        ivf.train(sample)
        ivf.own_fields = True
        quantizer.this.disown()
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct and remove by id
        ivf.nprobe = self.config.ivf_nprobe
        self.index = ivf

    def __len__(self) -> int:
        return int(self.index.ntotal) if self.index is not None else 0

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape[1] != self.dim:
            raise IndexMismatch(f"vectors have dimension {vectors.shape[1]}, index has {self.dim}")
        if self.index is None:
            self._train_ivf(vectors)
        self.index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: list[int] | np.ndarray) -> int:
        if len(ids) == 0 or len(self) == 0:
            return 0
        ids = np.asarray(ids, dtype=np.int64)
        if self.kind != "hnsw":
            return int(self.index.remove_ids(ids))
        # An HNSW graph cannot drop nodes: rebuild it from the vectors it keeps.
        have = self.ids()
        keep = ~np.isin(have, ids)
        if keep.all():
            return 0
        vectors = self._vectors(len(have))[keep]
        self.index = faiss.IndexIDMap2(self._new_hnsw())
        self.index.add_with_ids(vectors, have[keep])
        return int((~keep).sum())

    def retyped(self) -> VectorIndex:
        """This index, or the same vectors in the kind its config gives for their number
        (an index grown past ``auto_threshold`` by adding becomes hnsw)."""
        kind = self.config.kind_for(len(self))
        if kind == self.kind or self.kind == "ivf" or len(self) == 0:
            return self
        ids = self.ids()
        vectors = self._vectors(len(ids))
        fresh = VectorIndex(self.dim, self.model, kind, self.config)
        fresh.add(ids, vectors)
        return fresh

    def _vectors(self, n: int) -> np.ndarray:
        """The first ``n`` stored vectors, in the order of ``ids()`` (flat and hnsw)."""
        return self.index.index.reconstruct_n(0, n)

    def ids(self) -> np.ndarray:
        if self.index is None:
            return np.zeros(0, np.int64)
        if self.kind == "ivf":
            return _ids_of_ivf(self.index)
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def vector(self, chunk_id: int) -> np.ndarray | None:
        """The stored vector of ``chunk_id``, or None if the index does not hold it."""
        try:
            return self.index.reconstruct(int(chunk_id))
        except RuntimeError:  # faiss: "key ... not found"
            return None

    def vectors(self, chunk_ids: list[int]) -> tuple[list[int], np.ndarray]:
        """(the ids the index holds, their stored vectors), in one FAISS call where all
        are held."""
        if not chunk_ids or len(self) == 0:
            return [], np.zeros((0, self.dim), np.float32)
        try:
            return list(chunk_ids), self.index.reconstruct_batch(np.asarray(chunk_ids, np.int64))
        except RuntimeError:  # one of them is newer than this index: one by one
            held = [(c, v) for c in chunk_ids if (v := self.vector(c)) is not None]
            if not held:
                return [], np.zeros((0, self.dim), np.float32)
            return [c for c, _ in held], np.stack([v for _, v in held])

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top ``k`` ``(chunk_id, cosine)`` for one normalised query vector."""
        return self.search_each(query.reshape(1, -1), k)[0]

    def search_each(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """``search`` for each row of ``queries`` [n, dim], in one FAISS call: an exact
        (flat) index reads its vectors once for all of them, so two queries cost about
        what one does (7 ms at 48,880 passages)."""
        if len(self) == 0 or k <= 0:
            return [[] for _ in queries]
        q = np.ascontiguousarray(queries, dtype=np.float32)
        scores, ids = self.index.search(q, min(k, len(self)))
        return [[(int(i), float(s)) for i, s in zip(row_ids, row, strict=True) if i >= 0]
                for row_ids, row in zip(ids, scores, strict=True)]  # fmt: skip

    def save(self, path: str | Path, manifest: dict[str, Any]) -> None:
        """Write index + manifest aside, fsync, then rename over ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.index is None:  # an empty ivf index: nothing to train on yet, store it flat
            self.kind, self.index = "flat", faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        blob = faiss.serialize_index(self.index).tobytes()
        meta = dict(manifest, model=self.model, dim=self.dim, vectors=len(self), kind=self.kind,
                    sha256=hashlib.sha256(blob).hexdigest())  # fmt: skip
        head = json.dumps(meta, ensure_ascii=False).encode()
        fd, tmp = tempfile.mkstemp(prefix=".index.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + struct.pack("<Q", len(head)) + head)
                f.write(blob[: len(blob) // 2])
                f.flush()
                failpoint("index-write")
                f.write(blob[len(blob) // 2 :])
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            fsync_dir(path.parent)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @staticmethod
    def read_manifest(path: str | Path) -> dict[str, Any]:
        meta, _ = _read(Path(path))
        return meta

    @classmethod
    def load(
        cls, path: str | Path, *, model: str | None = None, config: IndexConfig | None = None
    ) -> tuple[VectorIndex, dict]:
        """Load an index; ``model`` (the embedder signature) must match its builder's.
        Search-time settings (ef_search, nprobe) come from ``config``."""
        path = Path(path)
        meta, offset = _read(path)
        if model is not None and meta.get("model") != model:
            raise IndexMismatch(
                f"the index was built with model {meta.get('model')!r}, but the configured "
                f"model is {model!r}; run `prakat index rebuild`"
            )
        # Check the whole file first (FAISS trusts sizes it reads), then stream it into
        # FAISS: no second copy of a large index in memory, even for a moment.
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            f.seek(offset)
            for block in iter(lambda: f.read(1 << 24), b""):
                digest.update(block)
        if digest.hexdigest() != meta.get("sha256"):
            raise _damaged(path)
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                index = faiss.read_index(faiss.PyCallbackIOReader(f.read, 1 << 24))
        except RuntimeError:
            raise _damaged(path) from None
        self = cls.__new__(cls)
        self.dim = int(meta["dim"])
        self.model = meta["model"]
        self.kind = meta.get("kind", "flat")
        self.config = config or IndexConfig()
        self.index = index
        if self.kind == "hnsw":
            faiss.downcast_index(index.index).hnsw.efSearch = self.config.hnsw_ef_search
        elif self.kind == "ivf":
            index.nprobe = self.config.ivf_nprobe
        return self, meta


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _damaged(path: Path) -> IndexCorrupt:
    return IndexCorrupt(f"the index file {path} is damaged; run `prakat index rebuild`")


def _read(path: Path) -> tuple[dict, int]:
    """The manifest, and the offset where the FAISS bytes start."""
    if not path.exists():
        raise IndexNotBuilt("there is no index yet; run `prakat index rebuild`")
    try:
        with open(path, "rb") as f:
            if f.read(len(MAGIC)) != MAGIC:
                raise IndexCorrupt(f"{path} is not a prakat index; run `prakat index rebuild`")
            (n,) = struct.unpack("<Q", f.read(8))
            if n > 64 * 1024 * 1024:
                raise _damaged(path)
            meta = json.loads(f.read(n).decode())
            offset = f.tell()
    except (struct.error, UnicodeDecodeError, json.JSONDecodeError):
        raise _damaged(path) from None
    return meta, offset
