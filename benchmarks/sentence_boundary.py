"""Where a Thai answer sentence should end, measured on XQuAD's parallel paragraphs.

crfcut ends a sentence where its CRF's best labelling does; joining its sentences
across the cuts whose probability (the CRF's marginal) is under a threshold gives
fewer, longer sentences. For each way of cutting: Thai sentences per English sentence of the same
240 paragraphs (the English text cut by prakat's own punctuation rule), sentence
lengths, and the answer hit rate when the sentences of the question's gold paragraph
compete under the product's scoring (as benchmarks/answer_sentence.py), with the
length of the answers shown. Longer answers contain the gold answer more often by
being longer, so crfcut's sentences merged by length alone (no boundary information)
are measured beside them. The product's row chooses among crfcut's sentences and
shows the whole sentence (p >= ANSWER_BOUNDARY) around the one chosen.

    python benchmarks/sentence_boundary.py [--limit 0]
"""

from __future__ import annotations

import argparse
import random
import statistics

import numpy as np
from answer_sentence import cached_embedding, sentence_words, weighted_overlap
from common import SHARED, write_result

from bot.settings import load_settings
from retrieval.encoder.embedder import Embedder
from retrieval.evaluate import load_squad
from retrieval.ranking.answer import choose_sentence
from retrieval.text.sentences import ANSWER_BOUNDARY, answer_spans, sentence_spans

THRESHOLDS = [None, 0.55, 0.6, ANSWER_BOUNDARY, 0.7, 0.8]
MERGE_LENGTHS = [60, 100]


def merged(spans: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """Consecutive sentence spans joined until each piece spans ``length`` characters."""
    out: list[tuple[int, int]] = []
    start = None
    for a, b in spans:
        start = a if start is None else start
        if b - start >= length:
            out.append((start, b))
            start = None
    if start is not None:
        end = spans[-1][1]
        if out and end - start < length / 2:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def squash(text: str) -> str:
    return " ".join(text.split())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=0, help="questions sampled (0: all 1,190)")
    args = ap.parse_args()
    xquad = SHARED / "xquad"
    docs, th_items = load_squad(xquad / "xquad.th.json")
    _, en_items = load_squad(xquad / "xquad.th.json", xquad / "xquad.en.json")
    en_docs, _ = load_squad(xquad / "xquad.en.json")
    english = sum(len(sentence_spans(d.text)) for d in en_docs)
    picked = list(range(len(th_items)))
    if args.limit:
        picked = sorted(random.Random(2).sample(picked, args.limit))

    embedder = Embedder(load_settings().embedding).load()
    embed = cached_embedding(embedder)

    questions = {
        "th->th": (th_items, embedder.embed_queries([th_items[i].question for i in picked])),
        "en->th": (en_items, embedder.embed_queries([en_items[i].question for i in picked])),
    }
    texts = {d.doc_id: d.text for d in docs}
    crfcut = {d.doc_id: sentence_spans(d.text) for d in docs}
    title_vecs = embed([d.title for d in docs])
    titles = {d.doc_id: v for d, v in zip(docs, title_vecs, strict=True)}
    settings = [("crfcut", t) for t in THRESHOLDS] + [("merged", n) for n in MERGE_LENGTHS]
    settings.append(("product", ANSWER_BOUNDARY))
    rows = []
    for kind, value in settings:
        shown = None  # a chosen span's whole sentence, if it is shown as that
        if kind == "crfcut" and value is None:
            spans, name = crfcut, "crfcut's sentences"
        elif kind == "crfcut":
            spans = {k: answer_spans(t, value) for k, t in texts.items()}
            name = f"joined across cuts of p < {value}"
        elif kind == "merged":
            spans = {k: merged(v, value) for k, v in crfcut.items()}
            name = f"crfcut sentences merged to >= {value} chars"
        else:
            spans, shown = crfcut, {k: answer_spans(t, value) for k, t in texts.items()}
            name = f"crfcut's sentences, shown joined across cuts of p < {value} (prakat)"
        units, terms_of, df, n = sentence_words(texts, spans)
        lengths = [len(s) for us in units.values() for s in us]
        row = {
            "sentences": name,
            "thai_per_english_sentence": round(n / english, 3),
            "median_chars": statistics.median(lengths),
            "mean_chars": round(statistics.fmean(lengths), 1),
        }
        shown_lengths = []
        for lang, (items, qvecs) in questions.items():
            hits = 0
            for qvec, i in zip(qvecs, picked, strict=True):
                item = items[i]
                sents = units[item.gold_doc]
                vecs = embed(sents)
                topics = np.repeat(titles[item.gold_doc][None, :], len(sents), axis=0)
                overlap = weighted_overlap(item.question, [terms_of[s] for s in sents], df, n)
                best, _ = choose_sentence(item.question, qvec, sents, vecs, topics, overlap=overlap)
                a, b = spans[item.gold_doc][best]
                if shown:
                    a, b = next((x, y) for x, y in shown[item.gold_doc] if x <= a and b <= y)
                answer = texts[item.gold_doc][a:b]
                shown_lengths.append(len(answer))
                hits += any(squash(g) in squash(answer) for g in item.answers)
            row[f"hit_{lang}"] = round(hits / len(picked), 4)
        row["shown_median_chars"] = statistics.median(shown_lengths)
        row["shown_mean_chars"] = round(statistics.fmean(shown_lengths), 1)
        rows.append(row)
        print(row, flush=True)
    write_result(
        "sentence_boundary",
        {"questions": len(picked), "english_sentences": english, "rows": rows},
    )


if __name__ == "__main__":
    main()
