"""Where English questions go wrong among real releases: XQuAD-th's 240 Thai
paragraphs plus 5,000 thaigov releases (benchmarks/thaigov_sample.py), the product's
Searcher; for each question whose first hit is not its paragraph, is that hit another
XQuAD paragraph, an English news passage or a Thai one? Run with `search.cross_language`
set to 0 in the config to see the misses the language bonus addresses.

    python benchmarks/english_misses.py
"""

from __future__ import annotations

from collections import Counter

from common import ROOT, write_result, xquad_corpus
from thaigov_sample import sample

from bot.settings import load_settings
from corpus.loader import load_releases
from retrieval.text.normalise import mostly_thai

DISTRACTORS = 5000


def main() -> None:
    settings = load_settings()
    corpus, _, th_items, en_items = xquad_corpus(settings)
    gold = set(corpus.store.doc_ids())
    extra, _ = load_releases([sample(DISTRACTORS, ROOT / "data" / "eval" / "thaigov-5000")])
    corpus.add(extra.values())
    english = sum(1 for d in extra.values() if not mostly_thai(d.text))
    searcher = corpus.searcher(settings.search)
    out = {}
    for lang, items in (("en", en_items), ("th", th_items)):
        kinds: Counter = Counter()
        for item in items:
            top = searcher.search(item.question, k=1, with_sentence=False).hits[0]
            if top.document.doc_id == item.gold_doc:
                kinds["right"] += 1
            elif top.document.doc_id in gold:
                kinds["other xquad paragraph"] += 1
            else:
                kinds["english news" if not mostly_thai(top.chunk.text) else "thai news"] += 1
        out[lang] = dict(kinds)
        print(lang, out[lang], flush=True)
    corpus.close()
    write_result("english_misses", {"releases": len(extra), "english_releases": english,
                                    "cross_language": settings.search.cross_language,
                                    "first_hits": out})  # fmt: skip


if __name__ == "__main__":
    main()
