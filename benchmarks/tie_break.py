"""The dense tie-break (`search.tie_break`) on XQuAD-th, for English and Thai
questions over the 240 Thai paragraphs, then with 5,000 thaigov releases added as
distractors (benchmarks/thaigov_sample.py), through the product's Searcher.

    python benchmarks/tie_break.py [--betas 0,0.005,0.01] [--limit N]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from common import ROOT, write_result, xquad_corpus
from thaigov_sample import sample

from bot.settings import load_settings
from corpus.loader import load_releases
from retrieval.evaluate import evaluate

DISTRACTORS = 5000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--betas", default="0,0.005,0.01", help="tie_break values to compare")
    ap.add_argument("--limit", type=int, default=0, help="questions per run (0: all 1,190)")
    args = ap.parse_args()
    settings = load_settings()
    corpus, paragraphs, th_items, en_items = xquad_corpus(settings, args.limit)
    runs = {}

    def measure(haystack: str) -> None:
        for beta in [float(b) for b in args.betas.split(",")]:
            searcher = corpus.searcher(replace(settings.search, tie_break=beta))
            for lang, items in (("en->th", en_items), ("th->th", th_items)):
                key = f"tie_break={beta} {lang} distractors={haystack}"
                runs[key] = evaluate(searcher, items, answers=False)
                print(key, runs[key], flush=True)

    measure("0")
    haystack = sample(DISTRACTORS, ROOT / "data" / "eval" / f"thaigov-{DISTRACTORS}")
    extra, _ = load_releases([haystack])
    corpus.add(extra.values())
    measure(str(DISTRACTORS))
    encoder = f"{corpus.embedder.backend} {corpus.embedder.precision}"
    corpus.close()
    write_result("tie_break", {"paragraphs": paragraphs, "runs": runs, "encoder": encoder})


if __name__ == "__main__":
    main()
