"""Importing sentence-transformers without the modules it imports for functions prakat
never calls (the bot's start waits for the import)."""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
import types
from collections.abc import Callable

# Modules sentence-transformers imports at import time for functions prakat never
# calls: scikit-learn's metrics (for sparse Manhattan similarity) cost ~0.8 s of the
# ~4.4 s import, and so of the bot's start; SciPy's optimize, which transformers'
# object-detection losses import for one assignment solver, ~0.3 s more
# (docs/performance.md, Cold start).
DEFERRED_IMPORTS = {
    "sklearn.metrics": ("pairwise_distances",),
    "scipy.optimize": ("linear_sum_assignment",),
}


class _StandIn(types.ModuleType):
    """Stands in for a module until it is needed: any attribute other than the listed
    functions imports the real module (which then replaces this in ``sys.modules``).
    Dunder names do not: ``inspect`` asks every module in ``sys.modules`` for
    ``__file__``."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_real_module(self.__name__), name)


def _real_module(module: str):
    if isinstance(sys.modules.get(module), _StandIn):
        sys.modules.pop(module, None)
    return importlib.import_module(module)


def _deferred_function(module: str, name: str) -> Callable:
    def call(*args, **kwargs):
        return getattr(_real_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"{module}.{name}, imported at its first call."
    return call


@contextlib.contextmanager
def deferred_imports(modules: dict[str, tuple[str, ...]] = DEFERRED_IMPORTS):
    """While inside, ``from M import f`` of each listed module gets a function that
    imports ``M`` at its first call. Only modules not yet imported are stood in for,
    and the stand-ins leave ``sys.modules`` on exit, so any later import is the real
    module."""
    standins = {}
    for module, names in modules.items():
        if module in sys.modules:
            continue
        standin = _StandIn(module, "prakat's stand-in until first use")
        for name in names:
            setattr(standin, name, _deferred_function(module, name))
        standins[module] = sys.modules[module] = standin
    try:
        yield
    finally:
        for module, standin in standins.items():
            if sys.modules.get(module) is standin:
                del sys.modules[module]


_importing = threading.Lock()


def import_sentence_transformer():
    """``sentence_transformers.SentenceTransformer``, imported without what it never
    needs here (``DEFERRED_IMPORTS``); one thread at a time puts the stand-ins up."""
    with _importing, deferred_imports():
        from sentence_transformers import SentenceTransformer
    return SentenceTransformer
