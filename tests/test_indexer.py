from __future__ import annotations

import shutil

import numpy as np
import pytest

from corpus.loader import iter_release_paths, load_path
from retrieval.errors import IndexCorrupt, IndexMismatch
from retrieval.vector_index import VectorIndex
from tests.conftest import TEST_IDS


def load_all(folder):
    return [load_path(p) for p in iter_release_paths([folder])]


def test_add_then_nothing_to_redo(runtime_factory, amcc_dir):
    rt = runtime_factory()
    results = rt.indexer.add_documents(load_all(amcc_dir))
    assert {r.status for r in results} == {"added"}
    docs, chunks = rt.store.counts()
    index, meta = rt.load_index()
    assert docs == len(TEST_IDS) and len(index) == chunks == meta["chunks"]
    assert meta["fingerprint"] == rt.store.fingerprint()
    cached = rt.cache.count()

    again = rt.indexer.add_documents(load_all(amcc_dir))
    assert {r.status for r in again} == {"unchanged"}
    report = rt.indexer.rebuild()
    assert report.embedded == 0 and report.rechunked == 0 and report.chunks == chunks
    assert rt.cache.count() == cached


def test_changed_release_replaces_its_vectors(runtime_factory, amcc_dir):
    rt = runtime_factory()
    rt.indexer.add_documents(load_all(amcc_dir))
    old_ids = {c.chunk.chunk_id for c in rt.store.chunks_of("46681")}
    path = next(amcc_dir.glob("*_46681.txt"))
    path.write_text(
        path.read_text(encoding="utf-8").replace("Josephine Teo", "Jane Doe"), encoding="utf-8"
    )
    (result,) = rt.indexer.add_documents([load_path(path)])
    assert result.status == "replaced"
    new_ids = {c.chunk.chunk_id for c in rt.store.chunks_of("46681")}
    index, _ = rt.load_index()
    ids = set(index.ids().tolist())
    assert not (old_ids & ids) and new_ids <= ids
    assert len(ids) == rt.store.counts()[1]


def test_remove_takes_vectors_away(runtime_factory, amcc_dir):
    rt = runtime_factory()
    rt.indexer.add_documents(load_all(amcc_dir))
    gone = {c.chunk.chunk_id for c in rt.store.chunks_of("35821")}
    assert rt.indexer.remove_document("35821") == len(gone)
    index, meta = rt.load_index()
    assert not gone & set(index.ids().tolist())
    assert meta["fingerprint"] == rt.store.fingerprint()


def test_rebuild_after_losing_the_index_reuses_the_cache(runtime_factory, amcc_dir):
    rt = runtime_factory()
    rt.indexer.add_documents(load_all(amcc_dir))
    rt.settings.index_path.unlink()
    report = rt.indexer.rebuild()
    assert report.embedded == 0
    assert len(rt.load_index()[0]) == rt.store.counts()[1]


def test_index_of_another_model_or_damaged_is_refused(tmp_path):
    index = VectorIndex(4, "model-a")
    index.add(np.array([1, 2]), np.eye(4, dtype=np.float32)[:2])
    path = tmp_path / "index.faiss"
    index.save(path, {"fingerprint": "x"})
    loaded, meta = VectorIndex.load(path, model="model-a")
    assert len(loaded) == 2 and meta["vectors"] == 2
    assert loaded.search(np.eye(4, dtype=np.float32)[1], 1)[0][0] == 2
    with pytest.raises(IndexMismatch, match="built with model 'model-a'"):
        VectorIndex.load(path, model="model-b")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 10])
    with pytest.raises(IndexCorrupt, match="damaged"):
        VectorIndex.load(path, model="model-a")
    path.write_bytes(b"garbage")
    with pytest.raises(IndexCorrupt):
        VectorIndex.load(path)


def test_chunking_change_rechunks_on_rebuild(runtime_factory, amcc_dir, tmp_path):
    from dataclasses import replace

    from retrieval.indexer import Indexer

    rt = runtime_factory()
    rt.indexer.add_documents(load_all(amcc_dir))
    before = rt.store.counts()[1]
    small = Indexer(rt.store, rt.cache, rt.embedder, rt.settings.index_path,
                    replace(rt.settings.chunking, max_tokens=64))  # fmt: skip
    report = small.rebuild()
    assert report.rechunked == len(TEST_IDS) and report.embedded > 0
    assert rt.store.counts()[1] > before
    assert len(VectorIndex.load(rt.settings.index_path)[0]) == rt.store.counts()[1]
    shutil.rmtree(tmp_path / "data")
