"""Compare Thai sentence splitters on real releases: crfcut, crfcut + repair, thaisum.

Counts, per engine: segments cut right after an abbreviation ("H.E." | "Mrs."),
cuts inside a run of Thai letters (no space on either side: mid-phrase), mean
segment length, and time. Reads releases from ../shared/data (unpacked on the fly)
or, without it, the bundled sample corpus.

    python benchmarks/sentence_split.py [--n 300]
"""

from __future__ import annotations

import argparse
import random
import re
import time

from common import ROOT, write_result

from corpus.loader import iter_release_paths, load_path
from retrieval.text.sentences import _ABBREV_END, repair_segments, split_segments


def engines():
    from pythainlp.tokenize import sent_tokenize

    def crfcut_raw(paragraph):
        return sent_tokenize(paragraph, engine="crfcut") if paragraph.strip() else []

    def thaisum(paragraph):
        return sent_tokenize(paragraph, engine="thaisum") if paragraph.strip() else []

    def repaired(paragraph):
        return repair_segments(split_segments(paragraph))

    return {"crfcut": crfcut_raw, "crfcut+repair": repaired, "thaisum": thaisum}


THAI = re.compile(r"[\u0e00-\u0e7f]")


def boundaries(paragraph: str, segs: list[str]) -> list[int]:
    """Positions in ``paragraph`` where one segment ends and the next begins."""
    cuts, cursor = [], 0
    for seg in segs[:-1]:
        at = paragraph.find(seg.strip(), cursor)
        if at < 0:
            continue
        cursor = at + len(seg.strip())
        cuts.append(cursor)
    return cuts


def measure(split, texts):
    n = abbrev = midphrase = chars = 0
    started = time.perf_counter()
    for text in texts:
        for paragraph in text.split("\n"):
            segs = [s for s in split(paragraph) if s.strip()]
            n += len(segs)
            chars += sum(len(s.strip()) for s in segs)
            abbrev += sum(1 for s in segs[:-1] if _ABBREV_END.search(s.strip()))
            for pos in boundaries(paragraph, segs):
                if (
                    0 < pos < len(paragraph)
                    and THAI.match(paragraph[pos - 1])
                    and THAI.match(paragraph[pos])
                ):
                    midphrase += 1
    seconds = time.perf_counter() - started
    return {"segments": n, "cut_after_abbreviation": abbrev, "cut_mid_phrase": midphrase,
            "mean_chars": round(chars / max(n, 1), 1), "seconds": round(seconds, 2)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=300, help="releases to sample")
    args = ap.parse_args()
    paths = list(iter_release_paths([ROOT / "corpus" / "sample"]))
    random.Random(0).shuffle(paths)
    texts = [load_path(p).text for p in paths[: args.n]]
    texts = [t for t in texts if THAI.search(t)]
    results = {name: measure(fn, texts) for name, fn in engines().items()}
    write_result("sentence_split", {"releases": len(texts), "source": "corpus/sample",
                                    "engines": results})  # fmt: skip


if __name__ == "__main__":
    main()
