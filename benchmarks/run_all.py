"""`make bench`: run every benchmark; JSON results land in benchmarks/results/.

Benchmarks that need ../shared/data are skipped (with a note) where it is absent.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from common import SHARED

HERE = Path(__file__).resolve().parent
NEEDS_SHARED = {"answer_sentence.py", "fusion_xquad.py", "not_found_threshold.py", "chunk_size.py"}
ORDER = ["sentence_split.py", "answer_sentence.py", "fusion_xquad.py", "chunk_size.py",
         "not_found_threshold.py", "bot_latency.py"]  # fmt: skip


def main() -> int:
    failed = []
    for name in ORDER:
        if name in NEEDS_SHARED and not (SHARED / "xquad").exists():
            print(f"skipped {name}: {SHARED} is not there")
            continue
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, str(HERE / name)]).returncode != 0:
            failed.append(name)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
