"""Following a topic: which releases reach its followers, against releases labelled by
hand as about the topic or not (benchmarks/follow_topics.jsonl: five subjects, each
followed in Thai and in English, over the 2,033 releases of the thaigov-qa dev
haystack; a release nobody judged counts as not about the topic).

Every release of the haystack is taken as just arrived and matched as the bot matches
one (``retrieval.ranking.topics``). Reported: precision, recall and F1 per topic at the
configured threshold and at others, and the threshold chosen with each subject left
out (the calibration's honest figure: the subject it is measured on did not set it).

    python3 ../shared/data/thaigov-qa/haystack.py ../shared/data/thaigov/thaigov-v2.tar.xz \\
        ../shared/data/thaigov-qa/dev-haystack.txt /tmp/thaigov-dev
    PRAKAT_DATA_DIR=/tmp/dev-data prakat corpus add /tmp/thaigov-dev
    PRAKAT_DATA_DIR=/tmp/dev-data python benchmarks/follow_topics.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from common import write_result

LABELS = Path(__file__).with_name("follow_topics.jsonl")
THRESHOLDS = [round(2.0 + 0.1 * i, 1) for i in range(16)]


def prf(chosen: set[str], about: set[str]) -> dict:
    hits = len(chosen & about)
    p = hits / len(chosen) if chosen else 0.0
    r = hits / len(about) if about else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "pushed": len(chosen)}  # fmt: skip


def mean_of(rows: list[dict], key: str) -> float:
    return round(statistics.mean(r[key] for r in rows), 3)


def held_out_choice(topics, grid, measure) -> list[dict]:
    """``measure(value, topic, about)`` at the value chosen on the other subjects."""
    rows = []
    for concept in dict.fromkeys(c for c, _, _ in topics):
        train = [(t, a) for c, t, a in topics if c != concept]
        best = max(grid, key=lambda v: statistics.mean(measure(v, t, a)["f1"] for t, a in train))
        rows += [measure(best, t, a) for c, t, a in topics if c == concept]
    return rows


def compare(matcher, releases, topics, choose) -> dict:
    """The rules the matcher's was chosen over: one cosine threshold for every topic
    (a release's best passage), and a release holding one of the topic's words."""
    from retrieval.ranking.lexical import query_terms
    from retrieval.text.normalise import normalise_query

    names = [t for _, t, _ in topics]
    vectors = dict(zip(names, matcher.embedder.embed_queries(names), strict=True))
    best = {t: {r.doc_id: float((r.vectors @ vectors[t]).max()) for r in releases} for t in names}
    words = {t: set(query_terms(normalise_query(t))) for t in names}

    def cosine(c, t, about):
        return prf({d for d, s in best[t].items() if s >= c}, about)

    def shares_word(_, t, about):
        return prf({r.doc_id for r in releases if words[t] & r.words}, about)

    grid = [round(0.80 + 0.0025 * i, 4) for i in range(48)]
    rules = {"one_cosine_threshold": (grid, cosine), "shares_a_word": ([0], shares_word)}
    return {name: {k: mean_of(choose(topics, g, m), k) for k in ("precision", "recall", "f1")}
            for name, (g, m) in rules.items()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None)
    parser.add_argument("--labels", default=str(LABELS))
    parser.add_argument("--sample", type=int, default=None,
                        help="archive releases the topic's scale is read from")  # fmt: skip
    args = parser.parse_args()

    from bot.runtime import Runtime
    from bot.settings import load_settings
    from retrieval.ranking.topics import TopicMatcher

    settings = load_settings(args.config)
    rt = Runtime(settings)
    index, _ = rt.load_index()
    rt.embedder.load()
    follow = settings.following
    matcher = TopicMatcher(rt.store, rt.embedder, index, threshold=follow.threshold,
                           sample=args.sample or follow.sample)  # fmt: skip
    labels = [json.loads(line) for line in open(args.labels, encoding="utf-8") if line.strip()]
    start = time.perf_counter()
    releases = matcher.indexed(rt.store.doc_ids())
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    topics = [(lab["concept"], topic, set(lab["about"]))
              for lab in labels for topic in lab["topics"]]  # fmt: skip
    scored = matcher.scores([t for _, t, _ in topics], releases)
    score_s = time.perf_counter() - start
    by_topic: dict[str, list[tuple[str, float]]] = {}
    for topic, release, score, _ in scored:
        by_topic.setdefault(topic, []).append((release.doc_id, score))

    def at(threshold: float, topic: str, about: set[str]) -> dict:
        return prf({d for d, s in by_topic.get(topic, []) if s >= threshold}, about)

    sweep = {}
    for th in THRESHOLDS:
        rows = [at(th, topic, about) for _, topic, about in topics]
        sweep[str(th)] = {k: mean_of(rows, k) for k in ("precision", "recall", "f1")}
    held_out = held_out_choice(topics, THRESHOLDS, at)
    baselines = compare(matcher, releases, topics, held_out_choice)
    configured = [{"topic": t, **at(follow.threshold, t, a)} for _, t, a in topics]
    write_result("follow_topics", {
        "releases": len(releases), "topics": len(topics), "threshold": follow.threshold,
        "sample": matcher.sample,
        "configured": {k: mean_of(configured, k) for k in ("precision", "recall", "f1")},
        "per_topic": [{k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}
                      for row in configured],
        "each_subject_left_out": {k: mean_of(held_out, k) for k in ("precision", "recall", "f1")},
        "sweep": sweep,
        "rejected_rules_each_subject_left_out": baselines,
        "seconds": {"read_releases": round(read_s, 1), "score_all_pairs": round(score_s, 1)},
    })  # fmt: skip


if __name__ == "__main__":
    main()
