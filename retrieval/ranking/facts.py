"""What the search reads about passages from the store, remembered while a pinned
snapshot lasts: how many passages hold each word, each passage's script and release."""

from __future__ import annotations

import threading

from corpus.store import Store
from retrieval.ranking.constraints import Release, day
from retrieval.text.normalise import mostly_thai


class PassageFacts:
    """Term counts and scripts of passages. A pinned store (``Store.pin_snapshot``)
    only moves on when the searcher swaps its index, which calls ``forget``."""

    def __init__(self, store: Store, pinned: bool) -> None:
        self.store = store
        self.pinned = pinned
        self._term_counts: dict[str, int] = {}
        self._thai: dict[int, bool] = {}
        self._releases: dict[int, Release] = {}
        self._lock = threading.Lock()

    def forget(self) -> None:
        with self._lock:
            self._term_counts.clear()
            self._thai.clear()
            self._releases.clear()

    def term_counts(self, terms: list[str]) -> dict[str, int]:
        """Passages holding each term. FTS5 counts a term by walking its posting list
        (slow for common words), hence the memo."""
        return self._remembered(self._term_counts, terms, self.store.term_document_counts)

    def scripts(self, chunk_ids: list[int]) -> dict[int, bool]:
        """Whether each passage is mostly Thai (``mostly_thai``)."""

        def fetch(ids: list[int]) -> dict[int, bool]:
            return {c: mostly_thai(t) for c, t in self.store.chunk_texts(ids).items()}

        return self._remembered(self._thai, chunk_ids, fetch, limit=2_000_000)

    def releases(self, chunk_ids: list[int]) -> dict[int, Release]:
        """Each passage's release: its id, date and title."""

        def fetch(ids: list[int]) -> dict[int, Release]:
            rows = self.store.chunk_releases(ids)
            return {c: Release(d, day(date), t) for c, (d, date, t) in rows.items()}

        return self._remembered(self._releases, chunk_ids, fetch, limit=2_000_000)

    def _remembered(self, memo: dict, keys: list, fetch, limit: int = 200_000) -> dict:
        """``fetch(keys)`` -> {key: value}, kept in ``memo`` (at most ``limit``) where
        the store is pinned."""
        if not self.pinned:
            return fetch(keys)
        with self._lock:
            known = {k: memo[k] for k in keys if k in memo}
        todo = [k for k in dict.fromkeys(keys) if k not in known]
        if todo:
            fresh = fetch(todo)
            with self._lock:
                if len(memo) > limit:
                    memo.clear()
                memo.update(fresh)
            known.update(fresh)
        return known
