"""What every command shares: one-sentence errors, progress bars, the runtime."""

from __future__ import annotations

import functools
import sys
from dataclasses import replace

import click

from bot.settings import SettingsError, load_settings


def _expected_errors() -> tuple[type[BaseException], ...]:
    # Imported lazily so `prakat --help` stays instant.
    from corpus.models import CorpusError
    from retrieval.encoder.embedder import ModelNotAvailable
    from retrieval.encoder.model_install import ModelInstallError
    from retrieval.errors import RetrievalError
    from retrieval.evaluate import EvalDataError
    from retrieval.question.dates import DateError

    return (
        DateError,
        CorpusError,
        RetrievalError,
        ModelInstallError,
        ModelNotAvailable,
        SettingsError,
        EvalDataError,
    )


def handle_errors(func):
    """Turn expected failures into one sentence on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except _expected_errors() as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted; finished work is kept and the next run resumes.", err=True)
            sys.exit(130)

    return wrapper


class Progress:
    """tqdm bars per stage on a terminal; silent otherwise."""

    LABELS = {"chunk": "Chunking", "embed": "Embedding", "index": "Indexing", "ask": "Asking"}

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.bars: dict = {}

    def __call__(self, stage: str, advance: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            unit = {"embed": "passage", "chunk": "doc", "ask": "question"}.get(stage, "vector")
            bar = self.bars[stage] = tqdm(
                total=total, desc=self.LABELS.get(stage, stage), unit=unit, leave=False
            )
        if total > bar.total:  # some totals grow as the work is discovered
            bar.total = total
        bar.update(advance)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()


def runtime(ctx: click.Context):
    from bot.runtime import Runtime

    obj = ctx.ensure_object(dict)
    if "runtime" not in obj:
        settings = load_settings(obj.get("config_path"))
        if obj.get("device"):
            embedding = replace(settings.embedding, device=obj["device"])
            settings = replace(settings, embedding=embedding)
        obj["runtime"] = Runtime(settings)
        ctx.call_on_close(obj["runtime"].close)
    return obj["runtime"]


def device_option(func):
    def remember(ctx: click.Context, _param, value):
        if value:
            ctx.ensure_object(dict)["device"] = value
        return value

    return click.option(
        "--device",
        type=click.Choice(["cpu", "cuda", "auto"]),
        callback=remember,
        expose_value=False,
        help="Where to embed (default: config `embedding.device`; auto = cuda if present).",
    )(func)
