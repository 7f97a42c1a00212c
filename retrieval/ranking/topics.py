"""Which new releases a followed topic is about.

A release is about a topic when it stands out for that topic against the archive: the
mean cosine of its two passages nearest the topic lies ``threshold`` standard
deviations or more above the same score's mean over a fixed sample of the archive's
releases; and, when the release is written in the topic's script, it holds one of the
topic's words. A fixed cosine cannot tell: a one-word topic's cosines sit on another
scale than a phrase's, and a release that only uses the word in passing scores close
to the ones about it. The threshold is calibrated on labelled topics x releases of the
archive (``benchmarks/follow_topics.py``, docs/quality.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from corpus.models import Document
from corpus.store import Store
from retrieval.encoder.embedder import Embedder
from retrieval.index.vector_index import VectorIndex
from retrieval.ranking.lexical import query_terms
from retrieval.text.chunking import ChunkingConfig, chunk_document_words, embed_text
from retrieval.text.normalise import is_thai, normalise_query
from retrieval.text.sentences import sentence_spans
from retrieval.text.words import word_tokens

THRESHOLD = 2.6  # standard deviations (benchmarks/follow_topics.py)
SAMPLE = 2000  # archive releases the topic's scale is read from


@dataclass(frozen=True)
class Passages:
    """A release as the matcher reads it: its passages' texts and vectors, its words."""

    doc_id: str
    title: str
    texts: list[str]
    vectors: np.ndarray  # [passages, dim], unit length
    words: frozenset[str]


@dataclass(frozen=True)
class TopicMatch:
    topic: str
    doc_id: str
    passage: int  # the passage nearest the topic (index into Passages.texts)
    sentence: str  # the sentence of that passage nearest the topic
    score: float  # standard deviations above the archive sample's mean


def release_scores(releases: Sequence[np.ndarray], topics: np.ndarray) -> np.ndarray:
    """[releases, topics]: the mean cosine of each release's two passages nearest each
    topic (its one passage where it has one; every release has one or more): one passage
    alone lets a release that touches the topic once look like one about it."""
    if not releases:
        return np.zeros((0, len(topics)), np.float32)
    sizes = [len(v) for v in releases]
    starts = np.cumsum([0, *sizes[:-1]])
    cos = np.concatenate(releases) @ topics.T
    first = np.maximum.reduceat(cos, starts, axis=0)
    below = np.where(cos < np.repeat(first, sizes, axis=0), cos, -np.inf)
    second = np.maximum.reduceat(below, starts, axis=0)
    return np.where(np.isfinite(second), (first + second) / 2, first)


class TopicMatcher:
    """Matches releases to topics over one index; the archive sample is read once."""

    def __init__(
        self, store: Store, embedder: Embedder, index: VectorIndex,
        *, threshold: float = THRESHOLD, sample: int = SAMPLE,
    ) -> None:  # fmt: skip
        self.store, self.embedder, self.index = store, embedder, index
        self.threshold = threshold
        self.sample = sample
        self._reference: list[np.ndarray] | None = None
        self._topics: dict[str, tuple[np.ndarray, float, float]] = {}  # vector, mean, spread

    def reference(self) -> list[np.ndarray]:
        """The passage vectors of up to ``sample`` archive releases, spread evenly over
        the releases in id order (the same ones each time for the same archive)."""
        if self._reference is None:
            keys = self.store.chunk_docs()
            docs = sorted({d for _, d in keys})
            step = max(1, len(docs) / self.sample) if docs else 1
            chosen = {docs[int(i * step)] for i in range(min(len(docs), self.sample))}
            by_doc: dict[str, list[int]] = {}
            for chunk_id, doc_id in keys:
                if doc_id in chosen:
                    by_doc.setdefault(doc_id, []).append(chunk_id)
            ids = [c for chunks in by_doc.values() for c in chunks]
            held, vectors = self.index.vectors(ids)
            row = {c: i for i, c in enumerate(held)}
            rows = [[row[c] for c in chunks if c in row] for chunks in by_doc.values()]
            self._reference = [vectors[r] for r in rows if r]
        return self._reference

    def indexed(self, doc_ids: Sequence[str]) -> list[Passages]:
        """The releases of ``doc_ids`` the index holds, as their stored vectors."""
        found = []
        for doc_id in doc_ids:
            chunks = self.store.chunks_of(doc_id)
            held, vectors = self.index.vectors([c.chunk.chunk_id for c in chunks])
            if not held:
                continue
            texts = {c.chunk.chunk_id: c.chunk.text for c in chunks}
            title = self.store.get_document(doc_id).title
            found.append(_passages(doc_id, title, [texts[c] for c in held], vectors))
        return found

    def unindexed(self, docs: Sequence[Document], chunking: ChunkingConfig) -> list[Passages]:
        """Releases not added yet (``corpus fetch --dry-run``), chunked and embedded as
        the indexer would."""
        found = []
        for doc in docs:
            chunks, words = chunk_document_words(doc, self.embedder.count_tokens, chunking)
            if not chunks:
                continue
            texts = [c.text for c in chunks]
            vectors = self.embedder.embed_passages([embed_text(doc, t) for t in texts])
            # the chunker's own words of each passage: no second tokenising
            said = [*word_tokens(doc.title), *(w for chunk in words for w in chunk)]
            found.append(_passages(doc.doc_id, doc.title, texts, vectors, said))
        return found

    def scores(
        self, topics: Sequence[str], releases: Sequence[Passages]
    ) -> list[tuple[str, Passages, float, np.ndarray]]:
        """(topic, release, score, the topic's vector) of each pair where the release
        names the topic as the rule asks (any score: the threshold is ``match``'s)."""
        topics = list(dict.fromkeys(t for t in topics if t.strip()))
        releases = [r for r in releases if len(r.vectors)]
        if not topics or not releases:
            return []
        vectors, means, spreads = self._scales(topics)
        scores = (release_scores([r.vectors for r in releases], vectors) - means) / spreads
        found = []
        for j, topic in enumerate(topics):
            terms = set(query_terms(normalise_query(topic)))
            for i, release in enumerate(releases):
                # in the topic's own script, a release about it names it
                if terms and is_thai(release.title) == is_thai(topic) and not terms & release.words:
                    continue
                found.append((topic, release, float(scores[i, j]), vectors[j]))
        return found

    def _scales(self, topics: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each topic's vector and the mean and spread of its score over the archive
        sample, remembered for this index (followed topics recur every round)."""
        new = [t for t in topics if t not in self._topics]
        if new:
            vectors = self.embedder.embed_queries(new)
            sample = release_scores(self.reference(), vectors)
            for j, topic in enumerate(new):
                if len(sample) > 1:
                    scale = (float(sample[:, j].mean()), max(float(sample[:, j].std()), 1e-6))
                else:  # no archive to read a scale from
                    scale = (0.0, 1.0)
                self._topics[topic] = (vectors[j], *scale)
            while len(self._topics) > 100_000:
                self._topics.pop(next(iter(self._topics)))
        known = [self._topics[t] for t in topics]
        return (np.stack([k[0] for k in known]), np.array([k[1] for k in known]),
                np.array([k[2] for k in known]))  # fmt: skip

    def match(self, topics: Sequence[str], releases: Sequence[Passages]) -> list[TopicMatch]:
        """Each (topic, release) where the release is about the topic, best first."""
        matches = []
        for topic, release, score, vector in self.scores(topics, releases):
            if score >= self.threshold:
                best = int(np.argmax(release.vectors @ vector))
                sentence = self._sentence(release.texts[best], vector)
                matches.append(TopicMatch(topic, release.doc_id, best, sentence, score))
        return sorted(matches, key=lambda m: m.score, reverse=True)

    def _sentence(self, text: str, topic: np.ndarray) -> str:
        """The sentence of ``text`` nearest the topic."""
        sentences = [text[a:b].strip() for a, b in sentence_spans(text)]
        sentences = [s for s in sentences if s] or [text.strip()]
        if len(sentences) == 1:
            return sentences[0]
        return sentences[int(np.argmax(self.embedder.embed_passages(sentences) @ topic))]


def _passages(
    doc_id: str, title: str, texts: list[str], vectors: np.ndarray, words: list[str] | None = None
) -> Passages:
    """``words``: the release's words where the chunker gave them, else read here."""
    if words is None:
        words = [w for text in [title, *texts] for w in word_tokens(text)]
    return Passages(doc_id, title, texts, np.asarray(vectors, np.float32), frozenset(words))
