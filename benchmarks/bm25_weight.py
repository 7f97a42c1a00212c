"""The weighted fusion's BM25 weight (`search.bm25_weight`) through the product's
Searcher: each candidate scores cosine + weight x vocabulary coverage x BM25 / best
BM25 (+ the language bonus). XQuAD-th's English and Thai questions over its 240 Thai
paragraphs and iApp Wiki QA's 742 questions over its 191 contexts, then each with
5,000 thaigov releases added as distractors (benchmarks/thaigov_sample.py), then
XQuAD's questions over its 240 *English* paragraphs with the same distractors.

    python benchmarks/bm25_weight.py [--weights 0,0.05,0.1,0.15] [--limit N]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from common import ROOT, SHARED, write_result, xquad_corpus
from thaigov_sample import sample

from bot.settings import load_settings
from corpus.loader import load_releases
from retrieval.evaluate import EvalCorpus, evaluate, load_iapp, load_squad

DISTRACTORS = 5000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", default="0,0.05,0.1,0.15")
    ap.add_argument("--limit", type=int, default=0, help="questions per set (0: all)")
    args = ap.parse_args()
    weights = [float(w) for w in args.weights.split(",")]
    settings = load_settings()
    runs = {}

    def measure(corpus, where: str, sets: dict) -> None:
        for weight in weights:
            searcher = corpus.searcher(replace(settings.search, bm25_weight=weight))
            for name, items in sets.items():
                key = f"{weight} {name} {where}"
                runs[key] = evaluate(searcher, items, answers=False)
                print(key, runs[key], flush=True)

    def fresh(docs) -> EvalCorpus:
        corpus = EvalCorpus(xq.embedder, settings.cache_path, settings.chunking)
        corpus.add(docs)
        return corpus

    xq, paragraphs, th, en = xquad_corpus(settings, args.limit)
    iapp_docs, iapp = load_iapp(SHARED / "iapp-wiki-qa" / "valid.jsonl")
    en_docs, en_en = load_squad(SHARED / "xquad" / "xquad.en.json")
    _, th_en = load_squad(SHARED / "xquad" / "xquad.en.json", SHARED / "xquad" / "xquad.th.json")
    if args.limit:
        iapp, en_en, th_en = iapp[: args.limit], en_en[: args.limit], th_en[: args.limit]
    haystack = sample(DISTRACTORS, ROOT / "data" / "eval" / f"thaigov-{DISTRACTORS}")
    extra = list(load_releases([haystack])[0].values())
    plus = f"+{DISTRACTORS}"

    measure(xq, "th-paragraphs", {"en": en, "th": th})
    xq.add(extra)
    measure(xq, "th-paragraphs" + plus, {"en": en, "th": th})
    encoder = f"{xq.embedder.backend} {xq.embedder.precision}"
    xq.close()
    for docs, where, sets in (
        (iapp_docs, "iapp-contexts", {"iapp": iapp}),
        (iapp_docs + extra, "iapp-contexts" + plus, {"iapp": iapp}),
        (en_docs + extra, "en-paragraphs" + plus, {"en": en_en, "th": th_en}),
    ):
        corpus = fresh(docs)
        measure(corpus, where, sets)
        corpus.close()
    write_result("bm25_weight", {"paragraphs": paragraphs, "weights": weights, "runs": runs,
                                 "encoder": encoder})  # fmt: skip


if __name__ == "__main__":
    main()
