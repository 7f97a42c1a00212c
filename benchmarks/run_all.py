"""`make bench`: run every benchmark; JSON results land in benchmarks/results/.

Benchmarks that need ../shared/data are skipped (with a note) where it is absent.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from common import SHARED

HERE = Path(__file__).resolve().parent
NEEDS_SHARED = {"scale.py prepare", "scale.py run"}
# Timing benchmarks, one at a time (they need a quiet machine); `make eval` is the quality.
ORDER = ["encoder.py", "indexing.py", "bot_latency.py", "scale.py prepare", "scale.py run"]


def main() -> int:
    failed = []
    for name in ORDER:
        if name in NEEDS_SHARED and not (SHARED / "xquad").exists():
            print(f"skipped {name}: {SHARED} is not there")
            continue
        print(f"== {name}", flush=True)
        script, *args = name.split()
        if subprocess.run([sys.executable, str(HERE / script), *args]).returncode != 0:
            failed.append(name)
    summary()
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


def summary() -> None:
    """The headline figures of docs/performance.md, from the JSON just written."""
    import json

    results = HERE / "results"

    def load(name):
        path = results / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    rows = []
    if enc := load("encoder_cpu"):
        for p, v in enc["precisions"].items():
            rows.append((f"encoder {p} (CPU)", f"{v['tokens_per_s']:,} tokens/s"))
    if idx := load("indexing"):
        full = idx["sample_full_build"]
        rows.append(("pipeline / raw encoder", f"{full['pipeline_to_raw']:.3f}"))
        rows.append(("no-change rebuild", f"{idx['no_change_rebuild']['seconds']} s"))
        if add := idx.get("add_one_release"):
            rows.append(("add one release", f"{add['other_seconds']} s + embedding"))
    if bot := load("bot_latency"):
        rows.append(("cold start to ready", f"{bot['startup_to_ready_s']} s"))
    if scale := load("scale"):
        for r in scale["runs"]:
            rows.append((f"{r['size']:,} passages, {r['kind']}",
                         f"p50 {r['passages_p50_ms']} ms, RSS {r['peak_rss_mb']} MB"))  # fmt: skip
    print("\n| benchmark | figure |\n|---|---|")
    for name, figure in rows:
        print(f"| {name} | {figure} |")


if __name__ == "__main__":
    sys.exit(main())
