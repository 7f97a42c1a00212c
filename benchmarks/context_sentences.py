"""Answer sentences without embedding sentences at question time: would vectors taken
from the passage's own forward pass do? (They do for questions in the passages'
language, and are now kept at indexing: `search.stored_sentences`, docs/quality.md.)

The answer sentence is chosen by the cosine of each candidate sentence to the question
(plus word overlap), and the candidates are embedded when the question comes, which
is most of a question's time at 100k passages (docs/performance.md, section 3).
Embedding every sentence when indexing would double the indexing work. A sentence
vector can instead come free from the indexing pass: the mean of the passage's token
states over the sentence's tokens (a contextual sentence vector).

On XQuAD-th's gold paragraphs, chunked as the product chunks them (title header,
128-token chunks), every crfcut sentence gets both vectors; the product's scoring
chooses among the sentences of the question's gold paragraph (as
benchmarks/sentence_boundary.py, product row: shown as the whole sentence), once with
each kind of vector, and with each of three "topic" directions removed: the release
title embedded alone (the product), none, and the passage's own vector.

    python benchmarks/context_sentences.py
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch
from answer_sentence import cached_embedding, sentence_words, weighted_overlap
from common import SHARED, write_result

from bot.settings import load_settings
from retrieval.encoder.embedder import Embedder
from retrieval.evaluate import load_squad
from retrieval.index.indexer import embed_text
from retrieval.ranking.answer import choose_sentence
from retrieval.text.chunking import chunk_document
from retrieval.text.sentences import ANSWER_BOUNDARY, answer_spans, sentence_spans


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def contextual_vectors(docs, embedder: Embedder, settings, spans) -> tuple[dict, dict]:
    """(doc_id, sentence index) -> the mean token state over that sentence in the first
    chunk holding it whole, and -> that chunk's own vector (mean over all its tokens)."""
    model = embedder.model
    prompt = settings.embedding.passage_prompt
    sentence, passage = {}, {}
    for doc in docs:
        for chunk in chunk_document(doc, embedder.count_tokens, settings.chunking):
            text = embed_text(doc, chunk.text)
            enc = model.tokenizer(prompt + text, return_offsets_mapping=True, truncation=True,
                                  max_length=model.max_seq_length, return_tensors="pt")  # fmt: skip
            offsets = enc.pop("offset_mapping")[0].numpy()
            with torch.inference_mode():
                states = model[0](dict(enc))["token_embeddings"][0].float().numpy()
            base = len(prompt) + len(text) - len(chunk.text)  # chunk text's start in the input
            for i, (a, b) in enumerate(spans[doc.doc_id]):
                if (doc.doc_id, i) in sentence or a < chunk.start or b > chunk.end:
                    continue
                lo, hi = base + a - chunk.start, base + b - chunk.start
                rows = [j for j, (x, y) in enumerate(offsets) if x < y and lo <= x and y <= hi]
                if rows:
                    sentence[doc.doc_id, i] = unit(states[rows].mean(0))
                    passage[doc.doc_id, i] = unit(states.mean(0))
    return sentence, passage


def main() -> None:
    xquad = SHARED / "xquad"
    docs, th_items = load_squad(xquad / "xquad.th.json")
    _, en_items = load_squad(xquad / "xquad.th.json", xquad / "xquad.en.json")
    settings = load_settings()
    embedder = Embedder(settings.embedding).load()
    texts = {d.doc_id: d.text for d in docs}
    spans = {d.doc_id: sentence_spans(d.text) for d in docs}
    shown = {k: answer_spans(t, ANSWER_BOUNDARY) for k, t in texts.items()}
    context, passage = contextual_vectors(docs, embedder, settings, spans)

    alone = cached_embedding(embedder)  # sentences embedded on their own

    titles = dict(zip([d.doc_id for d in docs], alone([d.title for d in docs]), strict=True))
    units, terms_of, df, n = sentence_words(texts, spans)
    runs = [(v, t) for v in ("alone", "contextual") for t in ("title", "none", "passage")]
    hit_rates: dict[str, dict[str, float]] = {}
    for lang, items in (("th->th", th_items), ("en->th", en_items)):
        hits: Counter = Counter()
        for qvec, item in zip(embedder.embed_queries([i.question for i in items]), items,
                              strict=True):  # fmt: skip
            k = item.gold_doc
            sentences = units[k]
            by_kind = {"alone": alone(sentences)}
            # the few sentences no chunk holds whole (cut by the chunk limit) keep the other
            by_kind["contextual"] = np.stack([context.get((k, i), by_kind["alone"][i])
                                              for i in range(len(sentences))])  # fmt: skip
            own = [passage.get((k, i), titles[k]) for i in range(len(sentences))]
            topics = {
                "title": np.repeat(titles[k][None, :], len(sentences), axis=0),
                "none": None,
                "passage": np.stack(own),
            }
            overlap = weighted_overlap(item.question, [terms_of[s] for s in sentences], df, n)
            for kind, topic in runs:
                best, _ = choose_sentence(item.question, qvec, sentences, by_kind[kind],
                                          topics[topic], overlap=overlap)  # fmt: skip
                a, b = spans[k][best]
                a, b = next((x, y) for x, y in shown[k] if x <= a and b <= y)
                answer = " ".join(texts[k][a:b].split())
                hits[kind, topic] += any(" ".join(g.split()) in answer for g in item.answers)
        for (kind, topic), h in hits.items():
            rate = round(h / len(items), 4)
            hit_rates.setdefault(f"{kind} vectors, topic {topic}", {})[lang] = rate
    write_result("context_sentences", {
        "questions": len(th_items), "sentences": n, "contextual_vectors": len(context),
        "hit_rate": hit_rates,
    })  # fmt: skip


if __name__ == "__main__":
    main()
