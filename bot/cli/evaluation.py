"""`prakat eval`: retrieval quality on labelled question sets."""

from __future__ import annotations

import json
from contextlib import contextmanager

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
    return generated_option(func)


def generated_option(func):
    return click.option(
        "--generated",
        is_flag=True,
        help="Also measure the generated answer (llm.base_url must be set): its answer "
        "hit beside the extracted sentence's.",
    )(func)


def generator_for(ctx: click.Context, wanted: bool):
    """``Generator.generate`` for ``--generated``; one sentence where no endpoint is set."""
    if not wanted:
        return None
    generator = runtime(ctx).generator
    if generator is None:
        raise click.UsageError("--generated needs llm.base_url (and llm.model) in the config")
    return generator.generate


@contextmanager
def throwaway_searcher(ctx: click.Context, doc_sets, *, not_found: bool = False):
    """A searcher over a throwaway index of ``doc_sets`` (sharing the embedding cache),
    and the progress bars to go on with."""
    from retrieval.evaluate import EvalCorpus

    rt = runtime(ctx)
    rt.settings.data_dir.mkdir(parents=True, exist_ok=True)
    corpus = EvalCorpus(rt.embedder, rt.settings.cache_path, rt.settings.chunking)
    progress = Progress()
    try:
        for docs in doc_sets:
            corpus.add(docs(), progress)
        progress.close()
        yield corpus.searcher(rt.settings.ranking, not_found=not_found), progress
    finally:
        progress.close()
        corpus.close()


def releases_in(ctx: click.Context, folder: str):
    """The releases under ``folder`` (unreadable files in a haystack are left out)."""
    from corpus.loader import load_releases

    def load():
        docs, _ = load_releases([folder], max_bytes=runtime(ctx).settings.max_file_bytes)
        return docs.values()

    return load


def write_outcomes(path: str | None, outcomes: list[dict]) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(o, ensure_ascii=False) + "\n" for o in outcomes)


def run_eval(ctx: click.Context, docs, items, k: int, distractors: str | None, as_json: bool,
             answers_path: str | None = None, generated: bool = False):  # fmt: skip
    from retrieval.evaluate import evaluate

    generate = generator_for(ctx, generated)
    doc_sets = [lambda: docs] + ([releases_in(ctx, distractors)] if distractors else [])
    outcomes: list[dict] = []
    with throwaway_searcher(ctx, doc_sets) as (searcher, progress):
        metrics = evaluate(searcher, items, k=k, progress=lambda n: progress("ask", n, len(items)),
                           record=outcomes.append if answers_path else None,
                           generate=generate)  # fmt: skip
    write_outcomes(answers_path, outcomes)
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
def eval_squad(ctx, contexts, questions, k, distractors, as_json, answers_path,
               generated) -> None:  # fmt: skip
    """Recall@1/5/10, MRR@10 and answer-sentence hit rate on a SQuAD v1.1 set.

    \b
    Example (English questions over Thai paragraphs):
      prakat eval squad --contexts xquad.th.json --questions xquad.en.json --json
    """
    from retrieval.evaluate import load_squad

    docs, items = load_squad(contexts, questions)
    run_eval(ctx, docs, items, k, distractors, as_json, answers_path, generated)


@eval_group.command("iapp")
@click.option("--file", "path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="iApp Wiki QA jsonl file.")  # fmt: skip
@eval_options
@click.pass_context
@handle_errors
def eval_iapp(ctx, path, k, distractors, as_json, answers_path, generated) -> None:
    """The same metrics on the iApp Wiki QA format (distinct contexts are the passages).

    \b
    Example:
      prakat eval iapp --file ../shared/data/iapp-wiki-qa/valid.jsonl
      prakat eval iapp --file valid.jsonl --answers before.jsonl
    """
    from retrieval.evaluate import load_iapp

    docs, items = load_iapp(path)
    run_eval(ctx, docs, items, k, distractors, as_json, answers_path, generated)


@eval_group.command("thaigov")
@click.option("--questions", required=True, type=click.Path(exists=True, dir_okay=False),
              help="thaigov-qa jsonl file (../shared/data/thaigov-qa/dev.jsonl).")  # fmt: skip
@click.option("--haystack", required=True, type=click.Path(exists=True, file_okay=False),
              help="Folder of the releases the questions are asked over.")  # fmt: skip
@click.option("--k", "k", type=click.IntRange(1, 50), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--answers", "answers_path", type=click.Path(dir_okay=False, writable=True),
              help="Also write each question's releases and answer (JSON lines).")  # fmt: skip
@generated_option
@device_option
@click.pass_context
@handle_errors
def eval_thaigov(ctx, questions, haystack, k, as_json, answers_path, generated) -> None:
    """Questions about real releases, asked as a user asks them: in a conversation, on
    their day (`--today`). Per kind and language: release@1, release@5, answer hit,
    answered; for the unanswerable ones, refused.

    \b
    Example:
      python3 ../shared/data/thaigov-qa/haystack.py ../shared/data/thaigov/thaigov-v2.tar.xz \\
          ../shared/data/thaigov-qa/dev-haystack.txt /tmp/thaigov-dev
      prakat eval thaigov --questions ../shared/data/thaigov-qa/dev.jsonl \\
          --haystack /tmp/thaigov-dev
      prakat --config llm.yaml eval thaigov --generated --questions ... --haystack ...
    """
    from retrieval.evaluate_thaigov import evaluate_thaigov, load_thaigov

    generate = generator_for(ctx, generated)
    items = load_thaigov(questions)
    haystacks = [releases_in(ctx, haystack)]
    with throwaway_searcher(ctx, haystacks, not_found=True) as (searcher, progress):
        table, outcomes = evaluate_thaigov(
            searcher, items, k=k, progress=lambda n: progress("ask", n, len(items)),
            generate=generate,
        )  # fmt: skip
    write_outcomes(answers_path, outcomes)
    if as_json:
        click.echo(json.dumps(table))
        return
    measures = ("n", "release@1", "release@5", "answer_hit", "answered", "refused")
    if generated:
        measures += ("generated_hit", "generated_refused")
    click.echo(f"{'':>14}" + "".join(f"{m:>11}" for m in measures))
    for key, row in table.items():
        cells = "".join(f"{row[m]:>11}" if m in row else f"{'':>11}" for m in measures)
        click.echo(f"{key:>14}{cells}")
