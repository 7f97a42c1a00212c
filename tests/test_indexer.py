from __future__ import annotations

import shutil

import numpy as np
import pytest

from corpus.loader import iter_release_paths, load_path
from retrieval.errors import IndexCorrupt, IndexMismatch
from retrieval.index.vector_index import VectorIndex
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


def test_a_release_twice_in_one_batch_leaves_one_set_of_vectors(runtime_factory, amcc_dir):
    """A batch's index changes go in together (removals, then one add): a release given
    twice in one call, the same or changed, must leave exactly its last passages."""
    from dataclasses import replace

    rt = runtime_factory()
    docs = load_all(amcc_dir)
    rt.indexer.add_documents(docs)
    first = docs[0]
    changed = replace(first, text=first.text + "\n\nA closing sentence added later.")

    def statuses(results):
        return sorted(r.status for r in results if r.doc_id == first.doc_id)

    def index_matches_rows(text):
        index, meta = rt.load_index()
        stored = rt.store.chunks_of(first.doc_id)
        ids = sorted(c.chunk.chunk_id for d in rt.store.doc_ids() for c in rt.store.chunks_of(d))
        assert sorted(index.ids().tolist()) == ids and meta["fingerprint"] == rt.store.fingerprint()
        assert rt.store.get_document(first.doc_id).text == text
        for c in stored:  # each id holds its own passage's vector
            assert np.allclose(index.vector(c.chunk.chunk_id), rt.cache.get([c.embed_key])[0])

    results = rt.indexer.add_documents([first, changed, changed, *docs[1:]])
    assert statuses(results) == ["replaced", "unchanged", "unchanged"]
    index_matches_rows(changed.text)
    # replaced twice within the batch: the ids added first are dropped again
    rt.indexer.add_documents([first])
    results = rt.indexer.add_documents([replace(first, text=first.text + "\n\nOther."), changed])
    assert statuses(results) == ["replaced", "replaced"]
    index_matches_rows(changed.text)


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


def test_each_passage_keeps_vectors_for_its_sentences_and_its_release_title(
    runtime_factory, amcc_dir
):
    """With each passage's vector the cache keeps one for each sentence it was packed
    from (pooled from the same forward pass: test_model_install.py), by span of the
    embedded text: the spans the answer's candidates have at question time, where
    crfcut cuts the passage alone (nearly all; a candidate whose span was not kept is
    embedded, tests/test_search.py). Each release's title is embedded alone too."""
    from retrieval.text.chunking import passage_offset
    from retrieval.text.sentences import sentence_spans

    rt = runtime_factory(warm=False)
    rt.indexer.add_documents(load_all(amcc_dir))
    asked = kept = 0
    for doc_id in TEST_IDS:
        doc = rt.store.get_document(doc_id)
        title = rt.cache.get([rt.embedder.embed_key(doc.title)])[0]
        np.testing.assert_allclose(title, rt.embedder.embed_passages([doc.title])[0], atol=1e-5)
        shift = passage_offset(doc)
        for stored in rt.store.chunks_of(doc_id):
            spans = rt.cache.sentences([stored.embed_key])[stored.embed_key]
            end = shift + len(stored.chunk.text)
            assert spans and all(shift <= a < b <= end for a, b in spans)
            vectors = np.stack(list(spans.values()))
            assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
            question_time = {(shift + a, shift + b) for a, b in sentence_spans(stored.chunk.text)}
            asked += len(question_time)
            kept += len(question_time & set(spans))
    assert asked > 20 and kept / asked > 0.95


def test_sentence_vectors_are_kept_in_int8_and_come_back_as_unit_vectors():
    from retrieval.index.embed_cache import pack_int8, unpack_int8

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 384)).astype(np.float32)
    vectors[1] *= 0.01  # any scale: each vector has its own
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    blob = pack_int8(vectors)
    assert len(blob) == 50 * (4 + 384)
    back = unpack_int8(blob, 50)
    assert back.dtype == np.float32 and back.shape == (50, 384)
    assert (back * vectors).sum(axis=1).min() >= 0.9998
    assert np.allclose(np.linalg.norm(back, axis=1), 1, atol=1e-6)
    assert pack_int8(np.zeros((0, 384))) == b"" and unpack_int8(b"", 0).shape == (0, 0)


def test_rebuild_embeds_again_what_was_embedded_without_sentence_vectors(runtime_factory, amcc_dir):
    """A passage embedded before sentence vectors were kept (or whose row went) is
    embedded again when its release is next chunked; the others are not."""
    rt = runtime_factory()
    rt.indexer.add_documents(load_all(amcc_dir))
    keys = [c.embed_key for doc_id in TEST_IDS for c in rt.store.chunks_of(doc_id)]
    assert not rt.cache.missing(keys, sentences=True)
    rt.cache.db.execute("DELETE FROM sentences WHERE key = ?", (keys[0],))
    assert rt.cache.missing(keys, sentences=True) == [keys[0]] and not rt.cache.missing(keys)
    rt.store.db.execute("UPDATE documents SET chunk_sig = 'chunked before'")
    report = rt.indexer.rebuild()
    assert report.rechunked == len(TEST_IDS) and report.embedded == 1
    assert not rt.cache.missing(keys, sentences=True)


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

    from retrieval.index.indexer import Indexer
    from retrieval.text.chunking import embed_text

    rt = runtime_factory()
    rt.indexer.add_documents(load_all(amcc_dir))
    before = rt.store.counts()[1]
    small = Indexer(rt.store, rt.cache, rt.embedder, rt.settings.index_path,
                    replace(rt.settings.chunking, max_tokens=64))  # fmt: skip
    cached = {key for doc_id in TEST_IDS for key in
              (c.embed_key for c in rt.store.chunks_of(doc_id))}  # fmt: skip
    report = small.rebuild()
    assert report.rechunked == len(TEST_IDS) and report.embedded > 0
    assert rt.store.counts()[1] > before
    # the report counts the model tokens of what it embedded (counted while chunking)
    embedded = {c.embed_key: embed_text(rt.store.get_document(doc_id), c.chunk.text)
                for doc_id in TEST_IDS for c in rt.store.chunks_of(doc_id)
                if c.embed_key not in cached}  # fmt: skip
    assert report.embedded == len(embedded)
    assert report.embed_tokens == sum(rt.embedder.count_tokens(list(embedded.values())))
    assert len(VectorIndex.load(rt.settings.index_path)[0]) == rt.store.counts()[1]
    shutil.rmtree(tmp_path / "data")


def test_chunking_in_processes_gives_the_rows_a_thread_gives(runtime_factory, amcc_dir,
                                                             tmp_path, monkeypatch):  # fmt: skip
    """Beside a GPU, releases are chunked in worker processes (spawned, each with its own
    copy of the counting tokenizer); the rows must be exactly those of one thread, and
    the workers started for the first batch serve the next ones."""
    from dataclasses import replace

    import retrieval.index.indexer as indexer_module
    from retrieval.index.indexer import Indexer
    from retrieval.index.prepare import prepare_in_worker

    def rows(rt):  # passages, their cache keys and their BM25 words, by release
        out = []
        for doc_id in sorted(rt.store.doc_ids()):
            for c in rt.store.chunks_of(doc_id):
                (words,) = rt.store.db.execute(
                    "SELECT tokens FROM chunks_fts WHERE rowid = ?", (c.chunk.chunk_id,)
                ).fetchone()
                out.append((doc_id, c.chunk.position, c.chunk.text, c.chunk.start,
                            c.embed_key, words))  # fmt: skip
        return out

    threaded = runtime_factory(tmp_path / "threaded")
    threaded.indexer.add_documents(load_all(amcc_dir))

    monkeypatch.setattr(indexer_module, "MIN_DOCS_FOR_PROCESSES", 1)
    rt = runtime_factory(tmp_path / "processes")
    indexer = Indexer(rt.store, rt.cache, rt.embedder, rt.settings.index_path,
                      replace(rt.settings.chunking, workers=2))  # fmt: skip
    assert indexer.chunk_processes() == 2
    pools = []
    start_pool = indexer._process_pool

    def counting_pool(n_docs):
        pool = start_pool(n_docs)
        if pool is not None and pool not in pools:
            pools.append(pool)
        return pool

    monkeypatch.setattr(indexer, "_process_pool", counting_pool)
    results = indexer.add_documents(load_all(amcc_dir), batch=3)  # three batches
    assert [r.status for r in results] == ["added"] * len(TEST_IDS)
    assert len(pools) == 1 and indexer._processes is None  # one pool, stopped at the end
    assert len(rows(rt)) > len(TEST_IDS) and rows(rt) == rows(threaded)
    # the model tokens each worker counts are those of the embedding model's tokenizer
    docs = load_all(amcc_dir)
    in_workers = list(indexer._process_pool(len(docs)).map(prepare_in_worker, docs))
    indexer._stop_processes()
    in_thread = [indexer.prepare(d) for d in docs]
    for p, q in zip(in_workers, in_thread, strict=True):
        assert p.embed_tokens == rt.embedder.count_tokens(p.embed_texts) == q.embed_tokens
        # the same ids and sentence token rows as the thread makes with the model's own
        assert p.sentence_spans == q.sentence_spans
        assert [i.tolist() for i in p.embed_ids] == [i.tolist() for i in q.embed_ids]
        assert [r.tolist() for r in p.embed_rows] == [r.tolist() for r in q.embed_rows]
    index, meta = rt.load_index()
    assert len(index) == rt.store.counts()[1] and meta["fingerprint"] == rt.store.fingerprint()


def test_chunk_processes_hand_the_encoder_token_ids_and_the_vectors_are_the_same(
    runtime_factory, amcc_dir, warm_cache, monkeypatch
):
    """Beside a GPU the main process only pads ids the chunk processes made: the cached
    vectors are those the texts give (the warm cache was embedded from texts, in other
    batches, whose padding moves int8 vectors a little: the exact check with the same
    batches is in test_model_install.py)."""
    from dataclasses import replace

    from retrieval.index import indexer as indexer_module
    from retrieval.index.embed_cache import EmbeddingCache
    from retrieval.index.indexer import Indexer

    monkeypatch.setattr(indexer_module, "MIN_DOCS_FOR_PROCESSES", 1)
    rt = runtime_factory(warm=False)
    indexer = Indexer(rt.store, rt.cache, rt.embedder, rt.settings.index_path,
                      replace(rt.settings.chunking, workers=2))  # fmt: skip
    calls = {"texts": 0, "ids": 0}
    for name, kind in (("embed_passages", "texts"), ("embed_passage_inputs", "ids")):
        real = getattr(rt.embedder, name)

        def counted(*args, _real=real, _kind=kind, **kwargs):
            calls[_kind] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(rt.embedder, name, counted)
    docs = [d for d in load_all(amcc_dir) if d.doc_id in ("46681", "47004")]
    results = indexer.add_documents(docs)
    assert [r.status for r in results] == ["added", "added"]
    assert calls == {"texts": 0, "ids": 1}
    keys = [c.embed_key for d in docs for c in rt.store.chunks_of(d.doc_id)]
    from_texts = EmbeddingCache(warm_cache)
    try:
        cosines = (rt.cache.get(keys) * from_texts.get(keys)).sum(axis=1)
    finally:
        from_texts.close()
    assert len(keys) > 5 and cosines.min() > 0.999
    index, meta = rt.load_index()
    assert len(index) == len(keys) and meta["fingerprint"] == rt.store.fingerprint()


def test_auto_chunks_in_a_thread_beside_a_cpu_encoder(runtime_factory):
    rt = runtime_factory()
    assert rt.embedder.device == "cpu" and rt.settings.chunking.workers == 0
    assert rt.indexer.chunk_processes() == 0
    assert rt.indexer._process_pool(10_000) is None


def test_batches_grow_once_committing_costs_more_than_its_share():
    from retrieval.index.indexer import COMMIT_SHARE, next_batch_size

    assert next_batch_size(0, 0.0, 0.0, 500) == 500  # nothing measured yet
    assert next_batch_size(500, 100.0, 0.0, 500) == 500  # nothing was committed
    assert next_batch_size(500, 100.0, 1.0, 500) == 500  # commit 1% of the work: keep
    # commit 10 s after 100 s of work for 500 documents: 0.2 s a document, so the
    # commit is 5% of 1,000 documents' work
    assert next_batch_size(500, 100.0, 10.0, 500) == round(10.0 / COMMIT_SHARE / 0.2) == 1000
    assert next_batch_size(1000, 100.0, 10.0, 500) == 2000
    assert next_batch_size(500, 10.0, 100.0, 500) == 1000  # one slow commit: at most double


def test_an_index_grown_past_the_threshold_by_adding_becomes_hnsw(runtime_factory, amcc_dir):
    from dataclasses import replace

    from retrieval.index.indexer import Indexer

    rt = runtime_factory()
    docs = load_all(amcc_dir)
    small_threshold = replace(rt.settings.index, auto_threshold=25)
    indexer = Indexer(rt.store, rt.cache, rt.embedder, rt.settings.index_path,
                      rt.settings.chunking, small_threshold)  # fmt: skip
    indexer.add_documents(docs[:2])
    small, meta = rt.load_index()
    assert len(small) < 25 and meta["kind"] == "flat"
    indexer.add_documents(docs[2:])
    grown, meta = rt.load_index()
    assert len(grown) >= 25 and meta["kind"] == "hnsw"
    assert len(grown) == rt.store.counts()[1] and meta["fingerprint"] == rt.store.fingerprint()
    for doc_id in ("46681", "60666"):  # the vectors carried over are the cached ones
        for c in rt.store.chunks_of(doc_id):
            assert np.allclose(grown.vector(c.chunk.chunk_id), rt.cache.get([c.embed_key])[0])
    indexer.remove_document("46681")  # and shrunk below it, flat again
    while len(rt.load_index()[0]) >= 25:
        indexer.remove_document(rt.store.doc_ids()[0])
    assert rt.load_index()[1]["kind"] == "flat"


def test_batch_size_auto_is_16_on_a_cpu_and_a_set_size_is_kept(embedder, tmp_path):
    from dataclasses import replace

    from bot.settings import SettingsError, load_settings
    from retrieval.encoder.embedder import Embedder

    assert embedder.config.batch_size == 0 and embedder.device == "cpu"
    assert embedder.batch_size == 16
    fixed = Embedder(replace(embedder.config, batch_size=4))
    assert fixed.batch_size == 4 and fixed._model is None  # no model load to know it
    bad = tmp_path / "config.yaml"
    bad.write_text("embedding:\n  batch_size: -1\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="batch_size must be 0"):
        load_settings(bad, env={})


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_stored_vectors_come_back_by_id_and_unknown_ids_are_left_out(kind):
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((20, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(8, "m", kind)
    index.add(np.arange(20) * 10, vectors)
    ids, got = index.vectors([30, 0, 190])
    assert ids == [30, 0, 190]
    np.testing.assert_allclose(got, vectors[[3, 0, 19]], atol=1e-6)
    ids, got = index.vectors([30, 31, 0])  # 31 is not held (a row newer than the index)
    assert ids == [30, 0] and got.shape == (2, 8)
    assert index.vectors([])[0] == []
