"""The Telegram bot: python-telegram-bot v22, long polling or webhook."""

from __future__ import annotations

import asyncio
import logging
import secrets

from telegram import (
    BotCommand,
    BotCommandScopeDefault,
    Update,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.admin import fetch_releases, on_add, on_document, on_fetch, on_reindex, on_remove
from bot.callbacks import on_button
from bot.following import announce, on_follow, on_following, on_unfollow
from bot.messages import t
from bot.questions import (
    on_ask,
    on_group_text,
    on_help,
    on_latest,
    on_new,
    on_other,
    on_private_text,
    on_start,
    on_stats,
    reply,
    user_lang,
)
from bot.runtime import Runtime
from bot.services import Services  # noqa: F401 (tests and the CLI find it here)
from bot.settings import Settings

log = logging.getLogger("prakat.bot")

COMMANDS = {
    "en": [
        ("ask", "Ask a question"),
        ("latest", "The newest releases"),
        ("stats", "What the index holds"),
        ("follow", "Be sent new releases about a topic"),
        ("following", "The topics you follow"),
        ("new", "Start a new conversation"),
        ("help", "How to use the bot"),
    ],
    "th": [
        ("ask", "ถามคำถาม"),
        ("latest", "ข่าวล่าสุด"),
        ("stats", "ข้อมูลดัชนี"),
        ("follow", "รับข่าวใหม่ตามหัวข้อ"),
        ("following", "หัวข้อที่ติดตาม"),
        ("new", "เริ่มบทสนทนาใหม่"),
        ("help", "วิธีใช้บอท"),
    ],
}


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log with traceback; tell the user briefly, in their language; keep running."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message:
        try:
            await reply(update.effective_message, t(user_lang(update), "error"))
        except Exception:  # the apology itself failed (network): already logged above
            log.warning("could not send the error apology")


async def post_init(app: Application) -> None:
    """Load the model and the index once, before the first update; publish the commands."""
    svc: Services = app.bot_data["services"]
    svc.searcher = await asyncio.to_thread(svc.open_searcher)
    await asyncio.to_thread(svc.searcher.search, "warm up", 1)  # first-call costs now
    for lang, commands in COMMANDS.items():
        await app.bot.set_my_commands(
            [BotCommand(c, d) for c, d in commands],
            scope=BotCommandScopeDefault(),
            language_code=None if lang == "en" else lang,
        )
    log.info("ready: model %s, index loaded", svc.settings.embedding.model)


def build_application(settings: Settings, runtime: Runtime | None = None) -> Application:
    """The bot application, wired to the retrieval core."""
    tg = settings.telegram
    if not tg.token:
        raise RuntimeError("set TELEGRAM_BOT_TOKEN (or telegram.token in config.yaml)")
    app = (
        ApplicationBuilder()
        .token(tg.token)
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .concurrent_updates(True)
        .rate_limiter(AIORateLimiter(max_retries=2))
        .post_init(post_init)
        .build()
    )
    app.bot_data["services"] = Services(settings, runtime or Runtime(settings))
    private, groups = filters.ChatType.PRIVATE, filters.ChatType.GROUPS
    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(CommandHandler("help", on_help))
    app.add_handler(CommandHandler("ask", on_ask))
    app.add_handler(CommandHandler("latest", on_latest))
    app.add_handler(CommandHandler("stats", on_stats))
    app.add_handler(CommandHandler("new", on_new))
    app.add_handler(CommandHandler("follow", on_follow))
    app.add_handler(CommandHandler("following", on_following))
    app.add_handler(CommandHandler("unfollow", on_unfollow))
    app.add_handler(CommandHandler("add", on_add))
    app.add_handler(CommandHandler("remove", on_remove))
    app.add_handler(CommandHandler("reindex", on_reindex))
    app.add_handler(CommandHandler("fetch", on_fetch))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_handler(MessageHandler(filters.Document.ALL, on_document))
    app.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, on_private_text))
    app.add_handler(MessageHandler(groups & filters.TEXT & ~filters.COMMAND, on_group_text))
    app.add_handler(MessageHandler(private & ~filters.TEXT & ~filters.COMMAND, on_other))
    app.add_error_handler(on_error)
    check = settings.following.check_seconds  # new releases reach their followers
    app.job_queue.run_repeating(announce, interval=check, first=check, name="announce")
    every = settings.fetch.every_minutes
    if every > 0:  # new releases arrive by themselves (off by default)
        app.job_queue.run_repeating(scheduled_fetch, interval=every * 60, first=every * 60,
                                    name="fetch")  # fmt: skip
    return app


async def scheduled_fetch(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The fetch of ``fetch.every_minutes``; skipped while another change runs."""
    svc: Services = context.bot_data["services"]
    if svc.write_lock.locked():
        log.info("scheduled fetch skipped: another change is running")
        return
    report, problem = await fetch_releases(svc)
    log.info("scheduled fetch: %d ids, %s%s", report.tried, report.statuses or "nothing new",
             f"; stopped: {problem}" if problem else "")  # fmt: skip


def configure_logging() -> None:
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO
    )
    # httpx logs every request URL, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def run_bot(settings: Settings) -> None:
    """Long polling by default; a webhook when telegram.webhook_url is set."""
    configure_logging()
    app = build_application(settings)
    app.bot_data["services"].preload()
    tg = settings.telegram
    if tg.webhook_url:
        app.run_webhook(
            listen=tg.webhook_listen,
            port=tg.webhook_port,
            url_path="telegram",
            webhook_url=tg.webhook_url.rstrip("/") + "/telegram",
            # Telegram sends this secret in a header; PTB rejects requests without it.
            secret_token=tg.webhook_secret or secrets.token_urlsafe(32),
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        app.run_polling(allowed_updates=Update.ALL_TYPES)
