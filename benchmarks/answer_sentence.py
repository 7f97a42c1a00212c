"""How the answer sentence is chosen, measured on XQuAD-th: for each question, the
sentences of its gold paragraph compete; a hit is a chosen sentence that contains
the gold answer. Variants: plain cosine, topic residual (title direction removed),
and each with the who/when/how-many answer-type filter. The "late" variants take each
sentence's vector from the whole paragraph's forward pass, the mean of its tokens'
states ("late chunking"). The product now keeps such vectors from each 128-token
passage's pass (`search.stored_sentences`, for questions in the passages' script),
which `prakat eval` measures; these variants pool over whole paragraphs instead.

    python benchmarks/answer_sentence.py [--limit 400]
"""

from __future__ import annotations

import argparse
import math
import random
from collections import Counter

import numpy as np
from common import SHARED, write_result
from tokenizers import Tokenizer

from bot.settings import load_settings
from retrieval.encoder.embedder import Embedder
from retrieval.evaluate import load_squad
from retrieval.ranking.answer import OVERLAP_WEIGHT, choose_sentence, overlap_scores
from retrieval.ranking.search import query_terms
from retrieval.text.normalise import normalise_query
from retrieval.text.sentences import sentence_spans
from retrieval.text.words import word_tokens

VARIANTS = {
    "cosine": {"residual": False, "types": False},
    "cosine+type": {"residual": False, "types": True},
    "residual": {"residual": True, "types": False},
    "residual+type": {"residual": True, "types": True},
    "residual+type+overlap (product)": {"residual": True, "types": True, "overlap": True},
    "late: cosine+type+overlap": {"residual": False, "types": True, "overlap": True, "late": True},
    "late: residual+type+overlap": {"residual": True, "types": True, "overlap": True, "late": True},
}


def late_sentence_vectors(embedder: Embedder, tokenizer, text: str, spans: list[tuple[int, int]]):
    """Unit vectors of the sentences ``spans`` of ``text``, each the mean of its tokens'
    states in one forward pass of the whole paragraph as a passage (prompt included);
    ``tokenizer`` (built from ``embedder.passage_tokenizer_json()``) gives the offsets."""
    import torch

    prompt = embedder.config.passage_prompt
    model = embedder.model
    features = model.preprocess([text], prompt=prompt)
    encoding = tokenizer.encode(prompt + text)
    if encoding.ids != features["input_ids"][0].tolist():
        raise SystemExit("the offsets' tokenizer cuts differently from the model's")
    with torch.inference_mode():
        states = model(features)["token_embeddings"][0].float().numpy()
    starts = np.array([a for a, _ in encoding.offsets]) - len(prompt)
    ends = np.array([b for _, b in encoding.offsets]) - len(prompt)
    real = ends > starts  # special tokens have empty offsets
    out = []
    for a, b in spans:
        rows = real & (starts < b) & (ends > a)
        v = states[rows].mean(axis=0) if rows.any() else states.mean(axis=0)
        out.append(v / np.linalg.norm(v))
    return np.array(out)


def cached_embedding(embedder: Embedder):
    """``embed(texts)``: passage vectors of ``texts``, each text embedded once."""
    vectors: dict[str, np.ndarray] = {}

    def embed(texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in vectors]
        if todo:
            vectors.update(zip(todo, embedder.embed_passages(todo), strict=True))
        return np.stack([vectors[t] for t in texts])

    return embed


def sentence_words(texts: dict[str, str], spans: dict[str, list[tuple[int, int]]]):
    """The sentences of each paragraph (``spans`` into ``texts``), each sentence's
    words, their sentence frequencies and the number of sentences: what
    ``weighted_overlap`` needs."""
    units = {k: [texts[k][a:b] for a, b in v] for k, v in spans.items()}
    terms_of = {s: set(word_tokens(s)) for us in units.values() for s in us}
    df: Counter = Counter()
    for us in units.values():
        for s in us:
            df.update(terms_of[s])
    return units, terms_of, df, sum(len(us) for us in units.values())


def coverage_weight(terms: list[str], df: Counter, n: int) -> float:
    """As Searcher.lexical_weight, over sentences instead of passages."""
    known = total = 0.0
    for t in terms:
        idf = math.log(1 + n / df[t]) if df[t] else math.log(1 + n)
        total += idf
        known += idf if df[t] else 0.0
    return max(0.0, (known / total - 0.7) / 0.3) if total else 0.0


def weighted_overlap(question: str, sentence_terms: list[set[str]], df: Counter, n: int):
    """The product's word-overlap term for each sentence (``OVERLAP_WEIGHT`` x coverage
    x share of the question's IDF mass), with document frequencies over ``n`` sentences."""
    terms = query_terms(normalise_query(question))
    idf = {t: math.log(1 + n / df[t]) if df[t] else math.log(1 + n) for t in dict.fromkeys(terms)}
    return OVERLAP_WEIGHT * coverage_weight(terms, df, n) * overlap_scores(idf, sentence_terms)


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
    para_cache: dict[str, tuple[list[str], np.ndarray, np.ndarray, np.ndarray]] = {}
    tokenizer_json = embedder.passage_tokenizer_json()
    if tokenizer_json is None:
        raise SystemExit("the late variants need a model whose tokenizer gives offsets")
    tokenizer = Tokenizer.from_str(tokenizer_json)
    sentence_terms = {}
    df: Counter = Counter()
    for doc in docs:
        for a, b in sentence_spans(doc.text):
            sentence_terms[doc.text[a:b]] = set(word_tokens(doc.text[a:b]))
            df.update(sentence_terms[doc.text[a:b]])
    n_sentences = len(sentence_terms)
    results = {}
    for lang, items in (("th->th", th_items), ("en->th", en_items)):
        hits = dict.fromkeys(VARIANTS, 0)
        for i in picked:
            item = items[i]
            doc = by_id[item.gold_doc]
            if doc.doc_id not in para_cache:
                spans = sentence_spans(doc.text)
                sents = [doc.text[a:b] for a, b in spans]
                vecs = embedder.embed_passages([*sents, doc.title])
                late = late_sentence_vectors(embedder, tokenizer, doc.text, spans)
                para_cache[doc.doc_id] = (sents, vecs[:-1], vecs[-1], late)
            sents, vecs, title, late = para_cache[doc.doc_id]
            q = embedder.embed_queries([item.question])[0]
            topics = np.repeat(title[None, :], len(sents), axis=0)
            terms = [sentence_terms.get(x) or set(word_tokens(x)) for x in sents]
            overlap = weighted_overlap(item.question, terms, df, n_sentences)
            for name, v in VARIANTS.items():
                best, _ = choose_sentence(
                    item.question, q, sents, late if v.get("late") else vecs,
                    topics if v["residual"] else None,
                    answer_types=v["types"], overlap=overlap if v.get("overlap") else None,
                )  # fmt: skip
                if any(" ".join(a.split()) in " ".join(sents[best].split()) for a in item.answers):
                    hits[name] += 1
        results[lang] = {name: round(h / len(picked), 4) for name, h in hits.items()}
        print(lang, results[lang], flush=True)
    write_result("answer_sentence", {"questions": len(picked), "hit_rate": results})


if __name__ == "__main__":
    main()
