"""Fusion modes on XQuAD-th through the product pipeline: dense, BM25, plain RRF and
prakat's weighted RRF, for English and Thai questions over the 240 Thai paragraphs.

    python benchmarks/fusion_xquad.py [--limit N]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from common import write_result, xquad_corpus

from bot.settings import load_settings
from retrieval.evaluate import evaluate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=0, help="questions per run (0: all 1,190)")
    ap.add_argument("--modes", default="dense,bm25,rrf,weighted")
    args = ap.parse_args()
    settings = load_settings()
    corpus, paragraphs, th_items, en_items = xquad_corpus(settings, args.limit)
    runs = {}
    for mode in args.modes.split(","):
        searcher = corpus.searcher(replace(settings.search, fusion=mode))
        for lang, items in (("en->th", en_items), ("th->th", th_items)):
            runs[f"{mode} {lang}"] = evaluate(searcher, items, answers=False)
            print(mode, lang, runs[f"{mode} {lang}"], flush=True)
    corpus.close()
    write_result("fusion_xquad", {"passages": paragraphs, "runs": runs,
                                  "chunking": vars(settings.chunking)})  # fmt: skip


if __name__ == "__main__":
    main()
