"""Texts the search embeds at question time, kept for the next questions: the question
(its vector, and for one in Latin letters its token states), the sentences it
re-scores and chooses among, and the language centres."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from retrieval.encoder.embedder import Embedder
from retrieval.encoder.states import TokenStates
from retrieval.index.embed_cache import EmbeddingCache
from retrieval.ranking.align import token_weights
from retrieval.ranking.centres import Centres, language_centres
from retrieval.text.normalise import is_thai

Asked = tuple[np.ndarray, TokenStates, np.ndarray]  # vector, token states, their weights


class Embedded:
    """The model's side of a search; safe to call from several threads."""

    def __init__(self, embedder: Embedder, cache: EmbeddingCache | None) -> None:
        self.embedder = embedder
        self.cache = cache  # where the language centres are kept
        self.sentence_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        # token states of sentences and questions, for fewer texts than vectors: a
        # sentence's are ~30 x 384 floats (~45 KB)
        self.state_cache: OrderedDict[str, tuple[np.ndarray, TokenStates]] = OrderedDict()
        self.question_states: OrderedDict[str, Asked | None] = OrderedDict()
        self._centres: Centres | None = None
        self._lock = threading.Lock()

    def centres(self) -> Centres:
        """The language centres (``language_centres``: computed once per model, then read
        from the cache); two first questions at once may both compute them: the same."""
        if self._centres is None:
            self._centres = language_centres(self.embedder, self.cache)
        return self._centres

    def question_vector(self, query: str, aligned: bool) -> np.ndarray:
        """The question's vector; for a question token alignment may read (``aligned``,
        no Thai letters), ``question``'s, which made its token states in the same pass."""
        if aligned and not is_thai(query):
            asked = self.question(query)
            if asked is not None:
                return asked[0]
        return self.embedder.embed_queries([query])[0]

    def question(self, query: str) -> Asked | None:
        """The question's vector, token states and their weights (``ranking.align``),
        from one forward pass, or None where the model gives no token offsets. Asked
        only for a question with no Thai letters: one in Thai words and English names
        shares the passages' words, which BM25 and the word overlap already read."""

        def make(queries: list[str]) -> list:
            made = self.embedder.query_states(queries)
            if made is None:
                return [None] * len(queries)
            return [(v, st, token_weights(st.tokens)) for v, st in zip(*made, strict=True)]

        return self.kept(self.question_states, 256, [query], make)[0]

    def passage_states(self, sentences: list[str]) -> tuple[np.ndarray, list[TokenStates]]:
        """``passage_vectors`` of ``sentences`` and their token states, from one forward
        pass for those not at hand (kept for the last 250 texts, ~11 MB)."""

        def make(todo: list[str]) -> list:
            made = self.embedder.passage_states(todo)
            if made is None:  # not reached: question() gives None first
                raise ValueError("this model gives no token states")
            pairs = dict(zip(todo, zip(*made, strict=True), strict=True))
            # the vectors serve passage_vectors too (where it lacks them)
            self.kept(self.sentence_cache, 20000, todo, lambda lack: [pairs[s][0] for s in lack])
            return [pairs[s] for s in todo]

        pairs = self.kept(self.state_cache, 250, sentences, make)
        return np.stack([v for v, _ in pairs]), [st for _, st in pairs]

    def passage_vectors(self, sentences: list[str]) -> np.ndarray:
        return np.stack(
            self.kept(self.sentence_cache, 20000, sentences, self.embedder.embed_passages)
        )

    def kept(self, cache: OrderedDict, limit: int, keys: list, make) -> list:
        """The values of ``keys``: from ``cache`` (the most recently used ``limit``), and
        ``make(missing keys)`` (a value each) for the others, which it then keeps."""
        with self._lock:
            found = {}
            for key in dict.fromkeys(keys):
                if key in cache:
                    cache.move_to_end(key)
                    found[key] = cache[key]
        todo = [key for key in dict.fromkeys(keys) if key not in found]
        if todo:
            made = dict(zip(todo, make(todo), strict=True))
            with self._lock:
                cache.update(made)
                while len(cache) > limit:
                    cache.popitem(last=False)
            found.update(made)
        return [found[key] for key in keys]
