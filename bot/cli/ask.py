"""`prakat ask` and `prakat chat`: questions from the command line."""

from __future__ import annotations

import json
import sys

import click

from bot.cli.app import cli
from bot.cli.common import handle_errors, runtime


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
