"""Query latency, memory and index size as the index grows (1k to 1M passages).

    python benchmarks/scale.py prepare        # data/bench: 5,000 real releases + the sample
    python benchmarks/scale.py run [--sizes 1000,10000,100000,1000000]

`prepare` adds 5,000 releases from ../shared/data/thaigov (benchmarks/thaigov_sample.py)
and the bundled sample to a corpus in data/bench (about 48k passages; vectors come
from the shared embedding cache data/embeddings.sqlite when present, else they are
embedded). `run` measures each size in a fresh process: the searcher's own call
(`Searcher.search`: query embedding, FAISS, BM25, fusion, answer sentence) and its
parts, p50/p95 over real questions, the process's peak RSS, and the index file size.

Sizes up to the real passage count use real vectors. Larger sizes add synthetic
vectors (each a normalised mix of two real vectors plus noise, so they sit in the
same narrow cone as e5's), whose ids have no rows: FAISS searches all of them, BM25
and the answer sentence work on the real passages. Approximate indexes report
recall@10 against exact search on the same vectors.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
from common import ROOT, write_result

BENCH = ROOT / "data" / "bench"
CACHE = ROOT / "data" / "embeddings.sqlite"


def open_parts():
    from bot.settings import load_settings
    from corpus.store import Store
    from retrieval.embed_cache import EmbeddingCache
    from retrieval.embedder import Embedder
    from retrieval.indexer import Indexer

    settings = load_settings(str(ROOT / "config.yaml"))
    store = Store(BENCH / "corpus.sqlite")
    cache = EmbeddingCache(CACHE)
    embedder = Embedder(settings.embedding)
    indexer = Indexer(store, cache, embedder, BENCH / "index.faiss", settings.chunking)
    return settings, store, cache, embedder, indexer


def prepare() -> None:
    from thaigov_sample import sample

    from corpus.loader import load_releases

    _, store, cache, _, indexer = open_parts()
    folder = sample(5000, ROOT / "data" / "eval" / "thaigov-5000")
    docs, _ = load_releases([folder, ROOT / "corpus" / "sample"])
    started = time.perf_counter()
    indexer.add_documents(docs.values())
    print(f"{store.counts()} in {time.perf_counter() - started:.0f}s")


def questions(store, n: int = 120) -> list[str]:
    """Real questions: the opening words of release titles (Thai and English), plus
    the AMCC questions."""
    rng = np.random.default_rng(1)
    docs = store.list_documents(limit=None)
    picked = [docs[i] for i in rng.choice(len(docs), n, replace=False)]
    out = ["who chaired the 6th AMCC?", "ใครเป็นประธานการประชุม AMCC ครั้งที่ 6"]
    for d in picked:
        words = d.title.split()
        out.append(" ".join(words[:8]) if len(words) > 3 else d.title[:60])
    return out


def synthetic(real: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = real[rng.integers(0, len(real), n)]
    b = real[rng.integers(0, len(real), n)]
    mix = rng.uniform(0.2, 0.8, (n, 1)).astype(np.float32)
    v = mix * a + (1 - mix) * b + rng.normal(0, 0.02, (n, real.shape[1])).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def measure(size: int, kind: str) -> dict:
    from retrieval.search import Searcher
    from retrieval.text import normalise_query
    from retrieval.vector_index import VectorIndex

    settings, store, cache, embedder, _ = open_parts()
    rows = store.all_chunk_keys()
    real = min(size, len(rows))
    ids = np.array([cid for cid, _ in rows[:real]], dtype=np.int64)
    vectors = cache.get([key for _, key in rows[:real]])
    if size > real:
        extra = synthetic(vectors, size - real)
        start = int(ids.max()) + 1
        ids = np.concatenate([ids, np.arange(start, start + len(extra), dtype=np.int64)])
        vectors = np.concatenate([vectors, extra])
    t = time.perf_counter()
    config = replace(settings.index, type=kind)
    index = VectorIndex.build(vectors.shape[1], embedder.signature, ids, vectors, config)
    build_s = time.perf_counter() - t
    path = BENCH / f"scale-{size}-{kind}.faiss"
    index.save(path, {})
    index_bytes = path.stat().st_size
    exact = None
    if kind != "flat":
        exact = VectorIndex.build(vectors.shape[1], embedder.signature, ids, vectors,
                                  replace(config, type="flat"))  # fmt: skip
    del vectors
    index, _ = VectorIndex.load(path, model=embedder.signature, config=config)
    path.unlink()
    embedder.load()
    searcher = Searcher(store, embedder, index, replace(settings.search, min_score=0.0))
    qs = questions(store)
    searcher.search(qs[0])  # warm-up
    total, embed_ms, faiss_ms, recalls = [], [], [], []
    for q in qs:
        query = normalise_query(q)
        t = time.perf_counter()
        qvec = embedder.embed_queries([query])[0]
        embed_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        found = index.search(qvec, settings.search.dense_k)
        faiss_ms.append((time.perf_counter() - t) * 1000)
        if exact is not None:
            truth = {i for i, _ in exact.search(qvec, 10)}
            recalls.append(len(truth & {i for i, _ in found[:10]}) / 10)
        searcher._sentence_cache.clear()  # every question is new: no cached sentences
        t = time.perf_counter()
        searcher.search(q)
        total.append((time.perf_counter() - t) * 1000)
    p = lambda xs, q: round(float(np.percentile(xs, q)), 2)  # noqa: E731
    return {
        "size": size, "kind": kind, "real_vectors": real, "questions": len(qs),
        "build_s": round(build_s, 2), "index_mb": round(index_bytes / 2**20, 1),
        "search_p50_ms": p(total, 50), "search_p95_ms": p(total, 95),
        "embed_p50_ms": p(embed_ms, 50), "faiss_p50_ms": p(faiss_ms, 50),
        "faiss_p95_ms": p(faiss_ms, 95),
        "recall@10_vs_exact": round(float(np.mean(recalls)), 4) if recalls else 1.0,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }  # fmt: skip


def run(sizes: list[int], kinds_at: dict[int, list[str]]) -> None:
    results = []
    for size in sizes:
        for kind in kinds_at.get(size, ["flat"]):
            done = subprocess.run(
                [sys.executable, __file__, "one", str(size), kind], capture_output=True, text=True
            )
            if done.returncode != 0:
                sys.exit(done.stderr[-2000:])
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), flush=True)
    write_result("scale", {"runs": results})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("prepare")
    r = sub.add_parser("run")
    r.add_argument("--sizes", default="1000,10000,100000,1000000")
    one = sub.add_parser("one")
    one.add_argument("size", type=int)
    one.add_argument("kind")
    args = parser.parse_args()
    if args.cmd == "prepare":
        prepare()
    elif args.cmd == "one":
        print(json.dumps(measure(args.size, args.kind)))
    else:
        kinds = {100000: ["flat", "hnsw"], 1000000: ["flat", "hnsw", "ivf"]}
        run([int(s) for s in args.sizes.split(",")], kinds)


if __name__ == "__main__":
    main()
