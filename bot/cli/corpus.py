"""`prakat corpus`: add, remove and list releases."""

from __future__ import annotations

import json
import os
import sys

import click

from bot.cli.app import cli
from bot.cli.common import Progress, device_option, handle_errors, runtime


@cli.group()
def corpus() -> None:
    """Add, remove and list releases.

    \b
    Examples:
      prakat corpus add corpus/sample
      prakat corpus list --limit 5
    """


@corpus.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--skip-bad", is_flag=True, help="Skip unreadable files instead of stopping.")
@device_option
@click.pass_context
@handle_errors
def corpus_add(ctx: click.Context, paths: tuple[str, ...], skip_bad: bool) -> None:
    """Add release files (.txt, .md) or folders of them; the index is updated in place.

    Every file is checked first: unless --skip-bad is given, one bad file stops
    the whole command and nothing is changed.

    \b
    Examples:
      prakat corpus add corpus/sample
      prakat corpus add release-46681.txt other.md
      prakat corpus add --skip-bad --device cuda thaigov/data
    """
    from corpus.loader import load_releases
    from corpus.models import UnsupportedDocument

    rt = runtime(ctx)
    docs, errors = load_releases(
        list(paths), max_bytes=rt.settings.max_file_bytes, workers=os.cpu_count() or 1
    )
    for message in errors:
        click.echo(f"{'Skipped' if skip_bad else 'Error'}: {message}", err=True)
    if errors and not skip_bad:
        click.echo("Nothing was added (use --skip-bad to add the readable files).", err=True)
        sys.exit(1)
    if not docs:
        raise UnsupportedDocument("no release files found in the given paths")
    progress = Progress()
    try:
        results = rt.indexer.add_documents(docs.values(), progress)
    finally:
        progress.close()
    counts = {"added": 0, "replaced": 0, "unchanged": 0}
    for r in results:
        counts[r.status] += 1
        if len(results) <= 20:
            click.echo(
                f"{r.status:9} {r.doc_id}  {r.date or '----------'}  {r.chunks:3} passages"
                f"  {r.title[:60]}"
            )
    click.echo(
        f"{counts['added']} added, {counts['replaced']} replaced, {counts['unchanged']} unchanged"
        + (f", {len(errors)} skipped" if errors else "")
        + "."
    )


@corpus.command("remove")
@click.argument("doc_id")
@click.pass_context
@handle_errors
def corpus_remove(ctx: click.Context, doc_id: str) -> None:
    """Remove a release and its vectors.

    \b
    Example:
      prakat corpus remove 46681
    """
    n = runtime(ctx).indexer.remove_document(doc_id)
    click.echo(f"Removed {doc_id} ({n} passages).")


@corpus.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--limit", type=int, default=None, help="Show at most N (newest first).")
@click.pass_context
@handle_errors
def corpus_list(ctx: click.Context, as_json: bool, limit: int | None) -> None:
    """List the releases in the corpus.

    \b
    Example:
      prakat corpus list --limit 10
    """
    from dataclasses import asdict

    rows = runtime(ctx).store.list_documents(limit=limit, newest_first=limit is not None)
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], ensure_ascii=False))
        return
    for r in rows:
        click.echo(
            f"{r.doc_id:>8}  {r.date or '----------'}  {r.lang}  {r.chunks:3}  {r.title[:70]}"
        )
    click.echo(f"{len(rows)} documents.")
