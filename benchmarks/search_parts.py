"""Where the passage search's time goes, part by part, at one index size.

    python benchmarks/search_parts.py [--size 100000] [--common-postings 0,3000]

Uses scale.py's corpus (data/bench, `python benchmarks/scale.py prepare`) and builds
its HNSW index at ``--size`` the same way (real vectors, synthetic beyond). Then, in
one process, for each ``search.common_postings`` value in turn, repeated ``--rounds``
times: one pass over scale.py's questions, passages only (`Searcher.search(...,
with_sentence=False)`), each part of it timed by wrapping the method that does it
(the question's embedding, FAISS, term counts, FTS5, `Store.add_bm25`, the fusion).
Each pass starts from a fresh searcher, so nothing is remembered from an earlier one.
Reports the total p50 and each part's mean per question. Writes
benchmarks/results/search_parts.json.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from dataclasses import replace

import numpy as np
import scale
from common import write_result

PARTS = {  # label: (where, method)
    "embed": ("embedder", "embed_queries"),
    "faiss": ("index", "search"),
    "term_counts": ("searcher", "term_counts"),
    "fts5": ("store", "lexical_search"),
    "add_bm25": ("store", "add_bm25"),
    "fusion": ("searcher", "_weighted"),
}


def one_pass(settings, store, embedder, index, questions, common_postings: int) -> dict:
    from retrieval.ranking.search import Searcher

    config = replace(settings.search, min_score=0.0, common_postings=common_postings)
    searcher = Searcher(store, embedder, index, config, pinned=True)
    where = {"embedder": embedder, "index": index, "searcher": searcher, "store": store}
    spent: dict[str, float] = defaultdict(float)
    wrapped = []
    for label, (owner, name) in PARTS.items():
        obj = where[owner]
        real = getattr(obj, name)

        def timed(*args, _real=real, _label=label, **kwargs):
            t = time.perf_counter()
            try:
                return _real(*args, **kwargs)
            finally:
                spent[_label] += time.perf_counter() - t

        setattr(obj, name, timed)
        wrapped.append((obj, name))
    try:
        totals = []
        for q in questions:
            t = time.perf_counter()
            searcher.search(q, with_sentence=False)
            totals.append(time.perf_counter() - t)
    finally:
        for obj, name in wrapped:  # back to the class's own method
            delattr(obj, name)
    n = len(questions)
    return {
        "common_postings": common_postings,
        "passages_p50_ms": round(float(np.median(totals)) * 1000, 2),
        "mean_ms_per_question": {k: round(v / n * 1000, 2) for k, v in spent.items()},
    }


def main() -> None:
    from retrieval.index.vector_index import VectorIndex

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--common-postings", default="0,3000")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    values = [int(v) for v in args.common_postings.split(",")]
    scale.phase("build", str(args.size), "hnsw")
    settings, store, cache, embedder, _ = scale.open_parts()
    cache.close()
    path = scale.BENCH / f"scale-{args.size}-hnsw.faiss"
    config = replace(settings.index, type="hnsw")
    index, _ = VectorIndex.load(path, model=embedder.signature, config=config)
    path.unlink()
    embedder.load()
    questions = scale.questions(store)
    embedder.embed_queries([questions[0]])  # warm-up
    runs = []
    for _ in range(args.rounds):
        for value in values:
            runs.append(one_pass(settings, store, embedder, index, questions, value))
            print(runs[-1], flush=True)
    write_result("search_parts", {"size": args.size, "questions": len(questions), "runs": runs})


if __name__ == "__main__":
    main()
