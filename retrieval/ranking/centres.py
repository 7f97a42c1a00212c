"""Each language's centre in the model's space, for comparing an English question
with passages by content rather than by language (``Ranking.centring``).

The model scores a question and a passage 0.07-0.08 higher when they share a
language: over Thai releases, an English question is
drawn to the few English ones, and among Thai passages its cosines say less about
content. Subtracting each language's mean vector before the cosine ("centring",
Libovický et al. 2020, *On the Language Neutrality of Pre-trained Multilingual
Representations*) takes most of that out: the question loses the mean of English
questions, each passage the mean of passages in its script.

The means come from ``centres.jsonl`` (real releases, written by
benchmarks/centre_texts.py), embedded once per model and kept in the embedding cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.encoder.embedder import Embedder
from retrieval.index.embed_cache import EmbeddingCache
from retrieval.text.normalise import normalise_query

log = logging.getLogger(__name__)

CENTRES_FILE = Path(__file__).with_name("centres.jsonl")
PARTS = ("query/en", "passage/th", "passage/en")


@dataclass(frozen=True)
class Centres:
    """Mean vectors: of English questions (query prompt), and of passages by script."""

    question: np.ndarray
    thai_passage: np.ndarray
    latin_passage: np.ndarray

    def passage(self, thai: bool) -> np.ndarray:
        return self.thai_passage if thai else self.latin_passage

    def cosines(self, question: np.ndarray, vectors: np.ndarray, thai: list[bool]) -> np.ndarray:
        """The cosine of each of ``vectors`` (passages, or their sentences), less the
        mean passage of its script (``thai``, one flag each), with ``question``, a centred
        question of unit length."""
        vectors = vectors - np.stack([self.passage(t) for t in thai])
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors @ question


def _texts(path: Path) -> dict[str, list[str]]:
    texts: dict[str, list[str]] = {part: [] for part in PARTS}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        texts[f"{row['kind']}/{row['lang']}"].append(row["text"])
    return texts


def language_centres(
    embedder: Embedder, cache: EmbeddingCache | None = None, path: Path = CENTRES_FILE
) -> Centres:
    """The centres of ``path``'s texts under ``embedder``: from ``cache`` where an
    earlier call kept them, else embedded (320 texts: a few seconds on a CPU, once per
    model) and kept there."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    prompt = embedder.config.query_prompt
    keys = [embedder.embed_key(f"\x00centre\x00{part}\x00{prompt}\x00{digest}") for part in PARTS]
    found = cache.find(keys) if cache is not None else {}
    if all(k in found for k in keys):
        vectors = [found[k] for k in keys]
    else:
        texts = _texts(path)
        if not all(texts.values()):
            raise ValueError(
                f"{path} lacks texts for {', '.join(p for p in PARTS if not texts[p])}"
            )
        embedder.load()
        vectors = [
            embedder.embed_queries([normalise_query(t) for t in texts["query/en"]]).mean(axis=0),
            embedder.embed_passages(texts["passage/th"]).mean(axis=0),
            embedder.embed_passages(texts["passage/en"]).mean(axis=0),
        ]
        if cache is not None:
            try:
                cache.put(keys, np.stack(vectors))
            except sqlite3.Error as exc:  # a read-only or busy cache: embedded next time
                log.warning("could not keep the language centres in the cache: %s", exc)
    return Centres(*(np.asarray(v, dtype=np.float32) for v in vectors))
