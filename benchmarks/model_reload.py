"""Memory of a process that loads the embedding model again and again, letting each go.

    python benchmarks/model_reload.py              # 8 loads
    python benchmarks/model_reload.py --loads 12

What the tests' in-process commands do (each `prakat` command loads the model): the
default `Embedder` is loaded ``--loads`` times in one process, embeds a question,
and is let go; RSS is read after each. The first load freezes what it made
(retrieval/gc_pause.py) and stays; each later one must go when let go, or the
process grows by a model per load. Results: benchmarks/results/model_reload.json.
"""

from __future__ import annotations

import argparse
import time

from common import write_result


def rss_mb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=8)
    args = parser.parse_args()

    from retrieval.encoder.embedder import Embedder, EmbedderConfig

    after, seconds = [], []
    for _ in range(args.loads):
        started = time.perf_counter()
        model = Embedder(EmbedderConfig()).load()
        model.embed_queries(["ใครเป็นประธานการประชุม AMCC ครั้งที่ 6"])
        seconds.append(round(time.perf_counter() - started, 2))
        del model
        after.append(rss_mb())
        print(f"load {len(after)}: {after[-1]} MB", flush=True)
    write_result("model_reload", {
        "loads": args.loads, "rss_after_each_mb": after, "load_seconds": seconds,
        "growth_after_second_mb": after[-1] - after[1] if len(after) > 1 else 0,
    })  # fmt: skip


if __name__ == "__main__":
    main()
