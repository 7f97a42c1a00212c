"""Python's cyclic garbage collector paused while the models load.

Loading imports torch, transformers and sentence-transformers and builds pythainlp's
word trie: some 600,000 new objects, few of them garbage. Each counts towards the
next collection, and the collections walk the heap that keeps growing, so start-up
spent about 1 s in some 1,700 of them. Importing sentence-transformers took 2.6-2.7 s
paused against 3.2-3.4 s, building the trie 0.2 s against 0.4-0.6 s.

When the last pause ends, what is in memory is frozen (``gc.freeze``): the loaded
modules and models stay for the life of the process, and otherwise the first
collections after the pause walk all of it once more (0.2-0.5 s each). Anything
made later is collected as usual. Figures: docs/performance.md, Cold start.

A frozen object is never collected, and a model is held in reference cycles: one
let go would stay in memory for good, 300-600 MB each (a process that loads a model
per command, as the tests' in-process CLI does, grew to 20 GB). So loading a model
where one was loaded before first unfreezes everything and collects once
(``collect_frozen``); the bot, which loads once, never pays for that.
"""

from __future__ import annotations

import contextlib
import gc
import threading

_lock = threading.Lock()
_depth = 0  # pauses in progress, over all threads
_resume = False  # whether the collector was on when the first pause began


def collect_frozen() -> None:
    """Unfreeze what the pauses froze and collect it once, so that what has been let go
    since (a model) is freed; what is still in use is frozen again at the next pause's
    end. A full collection over everything (0.3-0.5 s after a model load)."""
    with _lock:
        if gc.get_freeze_count():
            gc.unfreeze()
            gc.collect()


@contextlib.contextmanager
def paused_gc():
    """While inside (in any thread), the collector does not run. When the last of
    overlapping pauses ends, what exists is frozen and the collector runs again,
    unless it was already off before the first."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.freeze()  # what was loaded stays: no collection walks it again
                if _resume:
                    gc.enable()
