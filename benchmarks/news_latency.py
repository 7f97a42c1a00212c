"""The cost of a news question by language: each question of the thaigov-qa set asked
over its haystack (after its conversation, on its day), p50 / p95 per language.

Build the haystack's index first, with its own data dir:

    python3 ../shared/data/thaigov-qa/haystack.py ../shared/data/thaigov/thaigov-v2.tar.xz \\
        ../shared/data/thaigov-qa/dev-haystack.txt /tmp/thaigov-dev
    PRAKAT_DATA_DIR=/tmp/dev-data prakat corpus add /tmp/thaigov-dev
    PRAKAT_DATA_DIR=/tmp/dev-data python benchmarks/news_latency.py [--rounds 3]

To compare with another commit (its searcher reads the questions' plain text), run
each in turn, alternating, on the same machine:

    git worktree add /tmp/before COMMIT
    python benchmarks/news_latency.py --plain --code /tmp/before --name news_latency_before
    python benchmarks/news_latency.py --plain --name news_latency_after
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

from common import SHARED, write_result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", default=str(SHARED / "thaigov-qa" / "dev.jsonl"))
    parser.add_argument("--config", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--plain", action="store_true",
                        help="ask each question's text alone: no conversation, no day")  # fmt: skip
    parser.add_argument("--code", help="import prakat from this checkout instead")
    parser.add_argument("--name", default="news_latency")
    args = parser.parse_args()
    if args.code:
        sys.path.insert(0, str(Path(args.code).resolve()))

    from bot.runtime import Runtime
    from bot.settings import load_settings

    rt = Runtime(load_settings(args.config))
    searcher = rt.searcher
    rows = [json.loads(line) for line in open(args.questions, encoding="utf-8") if line.strip()]
    asked = [(row["lang"], row["q"] if args.plain else query(row)) for row in rows]
    searcher.search("warm up", 5)
    times: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        # each round asks as if for the first time: what the search embedded for the
        # round before (sentences, token states) would otherwise answer from memory
        for kept in ("sentence_cache", "state_cache", "question_states"):
            getattr(searcher.embedded, kept, {}).clear()
        for lang, question in asked:
            start = time.perf_counter()
            searcher.search(question, 5)
            times.setdefault(lang, []).append((time.perf_counter() - start) * 1000)
    per_language = {
        lang: {"questions": len(ms) // args.rounds, "p50_ms": round(statistics.median(ms), 1),
               "p95_ms": round(statistics.quantiles(ms, n=20)[18], 1)}
        for lang, ms in sorted(times.items())
    }  # fmt: skip
    ratio = per_language["en"]["p50_ms"] / per_language["th"]["p50_ms"]
    write_result(args.name, {"passages": len(searcher.index), "rounds": args.rounds,
                             "plain": args.plain, "code": args.code or ".",
                             "per_language": per_language,
                             "en_over_th_p50": round(ratio, 2)})  # fmt: skip
    rt.close()


def query(row: dict):
    """The question as the user's path reads it: after its conversation, on its day."""
    from retrieval.question.query import parse_turns

    turns = [*(row.get("context") or ()), row["q"]]
    return parse_turns(turns, dt.date.fromisoformat(row["asked_on"]))


if __name__ == "__main__":
    main()
