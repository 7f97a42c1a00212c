"""config.yaml + environment -> typed settings. The only module that reads either."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from retrieval.encoder.choice import BACKENDS, PRECISIONS
from retrieval.encoder.embedder import EmbedderConfig
from retrieval.index.vector_index import INDEX_TYPES, IndexConfig
from retrieval.ranking.search import SearchConfig
from retrieval.text.chunking import ChunkingConfig

DEFAULT_CONFIG = "config.yaml"


class SettingsError(Exception):
    """The configuration file is missing, malformed or has a bad value."""


@dataclass(frozen=True)
class TelegramSettings:
    token: str = ""
    admins: tuple[int, ...] = ()
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    webhook_url: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: str = ""
    max_upload_bytes: int = 5 * 1024 * 1024
    questions_per_minute: int = 10
    max_question_chars: int = 1000


@dataclass(frozen=True)
class Settings:
    config_path: Path | None
    data_dir: Path
    embedding: EmbedderConfig
    chunking: ChunkingConfig
    search: SearchConfig
    k: int = 5
    index: IndexConfig = field(default_factory=IndexConfig)
    max_file_bytes: int = 10 * 1024 * 1024
    telegram: TelegramSettings = field(default_factory=TelegramSettings)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "corpus.sqlite"

    @property
    def cache_path(self) -> Path:
        return self.data_dir / "embeddings.sqlite"

    @property
    def index_path(self) -> Path:
        return self.data_dir / "index.faiss"


def _section(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name) or {}
    if not isinstance(value, dict):
        raise SettingsError(f"config section `{name}` must be a mapping")
    return value


def _build(cls, values: dict[str, Any], section: str):
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise SettingsError(f"unknown config key `{section}.{unknown[0]}`")
    kwargs = {}
    defaults = cls()
    for key, value in values.items():
        default = getattr(defaults, key)
        try:
            if isinstance(default, bool):
                if not isinstance(value, bool):  # YAML's true / false; bool("no") is True
                    raise TypeError
            elif isinstance(default, int):
                value = int(value)
            elif isinstance(default, float):
                value = float(value)
            elif isinstance(default, tuple):
                value = tuple(int(v) for v in (value or []))
            elif isinstance(default, str):
                value = "" if value is None else str(value)
        except (TypeError, ValueError):
            raise SettingsError(f"config key `{section}.{key}` has a bad value {value!r}") from None
        kwargs[key] = value
    return cls(**kwargs)


def load_settings(path: str | Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read the config file (``--config``, ``$PRAKAT_CONFIG`` or ./config.yaml) and the
    environment."""
    env = dict(os.environ if env is None else env)
    explicit = path or env.get("PRAKAT_CONFIG")
    config_path = Path(explicit or DEFAULT_CONFIG)
    raw: dict[str, Any] = {}
    if config_path.exists():
        try:
            raw = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{config_path} is not valid YAML: {exc}") from None
        if not isinstance(raw, dict):
            raise SettingsError(f"{config_path} must be a mapping of settings")
    elif explicit:
        raise SettingsError(f"config file {config_path} does not exist")
    base = config_path.parent if config_path.exists() else Path.cwd()

    known = {"data_dir", "embedding", "chunking", "search", "index", "corpus", "telegram"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SettingsError(f"unknown config key `{unknown[0]}`")

    data_dir = Path(os.path.expanduser(env.get("PRAKAT_DATA_DIR") or raw.get("data_dir") or "data"))
    if not data_dir.is_absolute():
        data_dir = (base if "PRAKAT_DATA_DIR" not in env else Path.cwd()) / data_dir

    embedding = _build(EmbedderConfig, _section(raw, "embedding"), "embedding")
    if env.get("PRAKAT_CACHE_DIR"):
        embedding = replace(embedding, cache_dir=env["PRAKAT_CACHE_DIR"])
    if env.get("PRAKAT_DEVICE"):
        embedding = replace(embedding, device=env["PRAKAT_DEVICE"])
    chunking = _build(ChunkingConfig, _section(raw, "chunking"), "chunking")
    search_raw = dict(_section(raw, "search"))
    k = int(search_raw.pop("k", 5))
    search = _build(SearchConfig, search_raw, "search")
    index = _build(IndexConfig, _section(raw, "index"), "index")
    if index.type not in INDEX_TYPES:
        raise SettingsError(f"index.type must be one of {', '.join(INDEX_TYPES)}")
    corpus_raw = _section(raw, "corpus")
    max_file_bytes = int(corpus_raw.get("max_file_bytes", 10 * 1024 * 1024))

    telegram = _build(TelegramSettings, _section(raw, "telegram"), "telegram")
    overrides: dict[str, Any] = {}
    if env.get("TELEGRAM_BOT_TOKEN"):
        overrides["token"] = env["TELEGRAM_BOT_TOKEN"].strip()
    if env.get("PRAKAT_TELEGRAM_BASE_URL"):
        overrides["base_url"] = env["PRAKAT_TELEGRAM_BASE_URL"]
    if env.get("PRAKAT_TELEGRAM_BASE_FILE_URL"):
        overrides["base_file_url"] = env["PRAKAT_TELEGRAM_BASE_FILE_URL"]
    if env.get("PRAKAT_ADMINS"):
        try:
            overrides["admins"] = tuple(
                int(x) for x in env["PRAKAT_ADMINS"].replace(" ", "").split(",") if x
            )
        except ValueError:
            raise SettingsError("PRAKAT_ADMINS must be comma-separated Telegram user ids") from None
    telegram = replace(telegram, **overrides)

    for key in ("tie_break", "cross_language"):  # cosine bonuses: cosines span ~0.7-0.9
        if not 0 <= getattr(search, key) <= 0.1:
            raise SettingsError(f"search.{key} must be between 0 and 0.1")
    if search.lexical_budget < 0:
        raise SettingsError("search.lexical_budget must be 0 (no budget) or more")
    if search.common_postings < 0:
        raise SettingsError("search.common_postings must be 0 (no cap) or more")
    if search.answer_candidates < 0:
        raise SettingsError("search.answer_candidates must be 0 (all) or more")
    if not 0 <= search.answer_margin <= 1:  # word-overlap scores span 0..0.5
        raise SettingsError("search.answer_margin must be between 0 (off) and 1")
    if not 0 <= search.centring <= 1:  # the share of the English questions' mean taken off
        raise SettingsError("search.centring must be between 0 (off) and 1")
    if search.sentence_passages < 0:
        raise SettingsError("search.sentence_passages must be 0 (off) or more")
    if not 0 <= search.sentence_weight <= 2:  # centred cosines span about -0.3..0.8
        raise SettingsError("search.sentence_weight must be between 0 and 2")
    if not 0 <= search.sentence_margin <= 1:
        raise SettingsError("search.sentence_margin must be between 0 (no margin) and 1")
    for name in ("sentence_alignment", "answer_alignment"):  # alignments span about 0.3..1
        if not 0 <= getattr(search, name) <= 10:
            raise SettingsError(f"search.{name} must be between 0 (off) and 10")
    if search.gram_passages < 0:
        raise SettingsError("search.gram_passages must be 0 (off) or more")
    if not 0 <= search.gram_weight <= 1:  # gram BM25 over the best one's scores 0..1
        raise SettingsError("search.gram_weight must be between 0 (off) and 1")
    if not 0 <= search.answer_grams <= 1:  # as gram_weight, beside overlaps of 0..0.5
        raise SettingsError("search.answer_grams must be between 0 (off) and 1")
    if not 0 <= search.bm25_weight <= 1:  # BM25 over the best match scores 0..1
        raise SettingsError("search.bm25_weight must be between 0 and 1")
    if search.fusion not in ("weighted", "rrf", "dense", "bm25"):
        raise SettingsError("search.fusion must be one of weighted, rrf, dense, bm25")
    if embedding.precision not in PRECISIONS:
        raise SettingsError(f"embedding.precision must be one of {', '.join(PRECISIONS)}")
    if embedding.backend not in BACKENDS:
        raise SettingsError(f"embedding.backend must be one of {', '.join(BACKENDS)}")
    if embedding.precision == "int8" and embedding.backend == "torch":
        raise SettingsError("embedding.precision int8 needs embedding.backend openvino or auto")
    if embedding.device not in ("cpu", "cuda", "auto") and not embedding.device.startswith("cuda:"):
        raise SettingsError("embedding.device must be cpu, cuda, cuda:N or auto")
    if embedding.batch_size < 0:
        raise SettingsError("embedding.batch_size must be 0 (auto) or a number of passages")
    if chunking.workers < 0:
        raise SettingsError("chunking.workers must be 0 (auto) or a number of processes")
    if chunking.max_tokens < 16 or chunking.max_tokens > embedding.max_seq_length - 16:
        raise SettingsError(
            "chunking.max_tokens must be between 16 and embedding.max_seq_length - 16"
        )
    return Settings(
        config_path=config_path if config_path.exists() else None,
        data_dir=data_dir,
        embedding=embedding,
        chunking=chunking,
        search=search,
        k=k,
        index=index,
        max_file_bytes=max_file_bytes,
        telegram=telegram,
    )
