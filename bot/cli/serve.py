"""`prakat bot`: the Telegram bot."""

from __future__ import annotations

import click

from bot.cli.app import cli
from bot.cli.common import handle_errors, runtime
from bot.settings import SettingsError


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
