"""How large `search.answer_margin` must be to choose the answer sentence as embedding
every candidate would.

A candidate's score is a cosine part plus its word-overlap score; candidates whose
overlap trails the best one's by more than the margin are not embedded (and a lone
one left is chosen without embedding). On XQuAD-th's 1,190 Thai questions, the
sentences of the question's gold paragraph compete under the product's scoring (as
benchmarks/sentence_boundary.py, product row: at most `answer_candidates` embedded,
the answer shown as the whole sentence); for each margin: choices equal to no margin,
hit rate, sentences embedded per question, and questions with nothing embedded.

    python benchmarks/answer_margin.py
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from answer_sentence import cached_embedding, sentence_words, weighted_overlap
from common import SHARED, write_result

from bot.settings import load_settings
from retrieval.encoder.embedder import Embedder
from retrieval.evaluate import load_squad
from retrieval.ranking.answer import choose_sentence, may_answer, sentences_to_embed
from retrieval.text.sentences import ANSWER_BOUNDARY, answer_spans, sentence_spans

MARGINS = [0.0, 0.3, 0.2, 0.15, 0.1, 0.05]  # 0: off (every candidate embedded)


def main() -> None:
    docs, items = load_squad(SHARED / "xquad" / "xquad.th.json")
    settings = load_settings()
    embedder = Embedder(settings.embedding).load()
    most = settings.search.answer_candidates
    texts = {d.doc_id: d.text for d in docs}
    spans = {d.doc_id: sentence_spans(d.text) for d in docs}
    shown = {k: answer_spans(t, ANSWER_BOUNDARY) for k, t in texts.items()}
    embed = cached_embedding(embedder)

    titles = dict(zip([d.doc_id for d in docs], embed([d.title for d in docs]), strict=True))
    units, terms_of, df, n = sentence_words(texts, spans)
    hits, same, embedded, none = Counter(), Counter(), Counter(), Counter()
    qvecs = embedder.embed_queries([i.question for i in items])
    for qvec, item in zip(qvecs, items, strict=True):
        k = item.gold_doc
        index = [i for i, ok in enumerate(may_answer(item.question, units[k])) if ok]
        sentences = [units[k][i] for i in index]
        overlap = weighted_overlap(item.question, [terms_of[s] for s in sentences], df, n)
        chosen_off = None
        for margin in MARGINS:
            keep = sentences_to_embed(overlap, sentences, margin, most)  # as the product
            if len(keep) == 1:
                best = keep[0]
                none[margin] += 1
            else:
                kept = [sentences[i] for i in keep]
                topics = np.repeat(titles[k][None, :], len(kept), axis=0)
                b, _ = choose_sentence(item.question, qvec, kept, embed(kept), topics,
                                       answer_types=False, overlap=overlap[keep])  # fmt: skip
                best = keep[b]
                embedded[margin] += len(kept)
            chosen_off = best if margin == 0 else chosen_off
            same[margin] += best == chosen_off
            a, b = spans[k][index[best]]
            a, b = next((x, y) for x, y in shown[k] if x <= a and b <= y)
            answer = " ".join(texts[k][a:b].split())
            hits[margin] += any(" ".join(g.split()) in answer for g in item.answers)
    total = len(items)
    rows = [{
        "answer_margin": m, "same_choice": round(same[m] / total, 4),
        "changed": total - same[m], "hit_rate": round(hits[m] / total, 4),
        "embedded_per_question": round(embedded[m] / total, 2),
        "nothing_embedded": round(none[m] / total, 3),
    } for m in MARGINS]  # fmt: skip
    write_result("answer_margin", {"questions": total, "answer_candidates": most, "rows": rows})


if __name__ == "__main__":
    main()
