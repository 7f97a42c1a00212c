"""What the bot's handlers share: the settings, the searcher over the served index
(swapped when the corpus changes), flood control, and the preload at start."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict, defaultdict, deque

from bot.follows import Follows
from bot.runtime import Runtime
from bot.settings import Settings
from retrieval.errors import IndexCorrupt, IndexMismatch, IndexNotBuilt
from retrieval.index.vector_index import VectorIndex
from retrieval.question.conversation import Conversations
from retrieval.ranking.centres import language_centres
from retrieval.ranking.search import Searcher
from retrieval.ranking.topics import TopicMatcher
from retrieval.text.sentences import warm_up

log = logging.getLogger("prakat.bot")


class FloodGate:
    """At most ``per_minute`` questions per user in any sliding minute."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.seen: dict[int, deque[float]] = defaultdict(deque)

    def allow(self, user_id: int) -> bool:
        now = time.monotonic()
        q = self.seen[user_id]
        while q and now - q[0] > 60:
            q.popleft()
        if len(q) >= self.per_minute:
            return False
        q.append(now)
        return True


class Services:
    """What handlers share: the runtime, the current searcher, one writer at a time."""

    def __init__(self, settings: Settings, runtime: Runtime) -> None:
        self.settings = settings
        self.runtime = runtime
        self.searcher = None
        self.write_lock = asyncio.Lock()
        self.flood = FloodGate(settings.telegram.questions_per_minute)
        self.questions: OrderedDict[str, str] = OrderedDict()  # token -> question
        self.conversations = Conversations()  # each chat's last question, for follow-ups
        self.index_problem: str | None = None  # why no usable index is loaded, if so
        self._index_stamp: tuple | None = None  # the index file that is being served
        self._fingerprint: str | None = None  # the corpus state that index was built from
        self._reload_lock = asyncio.Lock()
        self._preloading: list[threading.Thread] = []  # see preload()
        self.follows = Follows(settings.follows_path)
        self.announcing = asyncio.Lock()  # one round of telling followers at a time
        self._matcher: TopicMatcher | None = None

    def topic_matcher(self) -> TopicMatcher:
        """The matcher over the served index (its archive sample read once per index)."""
        searcher = self.searcher
        if self._matcher is None or self._matcher.index is not searcher.index:
            f = self.settings.following
            self._matcher = TopicMatcher(searcher.store, searcher.embedder, searcher.index,
                                         threshold=f.threshold, sample=f.sample)  # fmt: skip
        return self._matcher

    def preload(self) -> None:
        """Load the model (and its language centres, embedded on a model's first
        start) and the Thai word and sentence models in background threads, while the
        bot connects to Telegram and reads its index (start-up time,
        docs/performance.md). A failure here is reported by ``open_searcher``, which
        loads again."""
        embedder = self.runtime.embedder
        cache = self.runtime.cache  # opened here, not raced for by the threads

        def load_model() -> None:
            try:
                embedder.load()
                if self.settings.ranking.centres_used:
                    # embedded once per model (seconds), then read from the cache
                    language_centres(embedder, cache)
            except Exception:  # open_searcher loads again and reports it
                log.debug("background model load failed", exc_info=True)

        for name, target in (("load-model", load_model), ("load-text-models", warm_up)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._preloading.append(thread)

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.settings.telegram.admins

    def remember(self, question: str) -> str:
        token = secrets.token_urlsafe(6)
        self.questions[token] = question
        while len(self.questions) > 5000:
            self.questions.popitem(last=False)
        return token

    def _stamp(self) -> tuple | None:
        try:
            st = os.stat(self.runtime.settings.index_path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def open_searcher(self) -> Searcher:
        """The searcher over the index on disk. A missing, damaged or foreign index is
        rebuilt from cached vectors; if that cannot be done the bot still starts, on an
        empty index, and tells users so (never a crash loop)."""
        rt = self.runtime
        try:
            index = self._load_or_repair()
            self.index_problem = None
        except Exception as exc:  # any failure here must not stop the bot starting
            log.error("no usable index (%s); run `prakat index rebuild`", exc)
            self.index_problem = str(exc)
            index = VectorIndex(rt.embedder.dim, rt.embedder.signature)
        for thread in self._preloading:
            thread.join()
        rt.embedder.load()
        searcher = Searcher(rt.read_store, rt.embedder, index, self.settings.ranking,
                            pinned=True, sentences=rt.cache)  # fmt: skip
        if not self.index_problem:
            self._settle(searcher)
        return searcher

    def _load_or_repair(self) -> VectorIndex:
        rt = self.runtime
        stamp = self._stamp()
        try:
            index, meta = rt.load_index()
        except (IndexCorrupt, IndexMismatch, IndexNotBuilt) as exc:
            log.warning("%s; rebuilding the index from cached vectors", exc)
            rt.indexer.build_index()
            stamp = self._stamp()
            index, meta = rt.load_index()
        self._index_stamp = stamp
        self._fingerprint = meta.get("fingerprint")
        return index

    def _settle(self, searcher: Searcher) -> None:
        """Make sure the pinned snapshot is the one the index was built from: a write
        that commits between loading the file and pinning is caught here, and the
        newer index it renames into place a moment later is loaded instead."""
        for _ in range(50):
            if searcher.store.fingerprint() == self._fingerprint:
                return
            time.sleep(0.1)
            searcher.swap_index(self._load_or_repair())
        log.warning("the index on disk does not match the corpus; run `prakat index check`")

    async def reload_index(self) -> None:
        """Serve from the index on disk from now on (after an add, remove or rebuild)."""
        async with self._reload_lock:
            stamp = self._stamp()
            try:
                index = await asyncio.to_thread(self._load_or_repair)
            except Exception as exc:
                log.error("could not load the new index (%s); still serving the old one", exc)
                self._index_stamp = stamp  # do not retry on every question
                return
            await asyncio.to_thread(self.searcher.swap_index, index)
            await asyncio.to_thread(self._settle, self.searcher)
            self.index_problem = None

    async def refresh_if_changed(self) -> None:
        """Pick up an index another process wrote (prakat corpus add / index rebuild)."""
        if self._stamp() != self._index_stamp and not self._reload_lock.locked():
            await self.reload_index()
