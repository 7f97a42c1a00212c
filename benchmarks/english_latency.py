"""What an English question costs: top passages re-scored by sentence, token alignment.

    python benchmarks/english_latency.py            # data/bench (scale.py prepare)
    python benchmarks/english_latency.py --every 10 --rounds 3

English questions over data/bench (5,000 real releases and the sample: about 49k
passages, its flat index; `python benchmarks/scale.py prepare` builds it): every
``--every``-th of XQuAD's English questions, plus those of scale.py's questions in
Latin letters. Each is asked ``--rounds`` times under three settings, in turn:
the config's (``on``: re-scoring and token alignment, `search.sentence_alignment` and
`search.answer_alignment`), re-scoring without token alignment (``rescored``: both
0), and neither (``off``: `search.sentence_passages` 0 too), the searcher's sentence,
token-state and question caches emptied before each search, so every question embeds
its sentences as a new one does; the answer sentence included. Also counted: the
texts embedded per question. Results: benchmarks/results/english_latency.json.
Needs ../shared/data/xquad.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace

from common import SHARED, write_result
from scale import BENCH, open_parts, questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=20, help="every Nth XQuAD question")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    xquad = SHARED / "xquad"
    if not xquad.exists() or not (BENCH / "index.faiss").exists():
        sys.exit("needs ../shared/data/xquad and data/bench (python benchmarks/scale.py prepare)")

    from retrieval.evaluate import load_squad
    from retrieval.index.vector_index import VectorIndex
    from retrieval.ranking.search import Searcher
    from retrieval.text.normalise import mostly_thai

    settings, store, cache, embedder, _ = open_parts()
    index, _ = VectorIndex.load(
        BENCH / "index.faiss", model=embedder.load().signature, config=settings.index
    )
    searcher = Searcher(store, embedder, index, replace(settings.search, min_score=0.0),
                        pinned=True, sentences=cache)  # fmt: skip
    _, english = load_squad(xquad / "xquad.th.json", xquad / "xquad.en.json")
    asked = [q for q in questions(store) if not mostly_thai(q)]
    asked += [item.question for item in english[:: args.every]]

    unaligned = replace(searcher.config, sentence_alignment=0.0, answer_alignment=0.0)
    configs = {
        "on": searcher.config,
        "rescored": unaligned,
        "off": replace(unaligned, sentence_passages=0),
    }
    names = list(configs)
    texts = {name: [] for name in names}

    def counting(real):
        def counted(batch):
            texts[current][-1] += len(batch)
            return real(batch)

        return counted

    for name in ("_passage_vectors", "_passage_states"):  # the latter: with token states
        setattr(searcher, name, counting(getattr(searcher, name)))
    current = "off"
    texts["off"].append(0)
    for q in asked[:5]:  # warm-up: kernels, the centres
        searcher.search(q)
    texts = {name: [] for name in names}
    ms = {name: [] for name in names}
    for rnd in range(args.rounds):
        for i, q in enumerate(asked):
            turn = (i + rnd) % len(names)
            for current in names[turn:] + names[:turn]:
                searcher.config = configs[current]
                searcher._sentence_cache.clear()
                searcher._state_cache.clear()
                searcher._question_states.clear()
                texts[current].append(0)
                t = time.perf_counter()
                searcher.search(q)
                ms[current].append((time.perf_counter() - t) * 1000)
    cache.close()

    def summary(name: str) -> dict:
        xs = sorted(ms[name])
        return {"p50_ms": round(statistics.median(xs), 1),
                "p95_ms": round(xs[int(0.95 * len(xs))], 1),
                "texts_embedded_per_question": round(statistics.mean(texts[name]), 1)}  # fmt: skip

    write_result("english_latency", {
        "passages": len(index), "questions": len(asked), "rounds": args.rounds,
        "sentence_passages": configs["on"].sentence_passages,
        "sentence_alignment": configs["on"].sentence_alignment,
        "answer_alignment": configs["on"].answer_alignment,
        "aligned": summary("on"), "rescored": summary("rescored"),
        "not_rescored": summary("off"),
    })  # fmt: skip


if __name__ == "__main__":
    main()
