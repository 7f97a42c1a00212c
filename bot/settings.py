"""config.yaml + environment -> typed settings. The only module that reads either."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from corpus.fetch import FetchConfig
from retrieval.encoder.choice import BACKENDS, PRECISIONS
from retrieval.encoder.embedder import EmbedderConfig
from retrieval.generation.client import LLMConfig
from retrieval.index.vector_index import INDEX_TYPES, IndexConfig
from retrieval.ranking.constants import FUSIONS, LIMITS, Ranking
from retrieval.ranking.topics import SAMPLE, THRESHOLD
from retrieval.text.chunking import ChunkingConfig

DEFAULT_CONFIG = "config.yaml"
log = logging.getLogger(__name__)
# search keys a user sets; the ranking's other constants are `ranking:` (experiments)
SEARCH_KEYS = ("k", "min_score")
REMOVED = {"tie_break": "it was off by default"}


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
class FollowingSettings:
    threshold: float = THRESHOLD  # standard deviations (retrieval/ranking/topics.py)
    sample: int = SAMPLE  # archive releases a topic's scale is read from
    max_topics: int = 10  # per user
    digest_after: int = 3  # more matches at once than this: one digest message
    check_seconds: int = 60  # how often the bot looks for releases to announce


@dataclass(frozen=True)
class Settings:
    config_path: Path | None
    data_dir: Path
    embedding: EmbedderConfig
    chunking: ChunkingConfig
    ranking: Ranking
    k: int = 5
    index: IndexConfig = field(default_factory=IndexConfig)
    max_file_bytes: int = 10 * 1024 * 1024
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    following: FollowingSettings = field(default_factory=FollowingSettings)
    llm: LLMConfig = field(default_factory=LLMConfig)

    @property
    def follows_path(self) -> Path:
        return self.data_dir / "follows.sqlite"

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
                kind = type(default[0]) if default else int  # admins: ids; hosts: names
                value = tuple(kind(v) for v in (value or []))
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

    known = {"data_dir", "embedding", "chunking", "search", "ranking", "index", "corpus",
             "telegram", "fetch", "following", "llm"}  # fmt: skip
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
    k, ranking = _ranking(_section(raw, "search"), _section(raw, "ranking"))
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
    fetch = _build(FetchConfig, _section(raw, "fetch"), "fetch")
    if fetch.pages_per_second < 0 or fetch.timeout_s <= 0 or fetch.max_bytes < 1:
        raise SettingsError("fetch.pages_per_second, timeout_s and max_bytes must be positive")
    if fetch.retries < 0 or fetch.every_minutes < 0:
        raise SettingsError("fetch.retries and fetch.every_minutes must be 0 or more")
    if fetch.misses_to_stop < 1 or fetch.batch < 1:
        raise SettingsError("fetch.misses_to_stop and fetch.batch must be 1 or more")
    if "{id}" not in fetch.release_url:
        raise SettingsError("fetch.release_url must hold {id}, where the news id goes")
    following = _build(FollowingSettings, _section(raw, "following"), "following")
    if min(following.sample, following.max_topics, following.check_seconds) < 1:
        raise SettingsError("following.sample, max_topics and check_seconds must be 1 or more")
    if following.digest_after < 1:
        raise SettingsError("following.digest_after must be 1 or more")
    llm = _build(LLMConfig, _section(raw, "llm"), "llm")
    if llm.enabled and not re.match(r"https?://", llm.base_url):
        raise SettingsError("llm.base_url must be an http(s) address")
    if llm.timeout_s <= 0 or llm.max_passages < 1 or llm.max_tokens < 1:
        raise SettingsError("llm.timeout_s, max_passages and max_tokens must be positive")

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
        ranking=ranking,
        k=k,
        index=index,
        max_file_bytes=max_file_bytes,
        telegram=telegram,
        fetch=fetch,
        following=following,
        llm=llm,
    )


def _ranking(search: dict[str, Any], experiment: dict[str, Any]) -> tuple[int, Ranking]:
    """``search.k`` and the ranking: ``search.min_score`` with the `ranking:` section's
    overrides. Constants an older config set under `search:` are read as `ranking:`
    ones, with a line saying so."""
    search = dict(search)
    k = _build(_K, {"k": search.pop("k")}, "search").k if "k" in search else 5
    values = dict(experiment)
    for key in list(search):
        if key in REMOVED:
            log.warning("config: search.%s was removed (%s); ignored", key, REMOVED[key])
            search.pop(key)
        elif key not in SEARCH_KEYS and key in {f.name for f in fields(Ranking)}:
            log.warning("config: search.%s is now ranking.%s, a setting for experiments "
                        "(docs/design.md); read from search: for now", key, key)  # fmt: skip
            values.setdefault(key, search.pop(key))
    values.update(search)  # min_score, and unknown keys for _build to name
    ranking = _build(Ranking, values, "ranking" if set(values) - set(search) else "search")
    for key, limits in LIMITS.items():
        value = getattr(ranking, key)
        section = "search" if key in SEARCH_KEYS else "ranking"
        if limits is None and value < 0:
            raise SettingsError(f"{section}.{key} must be 0 or more")
        if limits is not None and not limits[0] <= value <= limits[1]:
            raise SettingsError(f"{section}.{key} must be between {limits[0]} and {limits[1]}")
    if ranking.fusion not in FUSIONS:
        raise SettingsError(f"ranking.fusion must be one of {', '.join(FUSIONS)}")
    if k < 1:
        raise SettingsError("search.k must be 1 or more")
    return k, ranking


@dataclass(frozen=True)
class _K:
    k: int = 5
