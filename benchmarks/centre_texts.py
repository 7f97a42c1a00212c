"""Write retrieval/ranking/centres.jsonl: the texts each language's centre is the mean of.

    python benchmarks/centre_texts.py

An English question sits closer to English text than to the same content in Thai:
the model's vectors carry their language. `search.centring` takes each language's
mean direction out of the question and the passages before comparing them
(retrieval/ranking/centres.py). The means come from these texts, embedded once per model:
English release titles asked as questions, and passages of Thai and of English
releases exactly as `prakat index rebuild` embeds them (title header + 128-token
chunk). They are real releases from ../shared/data/thaigov, the 5,000 after the
distractor sample of docs/quality.md (ranks 5,001-10,000 of
benchmarks/thaigov_sample.py), so no evaluation passage or haystack release is among
them. The file is committed: the centres must not change with the corpus a user
happens to have.
"""

from __future__ import annotations

import json
from pathlib import Path

from common import ROOT
from thaigov_sample import sample

QUERIES = 128
PASSAGES = 64  # of each language


def spread(items: list, n: int) -> list:
    return items[:: max(1, len(items) // n)][:n]


def main() -> None:
    from corpus.loader import load_releases
    from retrieval.encoder.embedder import Embedder, EmbedderConfig
    from retrieval.text.chunking import ChunkingConfig, chunk_document, embed_text
    from retrieval.text.normalise import mostly_thai

    haystack = sample(5000, Path("data/eval/thaigov-5000"))
    wider = sample(10000, Path("data/eval/thaigov-10000"))
    taken = {p.name for p in haystack.glob("*.txt")}
    files = sorted(p for p in wider.glob("*.txt") if p.name not in taken)
    docs, _ = load_releases(files)
    ordered = sorted(docs.values(), key=lambda d: d.doc_id)
    english = [d for d in ordered if not mostly_thai(d.text) and not mostly_thai(d.title)]
    thai = [d for d in ordered if mostly_thai(d.text)]

    counter = Embedder(EmbedderConfig(backend="torch", precision="fp32")).load()

    def passages(releases) -> list[str]:
        out = []
        for doc in spread(releases, PASSAGES):  # one passage of each of PASSAGES releases
            chunks = chunk_document(doc, counter.count_tokens, ChunkingConfig())
            if chunks:
                out.append(embed_text(doc, chunks[len(chunks) // 2].text))
        return out

    rows = [{"kind": "query", "lang": "en", "text": d.title} for d in spread(english, QUERIES)]
    rows += [{"kind": "passage", "lang": "th", "text": t} for t in passages(thai)]
    rows += [{"kind": "passage", "lang": "en", "text": t} for t in passages(english)]
    out = ROOT / "retrieval" / "ranking" / "centres.jsonl"
    with out.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    counts: dict[str, int] = {}
    for row in rows:
        counts[f"{row['kind']}/{row['lang']}"] = counts.get(f"{row['kind']}/{row['lang']}", 0) + 1
    print(f"{out}: {counts} from {len(files)} releases, {out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
