"""What the answer choice's side, sentence IDF and 3-grams cost per question.

    python benchmarks/answer_latency.py            # data/bench (scale.py prepare)
    python benchmarks/answer_latency.py --rounds 5
    python benchmarks/answer_latency.py --compare words

scale.py's questions (release titles' opening words, Thai and English, and the AMCC
questions) over data/bench (5,000 real releases and the sample: about 49k passages,
its flat index; `python benchmarks/scale.py prepare` builds it), each asked
``--rounds`` times with `search.answer_side`, `search.sentence_idf` and
`search.answer_grams` as the config has them (``on``) and all three off (``off``),
in turn (the order alternating), the searcher's sentence caches emptied before each
search. Timed: `Searcher.answer_sentence` alone, the step they change (the passages
found are the same). Results: benchmarks/results/answer_latency.json.

``--compare words``: the candidate sentences' words read off the sentence splitter's
own newmm tokens (``on``, as prakat does) against cut again by `word_tokens` (``off``,
as before: the splitter's tokens withheld), all settings as the config has them.
Results: benchmarks/results/answer_latency_words.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace

from common import write_result
from scale import BENCH, open_parts, sourced_questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compare", choices=["settings", "words"], default="settings")
    args = parser.parse_args()
    if not (BENCH / "index.faiss").exists():
        sys.exit("needs data/bench (python benchmarks/scale.py prepare)")

    from retrieval.index.vector_index import VectorIndex
    from retrieval.ranking import search as search_module
    from retrieval.ranking.search import Searcher
    from retrieval.text.sentences import whole_sentence_units

    settings, store, cache, embedder, _ = open_parts()
    index, _ = VectorIndex.load(
        BENCH / "index.faiss", model=embedder.signature, config=settings.index
    )
    embedder.load()
    searcher = Searcher(store, embedder, index, replace(settings.search, min_score=0.0),
                        pinned=True, sentences=cache)  # fmt: skip
    took: list[float] = []
    answer = searcher.answer_sentence

    def timed(*args, **kwargs):
        t = time.perf_counter()
        out = answer(*args, **kwargs)
        took.append((time.perf_counter() - t) * 1000)
        return out

    searcher.answer_sentence = timed

    def recut(text: str) -> list:  # the splitter's sentences without its tokens
        return [[(a, b, None) for a, b, _ in group] for group in whole_sentence_units(text)]

    if args.compare == "words":  # name -> (search config, the sentences' splitter)
        versions = {"on": (searcher.config, whole_sentence_units),
                    "off": (searcher.config, recut)}  # fmt: skip
    else:
        off = replace(searcher.config, answer_side=False, sentence_idf=False, answer_grams=0.0)
        versions = {"on": (searcher.config, whole_sentence_units),
                    "off": (off, whole_sentence_units)}  # fmt: skip
    questions = [q for q, _ in sourced_questions(store)]
    searcher.search(questions[0])  # warm-up
    ms: dict[str, list[float]] = {name: [] for name in versions}
    changed = 0
    for r in range(args.rounds):
        for i, q in enumerate(questions):
            names = list(versions) if (i + r) % 2 == 0 else list(versions)[::-1]
            shown = {}
            for name in names:
                searcher.config, search_module.whole_sentence_units = versions[name]
                for c in (searcher._sentence_cache, searcher._state_cache):
                    c.clear()
                took.clear()
                found = searcher.search(q)
                ms[name].append(took[0] if took else 0.0)
                shown[name] = found.sentence.text if found.sentence else None
            changed += r == 0 and shown["on"] != shown["off"]
    cache.close()

    def pct(xs: list[float], p: int) -> float:
        xs = sorted(xs)
        return round(xs[min(len(xs) - 1, int(p / 100 * len(xs)))], 2)

    diffs = [a - b for a, b in zip(ms["on"], ms["off"], strict=True)]
    result = "answer_latency" if args.compare == "settings" else "answer_latency_words"
    write_result(result, {
        "passages": len(index), "questions": len(questions), "rounds": args.rounds,
        **{f"{name}_p50_ms": pct(xs, 50) for name, xs in ms.items()},
        **{f"{name}_p95_ms": pct(xs, 95) for name, xs in ms.items()},
        "paired_difference_median_ms": round(statistics.median(diffs), 2),
        "answers_changed": changed,
    })  # fmt: skip


if __name__ == "__main__":
    main()
