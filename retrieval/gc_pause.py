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
per command, as the tests' in-process CLI does, grew to 20 GB). So a process that
loads a second model stops freezing (``stop_freezing``) and collects before each
later load: what the first load froze stays (one model), the later ones go when let
go; the bot, which loads once, is not affected. (Before, each later load unfroze
everything and collected it all, and one of those collections crashed a test run in
native code, 2026-11-28: now what was frozen is never walked again.)
"""

from __future__ import annotations

import contextlib
import gc
import threading

_lock = threading.Lock()
_depth = 0  # pauses in progress, over all threads
_resume = False  # whether the collector was on when the first pause began
_freezing = True  # whether the last pause's end freezes what exists


def stop_freezing() -> None:
    """From now on a pause's end leaves what it made to the collector: for a process
    that loads models one after another, whose models must go when let go."""
    global _freezing
    with _lock:
        _freezing = False


@contextlib.contextmanager
def paused_gc():
    """While inside (in any thread), the collector does not run. When the last of
    overlapping pauses ends, what exists is frozen and the collector runs again,
    unless it was already off before the first (and, after ``stop_freezing``, nothing
    is frozen)."""
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
                if _freezing:
                    gc.freeze()  # what was loaded stays: no collection walks it again
                if _resume:
                    gc.enable()
