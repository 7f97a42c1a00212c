"""Choose `search.min_score`: the best dense cosine below which the bot says "not found".

Answerable: XQuAD-th questions (Thai and English) over their own 240 paragraphs.
Unanswerable: the same questions over the
bundled sample of government releases, which does not cover Wikipedia topics.
Reports both distributions, the threshold with the best balanced accuracy, and the
one that refuses at most 5% of answerable questions (the product default: a wrong
"not found" costs a user more than an unrelated passage, which shows its source).

    python benchmarks/not_found_threshold.py [--limit 400]
"""

from __future__ import annotations

import argparse
import random

import numpy as np
from common import ROOT, write_result, xquad_corpus

from bot.settings import load_settings
from corpus.loader import iter_release_paths, load_path
from retrieval.encoder.embedder import Embedder
from retrieval.evaluate import EvalCorpus
from retrieval.text.normalise import normalise_query


def top_cosines(corpus: EvalCorpus, embedder: Embedder, questions: list[str]) -> np.ndarray:
    searcher = corpus.searcher(load_settings().search)
    out = []
    for q in questions:
        hits = searcher.index.search(embedder.embed_queries([normalise_query(q)])[0], 1)
        out.append(hits[0][1] if hits else 0.0)
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=400, help="questions per language")
    args = ap.parse_args()
    settings = load_settings()
    wiki, _, th, en = xquad_corpus(settings)
    embedder = wiki.embedder
    pick = sorted(random.Random(3).sample(range(len(th)), args.limit))
    questions = [th[i].question for i in pick] + [en[i].question for i in pick]
    answerable = top_cosines(wiki, embedder, questions)
    wiki.close()
    news = EvalCorpus(embedder, settings.cache_path, settings.chunking)
    news.add(load_path(p) for p in iter_release_paths([ROOT / "corpus" / "sample"]))
    unanswerable = top_cosines(news, embedder, questions)
    amcc = top_cosines(news, embedder, ["who chaired the 6th AMCC?",
                                        "ใครเป็นประธานการประชุม AMCC ครั้งที่ 6"])  # fmt: skip
    news.close()

    best = max(
        np.arange(0.70, 0.95, 0.005),
        key=lambda t: (np.mean(answerable >= t) + np.mean(unanswerable < t)) / 2,
    )

    def q(values):
        return {p: round(float(np.percentile(values, p)), 4) for p in (5, 25, 50, 75, 95)}

    cautious = float(np.percentile(answerable, 5))
    write_result("not_found_threshold", {
        "questions": len(questions),
        "answerable_top_cosine": q(answerable),
        "unanswerable_top_cosine": q(unanswerable),
        "threshold": round(float(best), 3),
        "answerable_kept": round(float(np.mean(answerable >= best)), 4),
        "unanswerable_refused": round(float(np.mean(unanswerable < best)), 4),
        "cautious_threshold": round(cautious, 3),
        "cautious_answerable_kept": round(float(np.mean(answerable >= cautious)), 4),
        "cautious_unanswerable_refused": round(float(np.mean(unanswerable < cautious)), 4),
        "amcc_top_cosines": [round(float(x), 4) for x in amcc],
    })  # fmt: skip


if __name__ == "__main__":
    main()
