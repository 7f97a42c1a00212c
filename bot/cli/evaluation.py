"""`prakat eval`: retrieval quality on labelled question sets."""

from __future__ import annotations

import json

import click

from bot.cli.app import cli
from bot.cli.common import Progress, device_option, handle_errors, runtime


@cli.group("eval")
def eval_group() -> None:
    """Measure retrieval quality on labelled questions (a throwaway index).

    \b
    Example:
      prakat eval iapp --file ../shared/data/iapp-wiki-qa/valid.jsonl --json
    """


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
        searcher = corpus.searcher(rt.settings.ranking)
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
