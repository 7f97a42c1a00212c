"""The `prakat` command group; the commands are added by the modules beside it."""

from __future__ import annotations

import click


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
