"""Indexing throughput and incremental costs.

    python benchmarks/indexing.py

1. A full build of the bundled sample (248 releases) with an empty embedding cache,
   as `prakat corpus add corpus/sample` does it: tokens/s of the whole pipeline
   (chunking, embedding, SQLite, FAISS) against the raw encoder's tokens/s on the
   same passages in the same process; their ratio is the pipeline's overhead. The
   raw encoder is `Embedder.embed_passages` (sentence-transformers' `encode`,
   tokenising included), and also the model alone given the ids (every 4th release's
   passages), since the pipeline tokenises in its chunking thread.
2. A rebuild with nothing changed, as a share of the full build.
3. Adding one release to an index of about 10,000 passages (real releases from
   ../shared/data/thaigov): its embedding time, and everything else.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import ROOT, SHARED, write_result


def open_indexer(data: Path, settings):
    from corpus.store import Store
    from retrieval.encoder.embedder import Embedder
    from retrieval.index.embed_cache import EmbeddingCache
    from retrieval.index.indexer import Indexer

    embedder = Embedder(settings.embedding).load()
    return Indexer(Store(data / "corpus.sqlite"), EmbeddingCache(data / "embeddings.sqlite"),
                   embedder, data / "index.faiss", settings.chunking, settings.index)  # fmt: skip


def main() -> None:
    from bot.settings import load_settings
    from corpus.loader import load_releases

    settings = load_settings(str(ROOT / "config.yaml"))
    result: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        indexer = open_indexer(Path(tmp), settings)
        docs, _ = load_releases([ROOT / "corpus" / "sample"])
        prepared = [indexer.prepare(d) for d in docs.values()]  # for the token count only
        texts = [t for p in prepared for t in p.embed_texts]
        # every text the pipeline embeds: the passages, and the titles embedded alone
        counts = [n for p in prepared for n in p.embed_inputs()[2]]
        tokens = sum(counts) + 4 * len(counts)
        started = time.perf_counter()
        indexer.add_documents(docs.values())
        full = time.perf_counter() - started
        sample = texts[::4]
        sample_tokens = sum(indexer.embedder.count_tokens(sample)) + 4 * len(sample)
        started = time.perf_counter()
        indexer.embedder.embed_passages(sample)
        raw = sample_tokens / (time.perf_counter() - started)
        # the model alone, given the ids (the pipeline tokenises in its chunking thread)
        ids = [i for p in prepared[::4] for i in (p.embed_ids or [])]
        raw_ids = None
        if ids:
            started = time.perf_counter()
            indexer.embedder.embed_passage_ids(ids)
            raw_ids = sum(len(i) for i in ids) / (time.perf_counter() - started)
        started = time.perf_counter()
        report = indexer.rebuild()
        nochange = time.perf_counter() - started
        assert report.embedded == 0
        result["sample_full_build"] = {
            "documents": len(docs), "passages": len(texts), "texts": len(counts),
            "tokens": tokens,
            "seconds": round(full, 1), "pipeline_tokens_per_s": round(tokens / full),
            "raw_encoder_tokens_per_s": round(raw),
            "pipeline_to_raw": round(tokens / full / raw, 3),
            "raw_model_on_ids_tokens_per_s": round(raw_ids) if raw_ids else None,
            "pipeline_to_raw_model_on_ids": round(tokens / full / raw_ids, 3) if raw_ids else None,
            "precision": indexer.embedder.precision, "backend": indexer.embedder.backend,
        }  # fmt: skip
        result["no_change_rebuild"] = {
            "seconds": round(nochange, 2),
            "share_of_full_build": round(nochange / full, 4),
        }

    haystack = ROOT / "data" / "eval" / "thaigov-5000"
    cache = ROOT / "data" / "embeddings.sqlite"
    if haystack.exists() and cache.exists():
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp)
            (data / "embeddings.sqlite").symlink_to(cache)  # vectors of the haystack
            indexer = open_indexer(data, settings)
            files = sorted(haystack.glob("*.txt"))
            docs, _ = load_releases(files[:1100])
            indexer.add_documents(docs.values())
            n_passages = indexer.store.counts()[1]
            new, _ = load_releases([ROOT / "corpus" / "sample" / "2021-10-05_46581.txt"])
            (doc,) = new.values()
            p = indexer.prepare(doc)
            keys, texts, counts, spans, ids, rows = p.embed_inputs()
            missing = indexer.cache.missing(keys, sentences=True)
            # what the add below would embed, as it embeds it (the passages with their
            # sentence vectors, and the title), cached so that the add measures the rest
            _, _, embed_s = indexer._embed_missing(keys, texts, lambda *_: None, None,
                                                   counts, ids, rows, spans)  # fmt: skip
            if not embed_s:  # cached from an earlier run: time the same work anyway
                started = time.perf_counter()
                indexer.embedder.embed_passage_inputs(ids, rows)
                embed_s = time.perf_counter() - started
            started = time.perf_counter()
            indexer.add_documents([doc])
            rest_s = time.perf_counter() - started
            result["add_one_release"] = {
                "index_passages": n_passages, "release_passages": len(p.chunks),
                "was_cached": not missing, "embed_seconds": round(embed_s, 2),
                "other_seconds": round(rest_s, 2),
                "index_kind": settings.index.kind_for(n_passages),
            }  # fmt: skip
    else:
        print(f"skipped the 10k-passage part: run benchmarks/thaigov_sample.py ({SHARED})")
    write_result("indexing", result)


if __name__ == "__main__":
    main()
