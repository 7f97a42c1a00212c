"""Chunk size vs retrieval quality on iApp Wiki QA, through `prakat eval iapp`.

python benchmarks/chunk_size.py [--sizes 128,192,256]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, SHARED, write_result

from bot.settings import load_settings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="128,192,256")
    args = ap.parse_args()
    data_dir = load_settings().data_dir  # share the embedding cache
    runs = {}
    for size in args.sizes.split(","):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(f"data_dir: {data_dir}\nchunking:\n  max_tokens: {int(size)}\n")
        cmd = [sys.executable, "-m", "bot.cli", "--config", f.name, "eval", "iapp",
               "--file", str(SHARED / "iapp-wiki-qa" / "valid.jsonl"), "--json"]  # fmt: skip
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
        runs[size] = json.loads(out.strip().splitlines()[-1])
        Path(f.name).unlink()
        print(size, runs[size], flush=True)
    write_result("chunk_size", {"dataset": "iapp-wiki-qa valid", "runs": runs})


if __name__ == "__main__":
    main()
