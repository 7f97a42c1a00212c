"""The two bonuses of the dense ranking (`search.tie_break`, `search.cross_language`)
on XQuAD-th through the product's Searcher: English and Thai questions over the 240
Thai paragraphs, then with 5,000 thaigov releases added as distractors
(benchmarks/thaigov_sample.py), then over the 240 English paragraphs with the same
distractors (the same questions, asked of the other language's text).

    python benchmarks/dense_order.py [--configs none,tie,cross,both] [--limit N]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from common import ROOT, SHARED, write_result, xquad_corpus
from thaigov_sample import sample

from bot.settings import load_settings
from corpus.loader import load_releases
from retrieval.evaluate import EvalCorpus, evaluate, load_squad

DISTRACTORS = 5000
CONFIGS = {  # name: (tie_break, cross_language)
    "none": (0.0, 0.0),
    "tie": (0.005, 0.0),
    "cross": (0.0, 0.02),  # the default
    "both": (0.005, 0.02),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", default=",".join(CONFIGS), help="which of " + ", ".join(CONFIGS))
    ap.add_argument("--limit", type=int, default=0, help="questions per run (0: all 1,190)")
    args = ap.parse_args()
    settings = load_settings()
    corpus, paragraphs, th_items, en_items = xquad_corpus(settings, args.limit)
    xquad = SHARED / "xquad"
    en_docs, en_en = load_squad(xquad / "xquad.en.json")
    _, th_en = load_squad(xquad / "xquad.en.json", xquad / "xquad.th.json")
    if args.limit:
        en_en, th_en = en_en[: args.limit], th_en[: args.limit]
    haystack = sample(DISTRACTORS, ROOT / "data" / "eval" / f"thaigov-{DISTRACTORS}")
    extra, _ = load_releases([haystack])
    runs = {}

    def measure(where: str, sets: dict) -> None:
        for name in args.configs.split(","):
            tie, cross = CONFIGS[name]
            config = replace(settings.search, tie_break=tie, cross_language=cross)
            searcher = corpus.searcher(config)
            for lang, items in sets.items():
                key = f"{name} {lang} {where}"
                runs[key] = evaluate(searcher, items, answers=False)
                print(key, runs[key], flush=True)

    measure("th-paragraphs", {"en": en_items, "th": th_items})
    corpus.add(extra.values())
    measure(f"th-paragraphs+{DISTRACTORS}", {"en": en_items, "th": th_items})
    encoder = f"{corpus.embedder.backend} {corpus.embedder.precision}"
    corpus.close()
    corpus = EvalCorpus(corpus.embedder, settings.cache_path, settings.chunking)
    corpus.add(en_docs)
    corpus.add(extra.values())
    measure(f"en-paragraphs+{DISTRACTORS}", {"en": en_en, "th": th_en})
    corpus.close()
    write_result("dense_order", {"paragraphs": paragraphs, "configs": CONFIGS, "runs": runs,
                                 "encoder": encoder})  # fmt: skip


if __name__ == "__main__":
    main()
