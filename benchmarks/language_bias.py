"""How much higher the encoder scores a question against a passage in its own
language than against the same passage in the other language: XQuAD-th's Thai and
English paragraphs are translations of each other, so for every question
cos(q, English paragraph) - cos(q, Thai paragraph) is the model's language pull
(whole paragraphs, the product's prompts). The basis of `search.cross_language`.

    python benchmarks/language_bias.py
"""

from __future__ import annotations

import numpy as np
from common import SHARED, write_result

from bot.settings import load_settings
from retrieval.encoder.embedder import Embedder
from retrieval.evaluate import load_squad
from retrieval.text.normalise import normalise_query


def main() -> None:
    xquad = SHARED / "xquad"
    th_docs, th_items = load_squad(xquad / "xquad.th.json")
    en_docs, _ = load_squad(xquad / "xquad.en.json")
    _, en_items = load_squad(xquad / "xquad.th.json", xquad / "xquad.en.json")
    embedder = Embedder(load_settings().embedding).load()

    def vectors(docs) -> dict:
        vecs = embedder.embed_passages([d.text for d in docs])
        return dict(zip([d.doc_id for d in docs], vecs, strict=True))

    thai, english = vectors(th_docs), vectors(en_docs)
    out = {}
    for lang, items in (("en questions", en_items), ("th questions", th_items)):
        qvecs = embedder.embed_queries([normalise_query(i.question) for i in items])
        pairs = zip(qvecs, items, strict=True)
        pull = [q @ (english[i.gold_doc] - thai[i.gold_doc]) for q, i in pairs]
        out[lang] = {"n": len(items), "mean": round(float(np.mean(pull)), 4),
                     "median": round(float(np.median(pull)), 4),
                     "share_positive": round(float(np.mean(np.array(pull) > 0)), 4)}  # fmt: skip
        print(lang, out[lang], flush=True)
    encoder = f"{embedder.backend} {embedder.precision}"
    write_result("language_bias", {"pull (en minus th paragraph)": out, "encoder": encoder})


if __name__ == "__main__":
    main()
