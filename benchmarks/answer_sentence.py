"""How the answer sentence is chosen, measured on XQuAD-th: for each question, the
sentences of its gold paragraph compete; a hit is a chosen sentence that contains
the gold answer. Variants: plain cosine, topic residual (title direction removed),
and each with the who/when/how-many answer-type filter.

    python benchmarks/answer_sentence.py [--limit 400]
"""

from __future__ import annotations

import argparse
import random

import numpy as np
from common import SHARED, write_result

from bot.settings import load_settings
from retrieval.answer import choose_sentence
from retrieval.embedder import Embedder
from retrieval.evaluate import load_squad
from retrieval.text import sentence_spans

VARIANTS = {
    "cosine": {"residual": False, "types": False},
    "cosine+type": {"residual": False, "types": True},
    "residual": {"residual": True, "types": False},
    "residual+type (product)": {"residual": True, "types": True},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=400, help="questions sampled (0: all)")
    args = ap.parse_args()
    embedder = Embedder(load_settings().embedding).load()
    xquad = SHARED / "xquad"
    docs, th_items = load_squad(xquad / "xquad.th.json")
    _, en_items = load_squad(xquad / "xquad.th.json", xquad / "xquad.en.json")
    by_id = {d.doc_id: d for d in docs}
    picked = list(range(len(th_items)))
    if args.limit:
        picked = sorted(random.Random(2).sample(picked, args.limit))
    para_cache: dict[str, tuple[list[str], np.ndarray, np.ndarray]] = {}
    results = {}
    for lang, items in (("th->th", th_items), ("en->th", en_items)):
        hits = dict.fromkeys(VARIANTS, 0)
        for i in picked:
            item = items[i]
            doc = by_id[item.gold_doc]
            if doc.doc_id not in para_cache:
                sents = [doc.text[a:b] for a, b in sentence_spans(doc.text)]
                vecs = embedder.embed_passages([*sents, doc.title])
                para_cache[doc.doc_id] = (sents, vecs[:-1], vecs[-1])
            sents, vecs, title = para_cache[doc.doc_id]
            q = embedder.embed_queries([item.question])[0]
            topics = np.repeat(title[None, :], len(sents), axis=0)
            for name, v in VARIANTS.items():
                best, _ = choose_sentence(item.question, q, sents, vecs,
                                          topics if v["residual"] else None,
                                          answer_types=v["types"])  # fmt: skip
                if any(" ".join(a.split()) in " ".join(sents[best].split()) for a in item.answers):
                    hits[name] += 1
        results[lang] = {name: round(h / len(picked), 4) for name, h in hits.items()}
        print(lang, results[lang], flush=True)
    write_result("answer_sentence", {"questions": len(picked), "hit_rate": results})


if __name__ == "__main__":
    main()
