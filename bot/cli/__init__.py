"""The `prakat` command line: thin commands over the retrieval core, one module per
group of commands."""

from bot.cli import ask, corpus, evaluation, index, model, serve  # noqa: F401 (they add commands)
from bot.cli.app import cli


def main() -> None:
    cli(prog_name="prakat")


__all__ = ["cli", "main"]
