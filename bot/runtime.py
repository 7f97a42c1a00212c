"""Wire the core objects together from settings (used by the CLI and the bot)."""

from __future__ import annotations

from functools import cached_property

from bot.settings import Settings
from corpus.store import Store
from retrieval.encoder.embedder import Embedder
from retrieval.generation.client import Generator
from retrieval.index.embed_cache import EmbeddingCache
from retrieval.index.indexer import Indexer
from retrieval.index.vector_index import VectorIndex
from retrieval.ranking.search import Searcher


class Runtime:
    """Opens what a command needs, lazily: `prakat corpus list` never loads the model."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def store(self) -> Store:
        return Store(self.settings.db_path)

    @cached_property
    def cache(self) -> EmbeddingCache:
        return EmbeddingCache(self.settings.cache_path)

    @cached_property
    def embedder(self) -> Embedder:
        return Embedder(self.settings.embedding)

    @cached_property
    def indexer(self) -> Indexer:
        s = self.settings
        return Indexer(self.store, self.cache, self.embedder, s.index_path, s.chunking, s.index)

    def load_index(self) -> tuple[VectorIndex, dict]:
        """The index on disk, after finishing what a crashed writer left (if anything)."""
        self.indexer.recover()
        return VectorIndex.load(
            self.settings.index_path, model=self.embedder.signature, config=self.settings.index
        )

    @cached_property
    def read_store(self) -> Store:
        """A second connection for a long-lived searcher, pinned to its index's snapshot
        while writes go through ``store``."""
        return Store(self.settings.db_path)

    @cached_property
    def searcher(self) -> Searcher:
        index, _ = self.load_index()
        self.embedder.load()
        return Searcher(
            self.store, self.embedder, index, self.settings.ranking, sentences=self.cache
        )

    @cached_property
    def generator(self) -> Generator | None:
        """Generated answers, where ``llm.base_url`` is set; else None."""
        llm = self.settings.llm
        return Generator(llm) if llm.enabled else None

    def close(self) -> None:
        for name in ("store", "read_store", "cache", "generator"):
            if self.__dict__.get(name) is not None:
                self.__dict__[name].close()
