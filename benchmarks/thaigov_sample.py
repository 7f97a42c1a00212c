"""Unpack a reproducible sample of real releases from ../shared/data/thaigov.

    python benchmarks/thaigov_sample.py --count 5000 --out data/eval/thaigov-5000

The sample is every release whose path hashes lowest (sha256 of the member name),
so the same count always gives the same files, and a larger count contains a
smaller one. Already unpacked: nothing is done.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tarfile
from pathlib import Path

from common import SHARED

ARCHIVE = SHARED / "thaigov" / "thaigov-v2.tar.xz"


def sample(count: int, out: Path, archive: Path = ARCHIVE) -> Path:
    done = out / ".complete"
    if done.exists() and int(done.read_text() or 0) == count:
        return out
    if not archive.exists():
        sys.exit(f"{archive} is not there (see ../shared/data/README.md)")
    with tarfile.open(archive, "r:xz") as tar:
        names = [m.name for m in tar.getmembers() if m.isfile() and m.name.endswith(".txt")]
    rank = sorted(names, key=lambda n: hashlib.sha256(n.encode()).hexdigest())
    chosen = set(rank[:count])
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:xz") as tar:
        for member in tar:
            if member.name in chosen:
                data = tar.extractfile(member).read()
                # one flat folder; the member path (date/category/uuid) keeps names unique
                (out / member.name.replace("/", "_")).write_bytes(data)
    done.write_text(str(count))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path("data/eval") / f"thaigov-{args.count}"
    print(sample(args.count, out))


if __name__ == "__main__":
    main()
