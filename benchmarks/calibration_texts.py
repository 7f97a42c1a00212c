"""Write retrieval/encoder/calibration.jsonl: the texts OpenVINO int8 quantisation calibrates on.

    python benchmarks/calibration_texts.py

Real text from the bundled sample corpus, in the shapes the product embeds: passages
exactly as `prakat index rebuild` embeds them (title header + 128-token chunk, spread
over the corpus), release titles as Thai questions, and the English names the
releases quote in parentheses as English questions. No evaluation data (XQuAD, iApp)
is used, so the quality figures of int8 stay honest. The file is committed: the
quantised model must not change with the corpus a user happens to have.
"""

from __future__ import annotations

import json
import re

from common import ROOT, sample_release_passages

PASSAGES = 96
THAI_QUERIES = 48
ENGLISH_QUERIES = 32
ENGLISH = re.compile(r"\(([A-Za-z][A-Za-z0-9 .,:&'-]{15,120})\)")


def main() -> None:
    ordered, passages = sample_release_passages()
    step = len(passages) // PASSAGES
    rows = [{"kind": "passage", "text": t} for t in passages[::step][:PASSAGES]]
    titles = [d.title for d in ordered if d.title]
    rows += [{"kind": "query", "text": t}
             for t in titles[:: max(1, len(titles) // THAI_QUERIES)][:THAI_QUERIES]]  # fmt: skip
    english: list[str] = []
    for doc in ordered:
        for name in ENGLISH.findall(doc.text):
            if name not in english:
                english.append(name.strip())
    step = max(1, len(english) // ENGLISH_QUERIES)
    rows += [{"kind": "query", "text": t} for t in english[::step][:ENGLISH_QUERIES]]
    out = ROOT / "retrieval" / "encoder" / "calibration.jsonl"
    with out.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    kinds = {k: sum(r["kind"] == k for r in rows) for k in ("passage", "query")}
    print(f"{out}: {kinds}, {out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
