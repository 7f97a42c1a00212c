"""The cost of a news question by language: each question of the thaigov-qa set asked
over its haystack (after its conversation, on its day), p50 / p95 per language.

Build the haystack's index first, with its own data dir:

    python3 ../shared/data/thaigov-qa/haystack.py ../shared/data/thaigov/thaigov-v2.tar.xz \\
        ../shared/data/thaigov-qa/dev-haystack.txt /tmp/thaigov-dev
    PRAKAT_DATA_DIR=/tmp/dev-data prakat corpus add /tmp/thaigov-dev
    PRAKAT_DATA_DIR=/tmp/dev-data python benchmarks/news_latency.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import SHARED, write_result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", default=str(SHARED / "thaigov-qa" / "dev.jsonl"))
    parser.add_argument("--config", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from bot.runtime import Runtime
    from bot.settings import load_settings
    from retrieval.evaluate_thaigov import load_thaigov
    from retrieval.question.query import parse_question

    rt = Runtime(load_settings(args.config))
    searcher = rt.searcher
    items = load_thaigov(args.questions)
    searcher.search("warm up", 5)
    times: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for item in items:
            previous = None
            for earlier in item.context:
                previous = parse_question(earlier, item.asked_on, previous)
            query = parse_question(item.question, item.asked_on, previous)
            start = time.perf_counter()
            searcher.search(query, 5)
            times.setdefault(item.lang, []).append((time.perf_counter() - start) * 1000)
    per_language = {
        lang: {"questions": len(ms) // args.rounds, "p50_ms": round(statistics.median(ms), 1),
               "p95_ms": round(statistics.quantiles(ms, n=20)[18], 1)}
        for lang, ms in sorted(times.items())
    }  # fmt: skip
    ratio = per_language["en"]["p50_ms"] / per_language["th"]["p50_ms"]
    write_result("news_latency", {"passages": len(searcher.index), "rounds": args.rounds,
                                  "per_language": per_language,
                                  "en_over_th_p50": round(ratio, 2)})  # fmt: skip
    rt.close()


if __name__ == "__main__":
    main()
