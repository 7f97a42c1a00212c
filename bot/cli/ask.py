"""`prakat ask` and `prakat chat`: questions from the command line."""

from __future__ import annotations

import json
import sys

import click

from bot.cli.app import cli
from bot.cli.common import handle_errors, runtime


def answer_json(answer, *, asked: bool = False, generated=False) -> dict:
    """``asked``: also the question as understood (completed from the conversation);
    ``generated``: the generated answer or None, where llm.base_url is set (False:
    not configured, no key)."""
    out = {
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
    if asked:
        out["asked"] = answer.query.text if answer.query else answer.question
    if generated is not False:
        out["generated"] = None if generated is None else {
            "text": generated.text, "citations": generated.citations, "model": generated.model,
            "not_found": generated.not_found,
        }  # fmt: skip
    return out


def generate(rt, answer):
    """The generated answer where llm.base_url is set (None: it fell back), else False."""
    if rt.generator is None:
        return False
    return rt.generator.generate(answer.query.text if answer.query else answer.question,
                                 answer.hits) if answer.found else None  # fmt: skip


def today_option(func):
    return click.option(
        "--today",
        "today",
        metavar="YYYY-MM-DD",
        callback=_day,
        help="The day the question is asked (YYYY-MM-DD, default today): relative dates "
        "and 'latest' resolve against it, and releases after it are left out.",
    )(func)


def _day(ctx, param, value):
    from retrieval.question.dates import DateError, parse_day

    if value is None:
        return None
    try:
        return parse_day(value)
    except DateError as exc:
        raise click.BadParameter(str(exc)) from None


def answer_text(answer, generated=False) -> str:
    from bot.formatting import plain_answer

    return plain_answer(answer, generated or None)


@cli.command()
@click.argument("question", nargs=-1, required=True)
@click.option("--k", "k", type=click.IntRange(1, 50), default=None, help="How many passages.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@today_option
@click.pass_context
@handle_errors
def ask(ctx: click.Context, question: tuple[str, ...], k: int | None, as_json: bool,
        today) -> None:  # fmt: skip
    """Ask one question; prints the answer sentence and the passages it came from.

    \b
    Examples:
      prakat ask "who chaired the 6th AMCC?"
      prakat ask "ใครเป็นประธานการประชุม AMCC ครั้งที่ 6" --json
      prakat ask "ครม. เมื่อวานอนุมัติอะไร" --today 2022-03-23

    With llm.base_url set, a generated answer citing the passages comes first
    (--json: "generated", null where the endpoint failed or its reply failed the
    checks).
    """
    from retrieval.question.query import parse_question

    query = parse_question(" ".join(question), today)
    rt = runtime(ctx)
    answer = rt.searcher.search(query, k or rt.settings.k)
    generated = generate(rt, answer)
    click.echo(json.dumps(answer_json(answer, generated=generated), ensure_ascii=False)
               if as_json else answer_text(answer, generated))  # fmt: skip


@cli.command()
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object a question: ask --json's, plus 'asked'.")  # fmt: skip
@today_option
@click.pass_context
@handle_errors
def chat(ctx: click.Context, as_json: bool, today) -> None:
    """A console chat on the same pipeline as the bot: one question a line, EOF ends.
    A question that lacks its subject ("and the 7th?") is completed from the one
    before; an empty line starts a new conversation.

    \b
    Examples:
      echo "who chaired the 6th AMCC?" | prakat chat
      printf 'ใครเป็นประธาน AMCC ครั้งที่ 6\\nแล้วครั้งที่ 7 ล่ะ\\n' | prakat chat --json
    """
    from retrieval.question.dates import DateError
    from retrieval.question.query import parse_question

    rt = runtime(ctx)
    searcher = rt.searcher
    interactive = sys.stdin.isatty()
    if interactive:
        click.echo("Ask about Thai government announcements (an empty line starts over, "
                   "Ctrl-D quits).")  # fmt: skip
    previous = None
    while True:
        try:
            line = input("? " if interactive else "")
        except EOFError:
            break
        except KeyboardInterrupt:
            click.echo()
            break
        if not line.strip():
            previous = None
            continue
        try:
            query = parse_question(line, today, previous)
        except DateError as exc:
            click.echo(json.dumps({"question": line, "error": str(exc)}, ensure_ascii=False)
                       if as_json else str(exc))  # fmt: skip
            continue
        answer = searcher.search(query, rt.settings.k)
        previous = query
        generated = generate(rt, answer)
        if as_json:
            out = answer_json(answer, asked=True, generated=generated)
            click.echo(json.dumps(out, ensure_ascii=False))
            continue
        if query.completed_from:
            click.echo(f"(read as: {query.text})")
        click.echo(answer_text(answer, generated))
        click.echo()
