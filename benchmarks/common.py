"""Helpers shared by the benchmarks: machine facts, JSON results, data locations."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
SHARED = Path(os.environ.get("PRAKAT_SHARED", ROOT.parent / "shared")) / "data"
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def machine() -> dict:
    """The machine a figure was measured on: the CPU with the flags the encoder's choice
    reads (retrieval/encoder/cpu.py), and any ISA cap set for the run."""
    from retrieval.encoder.cpu import this_cpu

    cpu = this_cpu()
    return {"cpu": cpu.model, "cpu_flags": list(cpu.flags), "isa_limit": cpu.isa_limit,
            "cores": os.cpu_count(), "python": platform.python_version()}  # fmt: skip


def write_result(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "machine": machine(), **payload}  # fmt: skip
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(payload, ensure_ascii=False, indent=2))
    return path


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def xquad_corpus(settings, limit: int = 0):
    """XQuAD-th's 240 Thai paragraphs indexed by the product's own pipeline in a
    throwaway corpus (sharing the embedding cache of ``settings``), with its Thai and
    English questions (the first ``limit`` of each, or all): (corpus, paragraphs, th, en)."""
    from retrieval.encoder.embedder import Embedder
    from retrieval.evaluate import EvalCorpus, load_squad

    xquad = SHARED / "xquad"
    docs, th_items = load_squad(xquad / "xquad.th.json")
    _, en_items = load_squad(xquad / "xquad.th.json", xquad / "xquad.en.json")
    if limit:
        th_items, en_items = th_items[:limit], en_items[:limit]
    embedder = Embedder(settings.embedding).load()
    os.makedirs(settings.data_dir, exist_ok=True)
    corpus = EvalCorpus(embedder, settings.cache_path, settings.chunking)
    corpus.add(docs)
    return corpus, len(docs), th_items, en_items


def sample_release_passages() -> tuple[list, list[str]]:
    """The bundled sample's releases (by id) and all their passages exactly as `prakat
    index rebuild` embeds them (title header + 128-token chunk), in that order."""
    from corpus.loader import load_releases
    from retrieval.encoder.embedder import Embedder, EmbedderConfig
    from retrieval.index.indexer import embed_text
    from retrieval.text.chunking import ChunkingConfig, chunk_document

    counter = Embedder(EmbedderConfig(backend="torch", precision="fp32")).load()
    docs, _ = load_releases([ROOT / "corpus" / "sample"])
    ordered = sorted(docs.values(), key=lambda d: d.doc_id)
    passages: list[str] = []
    for doc in ordered:
        for chunk in chunk_document(doc, counter.count_tokens, ChunkingConfig()):
            passages.append(embed_text(doc, chunk.text))
    return ordered, passages
