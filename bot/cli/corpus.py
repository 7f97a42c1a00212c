"""`prakat corpus`: add, remove and list releases."""

from __future__ import annotations

import json
import os
import re
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
      prakat corpus add https://www.thaigov.go.th/news/contents/details/46681
      prakat corpus fetch --max 20
      prakat corpus list --limit 5
    """


@corpus.command("add")
@click.argument("paths", nargs=-1, required=True)
@click.option("--skip-bad", is_flag=True, help="Skip unreadable files instead of stopping.")
@click.option("--no-announce", is_flag=True,
              help="Tell no follower of a topic (old releases, a bulk import).")  # fmt: skip
@device_option
@click.pass_context
@handle_errors
def corpus_add(
    ctx: click.Context, paths: tuple[str, ...], skip_bad: bool, no_announce: bool
) -> None:
    """Add releases: files (.txt, .md, .html, .pdf), folders of them, or addresses of
    release pages on the allowed hosts (fetch.allowed_hosts); the index is updated in
    place.

    Every file is checked first: unless --skip-bad is given, one bad file stops
    the whole command and nothing is changed. The new releases are told to the
    followers of their topics by the running bot, unless --no-announce is given.

    \b
    Examples:
      prakat corpus add corpus/sample
      prakat corpus add release-46681.txt page.html notice.pdf
      prakat corpus add https://www.thaigov.go.th/news/contents/details/46681
      prakat corpus add --skip-bad --no-announce --device cuda thaigov/data
    """
    from bot.follows import queue_new
    from corpus.loader import load_releases
    from corpus.models import UnsupportedDocument

    rt = runtime(ctx)
    urls = [p for p in paths if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*://", p)]
    files = [p for p in paths if p not in urls]
    docs, errors = load_releases(
        files, max_bytes=rt.settings.max_file_bytes, workers=os.cpu_count() or 1
    )
    if urls:
        fetched, failed = _fetch_urls(rt, urls)
        docs.update(fetched)
        errors += failed
    for message in errors:
        click.echo(f"{'Skipped' if skip_bad else 'Error'}: {message}", err=True)
    if errors and not skip_bad:
        click.echo("Nothing was added (use --skip-bad to add the readable files).", err=True)
        sys.exit(1)
    if not docs:
        raise UnsupportedDocument("no release files found in the given paths")
    if not no_announce:
        queue_new(rt.settings.follows_path, rt.store, docs)
    progress = Progress()
    try:
        results = rt.indexer.add_documents(docs.values(), progress)
    finally:
        progress.close()
    counts = {"added": 0, "replaced": 0, "unchanged": 0}
    for r in results:
        counts[r.status] += 1
        if len(results) <= 20:
            click.echo(_line(r.status, r.doc_id, r.date, r.title, r.chunks))
    click.echo(
        f"{counts['added']} added, {counts['replaced']} replaced, {counts['unchanged']} unchanged"
        + (f", {len(errors)} skipped" if errors else "")
        + "."
    )


def _line(status: str, doc_id: str, date: str | None, title: str, chunks: int | None = None):
    """One release's line: what became of it, its id, date, passages and title."""
    passages = f"  {chunks:3} passages" if chunks is not None else ""
    return f"{status:9} {doc_id}  {date or '----------'}{passages}  {title[:60]}"


def _fetch_urls(rt, urls: list[str]) -> tuple[dict, list[str]]:
    from corpus.crawl import fetch_release
    from corpus.fetch import Fetcher
    from corpus.models import CorpusError

    docs, errors = {}, []
    with Fetcher(rt.settings.fetch) as fetcher:
        for url in urls:
            try:
                doc = fetch_release(fetcher, url)
            except CorpusError as exc:
                errors.append(str(exc))
            else:
                docs[doc.doc_id] = doc
    return docs, errors


@corpus.command("fetch")
@click.option(
    "--since",
    type=int,
    default=None,
    help="Walk the news ids after this one (default: after the newest known).",
)
@click.option(
    "--max",
    "limit",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many releases.",
)
@click.option("--dry-run", is_flag=True,
              help="Print what would be added and who would be told; add nothing.")  # fmt: skip
@device_option
@click.pass_context
@handle_errors
def corpus_fetch(ctx: click.Context, since: int | None, limit: int | None, dry_run: bool) -> None:
    """Fetch new releases from thaigov.go.th and add them.

    Walks the news ids upward from the newest known release, one page at a time
    (fetch.pages_per_second), and stops after fetch.misses_to_stop ids in a row that
    hold no release. Killed or interrupted, the next run goes on where this one
    stopped; nothing is added twice. The running bot tells the followers of a
    topic about the new releases.

    \b
    Examples:
      prakat corpus fetch
      prakat corpus fetch --since 46680 --max 5
      prakat corpus fetch --dry-run --max 3
    """
    from bot.fetching import fetch_new
    from corpus.fetch import Fetcher

    rt = runtime(ctx)
    bar = _FetchBar()
    found = []

    def added(results: list) -> None:
        for r in results:
            bar.write(_line(r.status, r.doc_id, r.date, r.title))

    def seen(news_id: int, doc) -> None:
        bar.step(news_id, doc)
        if dry_run and doc is not None:
            bar.write(_line("would add", doc.doc_id, doc.date, doc.title))
            found.append(doc)

    with Fetcher(rt.settings.fetch) as fetcher:
        try:
            report = fetch_new(rt, fetcher, since=since, limit=limit, dry_run=dry_run,
                               on_id=seen, on_added=added)  # fmt: skip
        finally:
            bar.close()
    if dry_run:
        click.echo(f"{report.found} releases found in {report.tried} ids; nothing added.")
        for line in _followers_told(rt, found):
            click.echo(line)
        return
    counts = report.statuses
    click.echo(
        f"{counts.get('added', 0)} added, {counts.get('replaced', 0)} replaced, "
        f"{counts.get('unchanged', 0)} unchanged; {report.tried} ids tried"
        + (f", the newest {report.last_id}." if report.last_id else ".")
    )


def _followers_told(rt, docs: list) -> list[str]:
    """Which followers the releases ``docs`` would be told to, a line each."""
    from bot.follows import Follows
    from retrieval.ranking.topics import TopicMatcher

    follows = Follows(rt.settings.follows_path)
    try:
        followed = follows.all()
    finally:
        follows.close()
    if not docs or not followed:
        return ["Nobody follows a topic: nobody would be told."] if docs else []
    index, _ = rt.load_index()
    rt.embedder.load()
    f = rt.settings.following
    matcher = TopicMatcher(rt.store, rt.embedder, index, threshold=f.threshold, sample=f.sample)
    passages = matcher.unindexed(docs, rt.settings.chunking)
    matches = matcher.match([x.topic for x in followed], passages)
    lines = []
    for doc in docs:
        topics = {m.topic for m in matches if m.doc_id == doc.doc_id}
        told = [x for x in followed if x.topic in topics]
        who = ", ".join(f"user {x.user_id} ({x.topic[:40]})" for x in told) or "nobody"
        lines.append(f"{doc.doc_id} would be told to: {who}")
    return lines


class _FetchBar:
    """One tqdm bar over the ids tried on a terminal; lines printed above it."""

    def __init__(self) -> None:
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(desc="Fetching", unit=" ids", file=sys.stderr)
        self.found = 0

    def step(self, news_id: int, doc) -> None:
        self.found += doc is not None
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(id=news_id, found=self.found)

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line)
        else:
            click.echo(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


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
