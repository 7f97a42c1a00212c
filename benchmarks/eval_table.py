"""`make eval`: every retrieval-quality run of docs/quality.md, through `prakat eval`.

    python benchmarks/eval_table.py            # all runs
    python benchmarks/eval_table.py --only xquad-en-th

Each run is one `prakat eval` command (printed, and kept in the JSON), so any row
can be rerun by hand; `--only thaigov-qa` runs the questions about real releases
alone. Baselines use the same pipeline with `ranking.fusion` set to
dense, bm25 or rrf. Distractor runs add 5,000 real releases from ../shared/data
(benchmarks/thaigov_sample.py) to the index. Embeddings are cached in data/, so a
second run embeds only the questions. Results: benchmarks/results/eval.json, and
the markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, SHARED, write_result
from thaigov_sample import sample

PRAKAT = str(Path(sys.executable).parent / "prakat")
EVAL_DIR = ROOT / "data" / "eval"
XQ = SHARED / "xquad"
SETS = {
    "xquad-en-th": ["squad", "--contexts", str(XQ / "xquad.th.json"),
                    "--questions", str(XQ / "xquad.en.json")],
    "xquad-th-th": ["squad", "--contexts", str(XQ / "xquad.th.json")],
    "iapp-th-th": ["iapp", "--file", str(SHARED / "iapp-wiki-qa" / "valid.jsonl")],
}  # fmt: skip
QA = SHARED / "thaigov-qa"
NEWS = "thaigov-qa"  # questions about real releases, by kind and language
FUSIONS = ["dense", "bm25", "rrf", "weighted"]
DISTRACTORS = 5000


def config_for(fusion: str) -> Path:
    """A config sharing data/ (and so the embedding cache) with only the fusion changed."""
    EVAL_DIR.mkdir(parents=True, exist_ok=True)
    path = EVAL_DIR / f"config-{fusion}.yaml"
    path.write_text(f"data_dir: ..\nranking:\n  fusion: {fusion}\n", encoding="utf-8")
    return path


def runs(only: str | None, fusions: list[str] | None = None) -> list[dict]:
    out = []
    for name, args in SETS.items():
        for fusion in FUSIONS:
            out.append({"set": name, "fusion": fusion, "distractors": 0, "args": args})
        out.append({"set": name, "fusion": "weighted", "distractors": DISTRACTORS, "args": args})
    keep = [r for r in out if not only or r["set"] == only]
    return [r for r in keep if not fusions or r["fusion"] in fusions]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=[*SETS, NEWS])
    parser.add_argument("--fusions", help="only these fusions, e.g. weighted (default: all)")
    args = parser.parse_args()
    if not XQ.exists():
        sys.exit(f"{SHARED} is not there: `make eval` needs ../shared/data")
    news = news_run() if args.only in (None, NEWS) and not args.fusions else None
    if args.only == NEWS:
        write_result("eval_thaigov-qa", {"thaigov_qa": news})
        return
    haystack = sample(DISTRACTORS, EVAL_DIR / f"thaigov-{DISTRACTORS}")
    rows = []
    for run in runs(args.only, args.fusions.split(",") if args.fusions else None):
        cmd = [PRAKAT, "--config", str(config_for(run["fusion"])), "eval", *run["args"], "--json"]
        if run["distractors"]:
            cmd += ["--distractors", str(haystack)]
        shown = " ".join(Path(c).name if c == PRAKAT else c for c in cmd)
        print(f"$ {shown}", flush=True)
        started = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"failed: {done.stderr.strip().splitlines()[-1:]}")
        metrics = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append({k: v for k, v in run.items() if k != "args"} | {"command": shown,
                    "seconds": round(time.perf_counter() - started, 1), **metrics})  # fmt: skip
        print(json.dumps(rows[-1]["seconds"]), metrics, flush=True)
    parts = [p for p in (args.only, args.fusions and args.fusions.replace(",", "-")) if p]
    payload = {"runs": rows} | ({"thaigov_qa": news} if news else {})
    write_result("_".join(["eval", *parts]), payload)  # a subset keeps eval.json
    print("\n| set | fusion | distractors | R@1 | R@5 | R@10 | MRR@10 | answer hit |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [r[k] for k in ("set", "fusion", "distractors", "recall@1", "recall@5",
                                "recall@10", "mrr@10", "answer_hit")]  # fmt: skip
        print("| " + " | ".join(str(c) for c in cells) + " |")


def news_run() -> dict:
    """`prakat eval thaigov` on the development set, over the releases of its months."""
    haystack = EVAL_DIR / "thaigov-dev"
    if not haystack.exists():
        subprocess.run([sys.executable, str(QA / "haystack.py"),
                        str(SHARED / "thaigov" / "thaigov-v2.tar.xz"),
                        str(QA / "dev-haystack.txt"), str(haystack)], check=True)  # fmt: skip
    cmd = [PRAKAT, "--config", str(config_for("weighted")), "eval", "thaigov",
           "--questions", str(QA / "dev.jsonl"), "--haystack", str(haystack), "--json"]  # fmt: skip
    shown = " ".join(Path(c).name if c == PRAKAT else c for c in cmd)
    print(f"$ {shown}", flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: {done.stderr.strip().splitlines()[-1:]}")
    table = json.loads(done.stdout.strip().splitlines()[-1])
    print("\n| kind | n | release@1 | release@5 | answer hit | answered | refused |")
    print("|---|---|---|---|---|---|---|")
    for kind, row in table.items():
        cells = [row.get(k, "") for k in ("n", "release@1", "release@5", "answer_hit",
                                          "answered", "refused")]  # fmt: skip
        print(f"| {kind} | " + " | ".join(str(c) for c in cells) + " |")
    return {"command": shown, "table": table}


if __name__ == "__main__":
    main()
