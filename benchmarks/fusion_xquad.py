"""Fusion modes on XQuAD-th through the product pipeline: dense, BM25, plain RRF and
prakat's weighted RRF, for English and Thai questions over the 240 Thai paragraphs.

    python benchmarks/fusion_xquad.py [--limit N]
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace

from common import SHARED, write_result

from bot.settings import load_settings
from retrieval.embedder import Embedder
from retrieval.evaluate import EvalCorpus, evaluate, load_squad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=0, help="questions per run (0: all 1,190)")
    ap.add_argument("--modes", default="dense,bm25,rrf,weighted")
    args = ap.parse_args()
    settings = load_settings()
    xquad = SHARED / "xquad"
    docs, th_items = load_squad(xquad / "xquad.th.json")
    _, en_items = load_squad(xquad / "xquad.th.json", xquad / "xquad.en.json")
    if args.limit:
        th_items, en_items = th_items[: args.limit], en_items[: args.limit]
    embedder = Embedder(settings.embedding).load()
    os.makedirs(settings.data_dir, exist_ok=True)
    corpus = EvalCorpus(embedder, settings.cache_path, settings.chunking)
    corpus.add(docs)
    runs = {}
    for mode in args.modes.split(","):
        searcher = corpus.searcher(replace(settings.search, fusion=mode))
        for lang, items in (("en->th", en_items), ("th->th", th_items)):
            runs[f"{mode} {lang}"] = evaluate(searcher, items, answers=False)
            print(mode, lang, runs[f"{mode} {lang}"], flush=True)
    corpus.close()
    write_result("fusion_xquad", {"passages": len(docs), "runs": runs,
                                  "chunking": vars(settings.chunking)})  # fmt: skip


if __name__ == "__main__":
    main()
