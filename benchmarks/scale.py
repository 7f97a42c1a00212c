"""Query latency, memory and index size as the index grows (1k to 1M passages).

    python benchmarks/scale.py prepare        # data/bench: 5,000 real releases + the sample
    python benchmarks/scale.py run [--sizes 1000,10000,100000,1000000]
    python benchmarks/scale.py corpus --config data/archive/config.yaml   # a real index

`prepare` adds 5,000 releases from ../shared/data/thaigov (benchmarks/thaigov_sample.py)
and the bundled sample to a corpus in data/bench (about 48k passages; vectors come
from the shared embedding cache data/embeddings.sqlite when present, else they are
embedded). `run` measures each size in a fresh process: the searcher's own call
(`Searcher.search`: query embedding, FAISS, BM25, fusion; then also the answer
sentence, whose sentences are embedded at query time) and its parts, p50/p95 over
real questions, the process's peak RSS, and the index file size. Each size is built
in one process and served in a fresh one, whose peak RSS is what a bot holding that
index needs.

Sizes up to the real passage count use real vectors. Larger sizes add synthetic
vectors (each a normalised mix of two real vectors plus noise, so they sit in the
same narrow cone as e5's), whose ids have no rows: FAISS searches all of them, BM25
and the answer sentence work on the real passages. Approximate indexes report
recall@10 against exact search on the same vectors.

`corpus` serves the index of an existing data folder (its config's `data_dir`), as
the bot loads it: every vector and passage real (the whole archive, once loaded with
`prakat corpus add`), the same measures, exact search over the index's own vectors.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from common import ROOT, write_result

BENCH = ROOT / "data" / "bench"
CACHE = ROOT / "data" / "embeddings.sqlite"


def open_parts():
    from bot.settings import load_settings
    from corpus.store import Store
    from retrieval.encoder.embedder import Embedder
    from retrieval.index.embed_cache import EmbeddingCache
    from retrieval.index.indexer import Indexer

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
    return [q for q, _ in sourced_questions(store, n)]


def sourced_questions(store, n: int = 120) -> list[tuple[str, str]]:
    """Real questions, each with the release it comes from: the opening words of
    release titles (Thai and English), plus the AMCC questions (46681)."""
    rng = np.random.default_rng(1)
    docs = store.list_documents(limit=None)
    picked = [docs[i] for i in rng.choice(len(docs), n, replace=False)]
    out = [("who chaired the 6th AMCC?", "46681"), ("ใครเป็นประธานการประชุม AMCC ครั้งที่ 6", "46681")]
    for d in picked:
        words = d.title.split()
        out.append((" ".join(words[:8]) if len(words) > 3 else d.title[:60], d.doc_id))
    return out


def synthetic(real: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = real[rng.integers(0, len(real), n)]
    b = real[rng.integers(0, len(real), n)]
    mix = rng.uniform(0.2, 0.8, (n, 1)).astype(np.float32)
    v = mix * a + (1 - mix) * b + rng.normal(0, 0.02, (n, real.shape[1])).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def build(size: int, kind: str) -> dict:
    """Phase 1 (its own process): vectors, the index file, and the exact top 10 of
    every question's vector for the recall of approximate kinds."""

    from retrieval.index.vector_index import VectorIndex

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
    index.save(BENCH / f"scale-{size}-{kind}.faiss", {})
    return {"real_vectors": real, "build_s": round(build_s, 2),
            "exact_top10": exact_top10(store, embedder, ids, vectors)}  # fmt: skip


def exact_top10(store, embedder, ids: np.ndarray, vectors: np.ndarray) -> list[list[int]]:
    """The ids of the 10 nearest ``vectors`` to each question, by exact search."""
    import faiss

    from retrieval.text.normalise import normalise_query

    qs = questions(store)
    embedder.load()  # one question at a time, as served: batching would pad them
    qvecs = np.concatenate([embedder.embed_queries([normalise_query(q)]) for q in qs])
    _, nearest = faiss.knn(qvecs, vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)
    return ids[nearest].tolist()


def serve(size: int, kind: str, exact: list[list[int]], margins: list[float] | None = None) -> dict:
    """Phase 2 (a fresh process, as the bot): load the index and answer."""
    from retrieval.index.vector_index import VectorIndex

    settings, store, cache, embedder, _ = open_parts()
    path = BENCH / f"scale-{size}-{kind}.faiss"
    config = replace(settings.index, type=kind)
    index, _ = VectorIndex.load(path, model=embedder.signature, config=config)
    index_bytes = path.stat().st_size
    path.unlink()
    measured = measure(settings, store, embedder, index, kind, exact, margins, cache)
    cache.close()
    for key in ("own_release_first", "own_release_top5"):  # the index holds part of the
        measured.pop(key)  # corpus, or synthetic vectors: meaningless here
    return {"size": size, "kind": kind, "index_mb": round(index_bytes / 2**20, 1),
            **measured}  # fmt: skip


def measure(
    settings, store, embedder, index, kind: str, exact: list[list[int]],
    margins: list[float] | None = None, sentences=None,
) -> dict:  # fmt: skip
    """Serve the questions from ``index`` as a bot does and time each part
    (``sentences``: the embedding cache holding the passages' sentence vectors, as
    the bot is given it; ``answers_embedding`` counts the questions whose answer
    still embedded sentences). With
    ``margins`` (values of ``search.answer_margin``), every question is answered under
    each in turn (the order alternating between questions), for a comparison within
    one run; the config's value (or the first) gives ``with_answer_*``."""
    from retrieval.ranking.search import Searcher
    from retrieval.text.normalise import normalise_query

    embedder.load()
    # pinned, as the bot's searcher is (its own connection; term counts kept until a swap)
    searcher = Searcher(store, embedder, index, replace(settings.ranking, min_score=0.0),
                        pinned=True, sentences=sentences)  # fmt: skip
    embedding = [0]

    def counting(real):
        def counted(texts):
            embedding[0] += 1
            return real(texts)

        return counted

    for name in ("passage_vectors", "passage_states"):  # the latter: with token states
        setattr(searcher.embedded, name, counting(getattr(searcher.embedded, name)))
    grams_ms: list[float] = []  # a Thai question's top passages re-scored by 3-grams
    from retrieval.ranking import rescoring

    by_grams = rescoring.by_grams

    def timed_grams(*args):
        t = time.perf_counter()
        out = by_grams(*args)
        grams_ms.append((time.perf_counter() - t) * 1000)
        return out

    rescoring.by_grams = timed_grams
    sourced = sourced_questions(store)
    qs = [q for q, _ in sourced]
    searcher.search(qs[0])  # warm-up
    grams_ms.clear()
    # One pass per measure, each over all the questions in turn as a bot meets them:
    # timing the parts of one question before its search would warm the encoder's
    # kernels for that question's input shape and flatter the search.
    passages_ms, total, embed_ms, faiss_ms, recalls = [], [], [], [], []
    first, top5 = 0, 0  # the question's own release ranked first / in the top 5
    for q, source in sourced:
        t = time.perf_counter()
        found = searcher.search(q, with_sentence=False)  # passages only
        passages_ms.append((time.perf_counter() - t) * 1000)
        releases = [hit.document.doc_id for hit in found.hits]
        first += releases[:1] == [source]
        top5 += source in releases
    grams = list(grams_ms)  # the passages pass's: one per question with Thai letters
    margins = margins or [settings.ranking.answer_margin]
    embedding[0] = 0  # from here: the answers' passes
    by_margin: dict[float, list[float]] = {m: [] for m in margins}
    # the same questions with every answer's sentences embedded at question time
    # (search.stored_sentences off), alternating with the passes above
    embedded_ms: list[float] = []
    stored = settings.ranking.stored_sentences
    for i, q in enumerate(qs):
        passes = [(m, stored) for m in margins]
        if sentences is not None and stored:  # and once with the sentences embedded
            passes.append((settings.ranking.answer_margin, False))
        for margin, keep in passes if i % 2 == 0 else passes[::-1]:
            searcher.config = replace(searcher.config, answer_margin=margin, stored_sentences=keep)
            for cache in (searcher.embedded.sentence_cache, searcher.embedded.state_cache):
                cache.clear()  # every question is new: no cached sentences
            before = embedding[0]
            t = time.perf_counter()
            searcher.search(q)
            took = (time.perf_counter() - t) * 1000
            if keep == stored:
                by_margin[margin].append(took)
                # a question, however many calls (an English question's top passages
                # embed their sentences too: search.sentence_passages)
                embedding[0] = before + (embedding[0] > before)
            else:
                embedded_ms.append(took)
                embedding[0] = before  # counted for the stored passes only
    default = settings.ranking.answer_margin
    total = by_margin[default if default in by_margin else margins[0]]
    answers_embedding = embedding[0] // len(margins)
    for q, truth in zip(qs, exact, strict=True):
        query = normalise_query(q)
        t = time.perf_counter()
        qvec = embedder.embed_queries([query])[0]
        embed_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        found = index.search(qvec, settings.ranking.dense_k)
        faiss_ms.append((time.perf_counter() - t) * 1000)
        recalls.append(len(set(truth) & {i for i, _ in found[:10]}) / 10)
    p = lambda xs, q: round(float(np.percentile(xs, q)), 2)  # noqa: E731
    sweep = {}
    if kind in ("hnsw", "ivf"):  # the search-effort knob: recall against time
        import faiss

        inner = faiss.downcast_index(index.index.index) if kind == "hnsw" else index.index
        qvecs = [embedder.embed_queries([normalise_query(q)])[0] for q in qs]
        for effort in (32, 64, 128, 256, 512):
            if kind == "hnsw":
                inner.hnsw.efSearch = effort
            else:
                inner.nprobe = effort
            times, rec = [], []
            for qvec, truth in zip(qvecs, exact, strict=True):
                t = time.perf_counter()
                found = index.search(qvec, settings.ranking.dense_k)
                times.append((time.perf_counter() - t) * 1000)
                rec.append(len(set(truth) & {i for i, _ in found[:10]}) / 10)
            sweep[str(effort)] = {"faiss_p50_ms": p(times, 50),
                                  "recall@10_vs_exact": round(float(np.mean(rec)), 4)}  # fmt: skip
    return {
        "questions": len(qs), "effort_sweep": sweep,
        "passages_p50_ms": p(passages_ms, 50), "passages_p95_ms": p(passages_ms, 95),
        "with_answer_p50_ms": p(total, 50), "with_answer_p95_ms": p(total, 95),
        "with_answer_by_margin": {str(m): {"p50_ms": p(xs, 50), "p95_ms": p(xs, 95)}
                                  for m, xs in by_margin.items()} if len(margins) > 1 else {},
        "answers_embedding": answers_embedding,
        "with_answer_embedded_p50_ms": p(embedded_ms, 50) if embedded_ms else None,
        "with_answer_embedded_p95_ms": p(embedded_ms, 95) if embedded_ms else None,
        "grams_rescored": len(grams),
        "grams_p50_ms": p(grams, 50) if grams else None,
        "grams_p95_ms": p(grams, 95) if grams else None,
        "embed_p50_ms": p(embed_ms, 50), "faiss_p50_ms": p(faiss_ms, 50),
        "faiss_p95_ms": p(faiss_ms, 95),
        "recall@10_vs_exact": round(float(np.mean(recalls)), 4),
        "own_release_first": round(first / len(qs), 4),
        "own_release_top5": round(top5 / len(qs), 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }  # fmt: skip


def corpus_exact(config: Path) -> dict:
    """`corpus` phase 1: the exact top 10 of every question over the vectors of a data
    folder's own index (read back from it), for the recall of an approximate one."""
    from bot.runtime import Runtime
    from bot.settings import load_settings

    rt = Runtime(load_settings(str(config)))
    index, _ = rt.load_index()
    vectors = index._vectors(len(index))
    return {"exact_top10": exact_top10(rt.store, rt.embedder, index.ids(), vectors)}


def corpus_serve(config: Path, exact: list[list[int]], budget: int | None = None) -> dict:
    """`corpus` phase 2 (a fresh process, as the bot): a data folder's own index, as
    the bot loads it, all its passages real."""
    from bot.runtime import Runtime
    from bot.settings import load_settings

    settings = load_settings(str(config))
    if budget is not None:
        settings = replace(settings, ranking=replace(settings.ranking, lexical_budget=budget))
    rt = Runtime(settings)
    index, _ = rt.load_index()
    documents, _ = rt.store.counts()
    return {
        "config": str(config), "size": len(index), "kind": index.kind,
        "documents": documents, "real_vectors": len(index),
        "lexical_budget": settings.ranking.lexical_budget,
        "index_mb": round(settings.index_path.stat().st_size / 2**20, 1),
        **measure(settings, rt.read_store, rt.embedder, index, index.kind, exact,
                  sentences=rt.cache),
    }  # fmt: skip


def phase(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(sizes: list[int], kinds_at: dict[int, list[str]], name: str = "scale",
        margins: str = "") -> None:  # fmt: skip
    results = []
    for size in sizes:
        for kind in kinds_at.get(size, ["flat"]):
            built = phase("build", str(size), kind)
            exact = BENCH / f"scale-{size}-{kind}.exact.json"
            exact.write_text(json.dumps(built.pop("exact_top10")))
            served = phase("serve", str(size), kind, str(exact), "--answer-margins", margins)
            results.append({**served, **built})
            exact.unlink()
            print(json.dumps(results[-1]), flush=True)
    write_result(name, {"runs": results})


def run_corpus(config: Path, name: str, budgets: list[str]) -> None:
    exact = config.parent / "scale-corpus.exact.json"
    exact.write_text(json.dumps(phase("corpus-exact", str(config))["exact_top10"]))
    results = []
    for budget in budgets:  # each in a fresh process, as the bot
        results.append(phase("corpus-serve", str(config), str(exact), *budget.split()))
        print(json.dumps(results[-1]), flush=True)
    exact.unlink()
    write_result(name, {"runs": results})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("prepare")
    r = sub.add_parser("run")
    r.add_argument("--sizes", default="1000,10000,100000,1000000")
    r.add_argument("--kinds", default=None, help="only these index kinds (e.g. flat,hnsw)")
    r.add_argument("--name", default="scale", help="result file name")
    r.add_argument("--answer-margins", default="", help="e.g. 0,0.15: each question "
                   "answered under each search.answer_margin (default: the config's)")  # fmt: skip
    c = sub.add_parser("corpus", help="serve a data folder's own index (e.g. the archive)")
    c.add_argument("--config", type=Path, required=True, help="the config of that data folder")
    c.add_argument("--name", default="scale_corpus", help="result file name")
    c.add_argument("--lexical-budgets", default="", help="e.g. 0,50000: one run each "
                   "(search.lexical_budget; default: the config's)")  # fmt: skip
    sub.add_parser("corpus-exact").add_argument("config", type=Path)
    serve_corpus = sub.add_parser("corpus-serve")
    serve_corpus.add_argument("config", type=Path)
    serve_corpus.add_argument("exact", type=Path)
    serve_corpus.add_argument("budget", type=int, nargs="?")
    for name in ("build", "serve"):
        one = sub.add_parser(name)
        one.add_argument("size", type=int)
        one.add_argument("kind")
        if name == "serve":
            one.add_argument("exact", type=Path)
            one.add_argument("--answer-margins", default="")
    args = parser.parse_args()
    if args.cmd == "prepare":
        prepare()
    elif args.cmd == "build":
        print(json.dumps(build(args.size, args.kind)))
    elif args.cmd == "serve":
        exact = json.loads(args.exact.read_text())
        margins = [float(m) for m in args.answer_margins.split(",") if m]
        print(json.dumps(serve(args.size, args.kind, exact, margins)))
    elif args.cmd == "corpus":
        budgets = args.lexical_budgets.split(",") if args.lexical_budgets else [""]
        run_corpus(args.config, args.name, budgets)
    elif args.cmd == "corpus-exact":
        print(json.dumps(corpus_exact(args.config)))
    elif args.cmd == "corpus-serve":
        exact = json.loads(args.exact.read_text())
        print(json.dumps(corpus_serve(args.config, exact, args.budget)))
    else:
        kinds = {100000: ["flat", "hnsw"], 1000000: ["flat", "hnsw", "ivf"]}
        if args.kinds:
            only = args.kinds.split(",")
            kinds = {size: [k for k in kinds.get(size, ["flat"]) if k in only]
                     for size in (1000, 10000, 100000, 1000000)}  # fmt: skip
        run([int(s) for s in args.sizes.split(",")], kinds, args.name, args.answer_margins)


if __name__ == "__main__":
    main()
