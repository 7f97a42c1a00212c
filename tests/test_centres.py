from __future__ import annotations

import json

import numpy as np
import pytest

from retrieval.index.embed_cache import EmbeddingCache
from retrieval.ranking.centres import CENTRES_FILE, PARTS, language_centres
from retrieval.text.normalise import mostly_thai, normalise_query

QUERIES = ["Who chaired the ASEAN cybersecurity meeting?", "PM chairs alms-giving ceremony"]
THAI = ["ประชุมรัฐมนตรีอาเซียนด้านไซเบอร์ (2021-10-07)\nผู้ช่วยรัฐมนตรีร่วมพิธีเปิดการประชุม",
        "นายกรัฐมนตรีเป็นประธานพิธี (2021-10-13)\nทำบุญตักบาตรถวายพระราชกุศล"]  # fmt: skip
ENGLISH = [
    "ASEAN ministers meet (2021-10-07)\nThe sixth conference on cybersecurity opened.",
    "PM chairs ceremony (2021-10-13)\nThe Prime Minister presided over alms-giving.",
]


def write(path, queries=QUERIES, thai=THAI, english=ENGLISH):
    rows = [{"kind": "query", "lang": "en", "text": t} for t in queries]
    rows += [{"kind": "passage", "lang": "th", "text": t} for t in thai]
    rows += [{"kind": "passage", "lang": "en", "text": t} for t in english]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def test_centres_are_the_means_of_their_texts_and_kept_in_the_cache(
    embedder, tmp_path, monkeypatch
):
    path = write(tmp_path / "centres.jsonl")
    cache = EmbeddingCache(tmp_path / "embeddings.sqlite")
    try:
        centres = language_centres(embedder, cache, path)
        queries = embedder.embed_queries([normalise_query(t) for t in QUERIES]).mean(axis=0)
        np.testing.assert_allclose(centres.question, queries, atol=1e-5)
        np.testing.assert_allclose(centres.passage(True), embedder.embed_passages(THAI).mean(0),
                                   atol=1e-5)  # fmt: skip
        np.testing.assert_allclose(centres.passage(False),
                                   embedder.embed_passages(ENGLISH).mean(0), atol=1e-5)  # fmt: skip
        assert cache.count() == 3  # the three means, not the texts

        def no_model(*args, **kwargs):
            raise AssertionError("the model was called")

        monkeypatch.setattr(embedder, "embed_queries", no_model)
        monkeypatch.setattr(embedder, "embed_passages", no_model)
        again = language_centres(embedder, cache, path)
        np.testing.assert_array_equal(again.question, centres.question)
        np.testing.assert_array_equal(again.passage(False), centres.passage(False))
        # other texts are other centres: they are embedded, not read from the cache
        with pytest.raises(AssertionError, match="the model was called"):
            language_centres(embedder, cache, write(tmp_path / "other.jsonl", queries=["Why?"]))
    finally:
        cache.close()


def test_a_centres_file_lacking_a_language_is_refused(embedder, tmp_path):
    with pytest.raises(ValueError, match="lacks texts for passage/en"):
        language_centres(embedder, None, write(tmp_path / "c.jsonl", english=[]))


def test_the_bundled_centres_file_holds_each_part_in_its_script():
    rows = [json.loads(line) for line in CENTRES_FILE.read_text("utf-8").splitlines()]
    parts = {
        part: [r["text"] for r in rows if f"{r['kind']}/{r['lang']}" == part] for part in PARTS
    }
    assert len(parts["query/en"]) >= 100 and len(parts["passage/th"]) >= 60
    assert len(parts["passage/en"]) >= 60
    assert not any(mostly_thai(t) for t in parts["query/en"] + parts["passage/en"])
    assert all(mostly_thai(t) for t in parts["passage/th"])
