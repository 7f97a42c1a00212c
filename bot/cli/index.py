"""`prakat index`: rebuild, check and show the search index."""

from __future__ import annotations

import json
import sys

import click

from bot.cli.app import cli
from bot.cli.common import Progress, device_option, handle_errors, runtime


@cli.group()
def index() -> None:
    """Build and inspect the search index.

    \b
    Examples:
      prakat index status
      prakat index check --repair
    """


@index.command("rebuild")
@device_option
@click.pass_context
@handle_errors
def index_rebuild(ctx: click.Context) -> None:
    """Re-chunk what changed, embed what is missing, write a fresh index.

    Embeddings are cached: a rebuild with nothing changed embeds nothing, and an
    interrupted rebuild resumes where it stopped.

    \b
    Examples:
      prakat index rebuild
      prakat index rebuild --device cuda
    """
    rt = runtime(ctx)
    progress = Progress()
    try:
        report = rt.indexer.rebuild(progress)
    finally:
        progress.close()
    rate = (
        f", {report.embed_tokens / report.embed_seconds:.0f} tokens/s"
        if report.embed_seconds
        else ""
    )
    if report.embedded:
        click.echo(
            f"Embedded {report.embedded} new passages and release titles"
            f" in {report.embed_seconds:.1f}s{rate}."
        )
    else:
        click.echo("Nothing new to embed: every passage was already in the cache.")
    click.echo(
        f"Index rebuilt: {report.documents} documents, {report.chunks} passages "
        f"in {report.seconds:.1f}s."
    )


@index.command("check")
@click.option("--repair", is_flag=True, help="Fix what can be fixed, then check again.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
@handle_errors
def index_check(ctx: click.Context, repair: bool, as_json: bool) -> None:
    """Verify that documents, passages, full-text rows and vectors agree.

    Finds orphan rows, missing full-text rows, vectors without passages (and the
    reverse), a damaged index file and files left by an interrupted writer. With
    --repair, fixes the database and rebuilds the index from cached vectors.
    Exit status 0 when consistent (after repair), 1 otherwise.

    \b
    Examples:
      prakat index check
      prakat index check --repair
    """
    rt = runtime(ctx)
    progress = Progress()
    try:
        report = rt.indexer.check(repair=repair, progress=progress)
    finally:
        progress.close()
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        for name, count in report["problems"].items():
            click.echo(f"Problem: {name} ({count})")
        for name, count in report["repaired"].items():
            click.echo(f"Repaired: {name} ({count})")
        for name, count in report.get("after", {}).items():
            click.echo(f"Still wrong: {name} ({count})")
        if report["ok"]:
            click.echo("Consistent: every passage has its full-text row and its vector.")
        elif not repair:
            click.echo("Run `prakat index check --repair` to fix it.")
    if not report["ok"]:
        sys.exit(1)


@index.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
@handle_errors
def index_status(ctx: click.Context, as_json: bool) -> None:
    """Show what the index holds and whether it matches the corpus.

    \b
    Example:
      prakat index status --json
    """
    from retrieval.encoder.choice import describe
    from retrieval.errors import IndexCorrupt, IndexNotBuilt
    from retrieval.index.vector_index import VectorIndex

    rt = runtime(ctx)
    docs, chunks = rt.store.counts()
    status = {"documents": docs, "chunks": chunks, "model": rt.settings.embedding.model,
              "index_path": str(rt.settings.index_path)}  # fmt: skip
    try:
        meta = VectorIndex.read_manifest(rt.settings.index_path)
    except IndexNotBuilt:
        status.update(state="not built", vectors=0, built_at=None)
    except IndexCorrupt as exc:
        status.update(state="corrupt", vectors=0, built_at=None, error=str(exc))
    else:
        if meta.get("model") != rt.embedder.signature:
            state = "built with another model"
        elif meta.get("fingerprint") != rt.store.fingerprint():
            state = "stale"
        elif meta.get("chunk_sig", rt.indexer.chunk_sig) != rt.indexer.chunk_sig:
            # another version of prakat or other chunking settings: rebuild re-chunks
            state = "chunked otherwise"
        else:
            state = "up to date"
        status.update(state=state, vectors=meta.get("vectors"), built_at=meta.get("built_at"))
    status["interrupted_write"] = rt.indexer.pending_path.exists()
    status["encoder"] = rt.embedder.recorded_encoder()
    if as_json:
        click.echo(json.dumps(status, ensure_ascii=False))
        return
    if status["interrupted_write"]:
        click.echo("An interrupted write left a pending index; the next command settles it.")
    click.echo(f"Documents: {docs}\nPassages:  {chunks}\nVectors:   {status['vectors']}")
    click.echo(f"Model:     {status['model']}\nBuilt at:  {status['built_at'] or '-'}")
    click.echo(f"State:     {status['state']}")
    if status["encoder"]:
        for line in describe(status["encoder"]):
            click.echo(line)
    else:
        click.echo("Encoder:   not chosen on this CPU yet (`prakat model install` chooses it)")
    if status["state"] not in ("up to date",):
        click.echo("Run `prakat index rebuild` to bring it up to date.")
