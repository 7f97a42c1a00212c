from __future__ import annotations

import sqlite3

import pytest

from corpus.fulltext import fts_tokens
from corpus.models import Chunk, Document, DocumentNotFound, StoreLocked
from corpus.schema import CORPUS_MIGRATIONS
from corpus.store import Store


def doc(text="ข้อความ หนึ่ง", doc_id="1") -> Document:
    return Document(doc_id, "หัวข้อ", "2021-10-07", f"https://x/{doc_id}", "th", text)


def put(store: Store, d: Document, texts: list[str], sig="s1"):
    chunks = [Chunk(None, d.doc_id, i, t, 0, len(t)) for i, t in enumerate(texts)]
    return store.put_document(
        d, chunks, texts, [f"k{d.doc_id}{i}{t}" for i, t in enumerate(texts)], sig
    )


def test_schema_is_migrated_once(tmp_path):
    store = Store(tmp_path / "c.sqlite")
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(CORPUS_MIGRATIONS)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    Store(tmp_path / "c.sqlite").close()  # reopening applies nothing twice


def test_an_embedding_cache_of_the_first_layout_is_upgraded_with_its_vectors(tmp_path, caplog):
    """A cache made before the sentence vectors (schema 1: vectors in a WITHOUT ROWID
    table, 4.5 KB each on disk) opens migrated: the same vectors in a rowid table, the
    sentence table beside them, the file compacted, and a one-line note that it ran."""
    import numpy as np

    from corpus.schema import CACHE_MIGRATIONS, M001_CACHE
    from retrieval.index.embed_cache import EmbeddingCache

    path = tmp_path / "embeddings.sqlite"
    old = sqlite3.connect(path)
    old.executescript(M001_CACHE + "PRAGMA user_version = 1;")
    vectors = np.random.default_rng(0).normal(size=(300, 384)).astype("<f4")
    old.executemany("INSERT INTO embeddings VALUES (?, ?, ?)",
                    [(f"k{i}", 384, v.tobytes()) for i, v in enumerate(vectors)])  # fmt: skip
    old.commit()
    old.close()
    before = path.stat().st_size
    cache = EmbeddingCache(path)
    try:
        assert cache.db.execute("PRAGMA user_version").fetchone()[0] == len(CACHE_MIGRATIONS)
        sql = cache.db.execute("SELECT sql FROM sqlite_master WHERE name = 'embeddings'")
        assert "WITHOUT ROWID" not in sql.fetchone()[0]
        np.testing.assert_array_equal(cache.get([f"k{i}" for i in range(300)]), vectors)
        assert cache.missing(["k0"], sentences=True) == ["k0"] and not cache.missing(["k0"])
    finally:
        cache.close()
    assert path.stat().st_size < before * 0.6
    assert "upgrading a database to schema version" in caplog.text
    caplog.clear()
    EmbeddingCache(path).close()  # nothing left to do
    assert not caplog.text


def test_add_unchanged_replace_remove(tmp_path):
    store = Store(tmp_path / "c.sqlite")
    first = put(store, doc(), ["amcc ครั้ง ที่ 6", "josephine teo"])
    assert first.status == "added" and len(first.chunks) == 2
    assert put(store, doc(), ["amcc ครั้ง ที่ 6", "josephine teo"]).status == "unchanged"
    assert store.counts() == (1, 2)

    changed = put(store, doc("ข้อความ ใหม่"), ["ใหม่"])
    assert changed.status == "replaced"
    assert sorted(changed.removed_chunk_ids) == sorted(c.chunk.chunk_id for c in first.chunks)
    assert store.counts() == (1, 1)
    assert store.lexical_search(["teo"], 10) == []  # old FTS rows are gone
    assert [cid for cid, _ in store.lexical_search(["ใหม่"], 10)] == [
        changed.chunks[0].chunk.chunk_id
    ]

    removed = store.remove_document("1")
    assert removed == [changed.chunks[0].chunk.chunk_id]
    assert store.counts() == (0, 0)
    with pytest.raises(DocumentNotFound, match="no document with id '1'"):
        store.remove_document("1")


def test_lexical_search_ranks_and_counts_terms(tmp_path):
    store = Store(tmp_path / "c.sqlite")
    put(store, doc(doc_id="a"), ["amcc ครั้ง ที่ 6 ประธาน", "อื่น"])
    put(store, doc(doc_id="b"), ["amcc ครั้ง ที่ 5"])
    hits = store.lexical_search(["amcc", "6", "ประธาน"], 10)
    top_chunk = store.get_chunks([hits[0][0]])[hits[0][0]][0]
    assert top_chunk.doc_id == "a" and top_chunk.position == 0
    assert store.term_document_counts(["amcc", "6", "missing"]) == {"amcc": 2, "6": 1, "missing": 0}


def test_bm25_added_in_python_equals_fts5s_own(tmp_path):
    """Scoring some terms by FTS5 and adding the others with add_bm25 gives the scores
    FTS5 gives for all of them at once (its tokenizer, IDF, lengths, repeated terms)."""
    import random

    rng = random.Random(0)
    words = ["amcc", "ครั้ง", "ที่", "6", "ประธาน", "การ", "ประชุม", "ไซเบอร์", "มท.1", "AMCC", "ÀB"]
    store = Store(tmp_path / "c.sqlite")
    for d in range(30):
        texts = [" ".join(rng.choices(words, k=rng.randint(3, 40))) for _ in range(3)]
        put(store, doc(doc_id=str(d)), texts)
    rows, tokens = store.fts_totals()
    all_tokens = [t for (text,) in store.db.execute("SELECT tokens FROM chunks_fts") for t in
                  fts_tokens(text)]  # fmt: skip
    assert (rows, tokens) == (90, len(all_tokens))
    assert fts_tokens("มท.1 AMCC-6 ÀB") == ["มท", "1", "amcc", "6", "Àb"]  # ASCII folded only
    terms = ["ไซเบอร์", "ประธาน", "การ", "6", "การ", "amcc", "Àb"]  # "การ" twice counts twice
    counts = store.term_document_counts(terms)
    assert all(counts[t] for t in terms)  # each in the vocabulary, "Àb" as stored
    rare, rest = ["ไซเบอร์", "ประธาน"], ["การ", "6", "การ", "amcc", "Àb"]
    pool = store.lexical_search(rare, 100)
    completed = store.add_bm25(pool, rest, counts)
    exact = dict(store.lexical_search(terms, 1000))
    assert len(completed) == len(pool) > 10
    assert [s for _, s in completed] == sorted((s for _, s in completed), reverse=True)
    for cid, score in completed:
        assert score == pytest.approx(exact[cid], rel=1e-12)
    assert store.add_bm25(pool, [], counts) == pool


def test_fingerprint_tracks_chunk_set(tmp_path):
    store = Store(tmp_path / "c.sqlite")
    empty = store.fingerprint()
    put(store, doc(), ["x"])
    after = store.fingerprint()
    assert after != empty
    put(store, doc(), ["x"])
    assert store.fingerprint() == after


def test_second_writer_gets_store_locked(tmp_path):
    store = Store(tmp_path / "c.sqlite", timeout=0.2)
    other = sqlite3.connect(tmp_path / "c.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreLocked, match="another prakat process"):
            put(store, doc(), ["x"])
    finally:
        other.execute("ROLLBACK")
    assert put(store, doc(), ["x"]).status == "added"
