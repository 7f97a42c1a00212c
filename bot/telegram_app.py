"""The Telegram bot: python-telegram-bot v22, long polling or webhook."""

from __future__ import annotations

import asyncio
import html
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict, defaultdict, deque
from pathlib import PurePath

from telegram import (
    BotCommand,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatAction, ParseMode
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

from bot.formatting import answer_blocks, esc, excerpt, pack_blocks, release_messages
from bot.messages import language_of, t
from bot.runtime import Runtime
from bot.settings import Settings
from corpus.loader import load_bytes
from corpus.models import DocumentNotFound, StoreLocked, UnsupportedDocument
from retrieval.centres import language_centres
from retrieval.errors import IndexCorrupt, IndexMismatch, IndexNotBuilt, RetrievalError
from retrieval.search import Searcher
from retrieval.text import warm_up
from retrieval.vector_index import VectorIndex

log = logging.getLogger("prakat.bot")

COMMANDS = {
    "en": [
        ("ask", "Ask a question"),
        ("latest", "The newest releases"),
        ("stats", "What the index holds"),
        ("help", "How to use the bot"),
    ],
    "th": [
        ("ask", "ถามคำถาม"),
        ("latest", "ข่าวล่าสุด"),
        ("stats", "ข้อมูลดัชนี"),
        ("help", "วิธีใช้บอท"),
    ],
}
PAGE = 3  # passages per answer message; "More results" shows the next ones


class FloodGate:
    """At most ``per_minute`` questions per user in any sliding minute."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.seen: dict[int, deque[float]] = defaultdict(deque)

    def allow(self, user_id: int) -> bool:
        now = time.monotonic()
        q = self.seen[user_id]
        while q and now - q[0] > 60:
            q.popleft()
        if len(q) >= self.per_minute:
            return False
        q.append(now)
        return True


class Services:
    """What handlers share: the runtime, the current searcher, one writer at a time."""

    def __init__(self, settings: Settings, runtime: Runtime) -> None:
        self.settings = settings
        self.runtime = runtime
        self.searcher = None
        self.write_lock = asyncio.Lock()
        self.flood = FloodGate(settings.telegram.questions_per_minute)
        self.questions: OrderedDict[str, str] = OrderedDict()  # token -> question
        self.index_problem: str | None = None  # why no usable index is loaded, if so
        self._index_stamp: tuple | None = None  # the index file that is being served
        self._fingerprint: str | None = None  # the corpus state that index was built from
        self._reload_lock = asyncio.Lock()
        self._preloading: list[threading.Thread] = []  # see preload()

    def preload(self) -> None:
        """Load the model (and its language centres, embedded on a model's first
        start) and the Thai word and sentence models in background threads, while the
        bot connects to Telegram and reads its index (start-up time,
        docs/performance.md). A failure here is reported by ``open_searcher``, which
        loads again."""
        embedder = self.runtime.embedder
        cache = self.runtime.cache  # opened here, not raced for by the threads

        def load_model() -> None:
            try:
                embedder.load()
                if self.settings.search.centres_used:
                    # embedded once per model (seconds), then read from the cache
                    language_centres(embedder, cache)
            except Exception:  # open_searcher loads again and reports it
                log.debug("background model load failed", exc_info=True)

        for name, target in (("load-model", load_model), ("load-text-models", warm_up)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._preloading.append(thread)

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.settings.telegram.admins

    def remember(self, question: str) -> str:
        token = secrets.token_urlsafe(6)
        self.questions[token] = question
        while len(self.questions) > 5000:
            self.questions.popitem(last=False)
        return token

    def _stamp(self) -> tuple | None:
        try:
            st = os.stat(self.runtime.settings.index_path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def open_searcher(self) -> Searcher:
        """The searcher over the index on disk. A missing, damaged or foreign index is
        rebuilt from cached vectors; if that cannot be done the bot still starts, on an
        empty index, and tells users so (never a crash loop)."""
        rt = self.runtime
        try:
            index = self._load_or_repair()
            self.index_problem = None
        except Exception as exc:  # any failure here must not stop the bot starting
            log.error("no usable index (%s); run `prakat index rebuild`", exc)
            self.index_problem = str(exc)
            index = VectorIndex(rt.embedder.dim, rt.embedder.signature)
        for thread in self._preloading:
            thread.join()
        rt.embedder.load()
        searcher = Searcher(rt.read_store, rt.embedder, index, self.settings.search,
                            pinned=True, sentences=rt.cache)  # fmt: skip
        if not self.index_problem:
            self._settle(searcher)
        return searcher

    def _load_or_repair(self) -> VectorIndex:
        rt = self.runtime
        stamp = self._stamp()
        try:
            index, meta = rt.load_index()
        except (IndexCorrupt, IndexMismatch, IndexNotBuilt) as exc:
            log.warning("%s; rebuilding the index from cached vectors", exc)
            rt.indexer.build_index()
            stamp = self._stamp()
            index, meta = rt.load_index()
        self._index_stamp = stamp
        self._fingerprint = meta.get("fingerprint")
        return index

    def _settle(self, searcher: Searcher) -> None:
        """Make sure the pinned snapshot is the one the index was built from: a write
        that commits between loading the file and pinning is caught here, and the
        newer index it renames into place a moment later is loaded instead."""
        for _ in range(50):
            if searcher.store.fingerprint() == self._fingerprint:
                return
            time.sleep(0.1)
            searcher.swap_index(self._load_or_repair())
        log.warning("the index on disk does not match the corpus; run `prakat index check`")

    async def reload_index(self) -> None:
        """Serve from the index on disk from now on (after an add, remove or rebuild)."""
        async with self._reload_lock:
            stamp = self._stamp()
            try:
                index = await asyncio.to_thread(self._load_or_repair)
            except Exception as exc:
                log.error("could not load the new index (%s); still serving the old one", exc)
                self._index_stamp = stamp  # do not retry on every question
                return
            await asyncio.to_thread(self.searcher.swap_index, index)
            await asyncio.to_thread(self._settle, self.searcher)
            self.index_problem = None

    async def refresh_if_changed(self) -> None:
        """Pick up an index another process wrote (prakat corpus add / index rebuild)."""
        if self._stamp() != self._index_stamp and not self._reload_lock.locked():
            await self.reload_index()


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.application.bot_data["services"]


def user_lang(update: Update, text: str | None = None) -> str:
    user = update.effective_user
    return language_of(text, user.language_code if user else None)


async def reply(message: Message, text: str, **kwargs) -> Message:
    return await message.reply_text(
        text, parse_mode=ParseMode.HTML, disable_web_page_preview=True, **kwargs
    )


# -- questions ---------------------------------------------------------------


def question_text(message: Message, bot_username: str | None) -> str:
    """The question in a message: mentions of the bot and the /ask command removed."""
    text = message.text or message.caption or ""
    if bot_username:
        text = text.replace(f"@{bot_username}", " ")
    if text.startswith("/"):
        text = text.split(maxsplit=1)[1] if " " in text.strip() else ""
    return " ".join(text.split())


async def answer_question(
    update: Update, context: ContextTypes.DEFAULT_TYPE, question: str
) -> None:
    """Search off the event loop and reply with the answer, passages and buttons."""
    svc = services(context)
    message = update.effective_message
    lang = user_lang(update, question)
    if not question:
        await reply(message, t(lang, "empty_question"))
        return
    user_id = update.effective_user.id if update.effective_user else 0
    if not svc.flood.allow(user_id):
        await reply(message, t(lang, "busy"))
        return
    question = question[: svc.settings.telegram.max_question_chars]
    await context.bot.send_chat_action(message.chat_id, ChatAction.TYPING)
    await svc.refresh_if_changed()
    if svc.index_problem:
        await reply(message, t(lang, "index_unavailable"))
        return
    answer = await asyncio.to_thread(svc.searcher.search, question, PAGE)
    if not answer.found:
        await reply(message, t(lang, "not_found"))
        return
    token = svc.remember(question)
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t(lang, "more"), callback_data=f"m:{lang}:{token}:{PAGE}"),
                InlineKeyboardButton(
                    t(lang, "full"), callback_data=f"f:{lang}:{answer.hits[0].document.doc_id}"
                ),
            ]
        ]
    )
    messages = pack_blocks(answer_blocks(answer))
    for i, text in enumerate(messages):
        last = i == len(messages) - 1
        await reply(message, text, reply_markup=buttons if last else None)


async def on_private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In a private chat every text message is a question."""
    await answer_question(update, context, question_text(update.effective_message, None))


async def on_group_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In groups, answer only a mention of the bot or a reply to one of its messages."""
    message = update.effective_message
    me = context.bot.username
    mentioned = any(
        e.type == MessageEntity.MENTION and message.parse_entity(e) == f"@{me}"
        for e in message.entities
    )
    replied = bool(
        message.reply_to_message
        and message.reply_to_message.from_user
        and message.reply_to_message.from_user.id == context.bot.id
    )
    if mentioned or replied:
        await answer_question(update, context, question_text(message, me))


async def on_ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask QUESTION, in any chat."""
    await answer_question(update, context, " ".join(context.args or []))


async def on_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos and other messages without text in a private chat get help."""
    await reply(update.effective_message, t(user_lang(update), "empty_question"))


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start in both languages."""
    await reply(update.effective_message, t("th", "start") + "\n\n" + t("en", "start"))


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/help in both languages."""
    await reply(update.effective_message, t("th", "help") + "\n\n" + t("en", "help"))


async def on_latest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/latest: the newest releases in the corpus."""
    svc = services(context)
    rows = await asyncio.to_thread(svc.runtime.store.list_documents, limit=10, newest_first=True)
    lang = user_lang(update)
    lines = [f"<b>{t(lang, 'latest')}</b>"]
    for r in rows:
        title = esc(excerpt(r.title, 120))
        if r.url:
            title = f'<a href="{html.escape(r.url, quote=True)}">{title}</a>'
        lines.append(f"{esc(r.date or '')} {title} <code>{esc(r.doc_id)}</code>")
    await reply(update.effective_message, "\n".join(lines))


async def on_stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stats: documents, passages, model and last index update."""
    svc = services(context)
    rt = svc.runtime
    docs, chunks = await asyncio.to_thread(rt.store.counts)
    try:
        built = VectorIndex.read_manifest(rt.settings.index_path).get("built_at") or "-"
    except RetrievalError:
        built = "-"
    lang = user_lang(update)
    text = t(lang, "stats", documents=docs, chunks=chunks,
             model=esc(rt.settings.embedding.model), built_at=esc(built))  # fmt: skip
    await reply(update.effective_message, text)


# -- buttons -----------------------------------------------------------------


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """More results, full release, and admins' confirmations. Callback data is untrusted."""
    query = update.callback_query
    svc = services(context)
    data = query.data or ""
    # Buttons carry the interface language of the message they belong to: "kind:lang:rest".
    kind, _, rest = data.partition(":")
    lang, _, rest = rest.partition(":")
    if lang not in ("en", "th"):
        lang = user_lang(update)
    if kind == "m":
        token, _, offset = rest.partition(":")
        question = svc.questions.get(token)
        if question is None or not offset.isdigit():
            await query.answer(t(lang, "no_more"))
            return
        await query.answer()
        start = int(offset)
        answer = await asyncio.to_thread(
            svc.searcher.search, question, start + PAGE, with_sentence=False
        )
        hits = answer.hits[start:]
        if not hits:
            await reply(query.message, t(lang, "no_more"))
            return
        page = type(answer)(answer.question, None, hits)
        buttons = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t(lang, "more"), callback_data=f"m:{lang}:{token}:{start + PAGE}"
                    )
                ]
            ]
        )
        for text in pack_blocks(answer_blocks(page, start=start)[1:]):
            await reply(query.message, text, reply_markup=buttons)
    elif kind == "f":
        await query.answer()
        try:
            doc = await asyncio.to_thread(svc.runtime.store.get_document, rest)
        except DocumentNotFound:
            await reply(query.message, t(lang, "not_in_corpus", doc_id=esc(rest[:40])))
            return
        messages = release_messages(doc.title, doc.date, doc.url, doc.text)
        if len(messages) > 3:
            body = f"{doc.title}\n{doc.date or ''}\n{doc.url or ''}\n\n{doc.text}\n".encode()
            await query.message.reply_document(InputFile(body, filename=f"{doc.doc_id}.txt"))
        else:
            for text in messages:
                await reply(query.message, text)
    elif kind == "rm":
        if not svc.is_admin(query.from_user.id):
            log.warning("refused forged or non-admin removal by user %s", query.from_user.id)
            await query.answer(t(lang, "admin_only"), show_alert=True)
            return
        await query.answer()
        await remove_document(query.message, svc, rest, lang)
    else:
        log.warning("ignored unknown callback data from user %s", query.from_user.id)
        await query.answer()


# -- admin -------------------------------------------------------------------


async def refuse_non_admin(update: Update, svc: Services, action: str) -> bool:
    user = update.effective_user
    if svc.is_admin(user.id if user else None):
        return False
    log.warning("refused %s by non-admin user %s", action, user.id if user else None)
    await reply(update.effective_message, t(user_lang(update), "admin_only"))
    return True


async def writer_busy(message: Message, svc: Services, lang: str) -> bool:
    """One change at a time: a second one is told to wait, not queued silently."""
    if svc.write_lock.locked():
        await reply(message, t(lang, "writer_busy"))
        return True
    return False


async def add_release(message: Message, svc: Services, data: bytes, name: str, lang: str) -> None:
    """Parse and index one release; one clear sentence on failure, nothing changed."""
    try:
        doc = load_bytes(data, name, max_bytes=svc.settings.telegram.max_upload_bytes)
    except UnsupportedDocument as exc:
        await reply(message, t(lang, "bad_file", reason=esc(str(exc))))
        return
    if await writer_busy(message, svc, lang):
        return
    async with svc.write_lock:
        await message.chat.send_action(ChatAction.TYPING)
        try:
            (result,) = await asyncio.to_thread(svc.runtime.indexer.add_documents, [doc])
        except StoreLocked:
            await reply(message, t(lang, "writer_busy"))
            return
        await svc.reload_index()
    values = {"doc_id": esc(result.doc_id), "title": esc(excerpt(result.title, 150)),
              "date": esc(result.date or "-"), "chunks": result.chunks}  # fmt: skip
    await reply(message, t(lang, result.status, **values))


async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An admin sends a release file (.txt or .md)."""
    svc = services(context)
    message = update.effective_message
    lang = user_lang(update, message.caption)
    if await refuse_non_admin(update, svc, "file upload"):
        return
    document = message.document
    limit = svc.settings.telegram.max_upload_bytes
    if document.file_size and document.file_size > limit:
        size = f"{limit / 1e6:g} MB" if limit >= 1e6 else f"{limit / 1e3:g} KB"
        await reply(message, t(lang, "too_big", limit=size))
        return
    # The user's file name is only ever shown, never used as a path.
    name = PurePath(document.file_name or "release.txt").name[:80] or "release.txt"
    if not name.lower().endswith((".txt", ".md")):
        await reply(message, t(lang, "bad_file", reason=esc(f"{name} is not a .txt or .md file")))
        return
    file = await context.bot.get_file(document.file_id)
    data = bytes(await file.download_as_bytearray())
    await add_release(message, svc, data, name, lang)


async def on_add(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/add as a reply to a text message: that text is the release."""
    svc = services(context)
    message = update.effective_message
    lang = user_lang(update)
    if await refuse_non_admin(update, svc, "/add"):
        return
    source = message.reply_to_message
    text = source.text if source else None
    if not text:
        await reply(message, t(lang, "add_how"))
        return
    await add_release(message, svc, text.encode(), "message.txt", lang)


async def remove_document(message: Message, svc: Services, doc_id: str, lang: str) -> None:
    if await writer_busy(message, svc, lang):
        return
    async with svc.write_lock:
        try:
            n = await asyncio.to_thread(svc.runtime.indexer.remove_document, doc_id)
        except DocumentNotFound:
            await reply(message, t(lang, "not_in_corpus", doc_id=esc(doc_id[:40])))
            return
        await svc.reload_index()
    await reply(message, t(lang, "removed", doc_id=esc(doc_id), chunks=n))


async def on_remove(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/remove DOC_ID (admins)."""
    svc = services(context)
    lang = user_lang(update)
    if await refuse_non_admin(update, svc, "/remove"):
        return
    message = update.effective_message
    if not context.args:
        await reply(message, t(lang, "remove_how"))
        return
    doc_id = context.args[0][:64]
    try:
        doc = await asyncio.to_thread(svc.runtime.store.get_document, doc_id)
    except DocumentNotFound:
        await reply(message, t(lang, "not_in_corpus", doc_id=esc(doc_id[:40])))
        return
    confirm = InlineKeyboardMarkup(
        [[InlineKeyboardButton(t(lang, "confirm_remove"), callback_data=f"rm:{lang}:{doc.doc_id}")]]
    )
    text = t(lang, "remove_ask", doc_id=esc(doc.doc_id), title=esc(excerpt(doc.title, 150)))
    await reply(message, text, reply_markup=confirm)


async def on_reindex(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/reindex (admins): rebuild in the background; questions keep being answered."""
    svc = services(context)
    message = update.effective_message
    lang = user_lang(update)
    if await refuse_non_admin(update, svc, "/reindex") or await writer_busy(message, svc, lang):
        return
    await reply(message, t(lang, "reindex_started"))

    async def rebuild() -> None:
        async with svc.write_lock:
            report = await asyncio.to_thread(svc.runtime.indexer.rebuild)
            await svc.reload_index()
        await reply(message, t(lang, "reindex_done", documents=report.documents,
                               chunks=report.chunks, embedded=report.embedded,
                               seconds=report.seconds))  # fmt: skip

    context.application.create_task(rebuild(), update=update)


# -- errors and startup ------------------------------------------------------


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
    app.add_handler(CommandHandler("add", on_add))
    app.add_handler(CommandHandler("remove", on_remove))
    app.add_handler(CommandHandler("reindex", on_reindex))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_handler(MessageHandler(filters.Document.ALL, on_document))
    app.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, on_private_text))
    app.add_handler(MessageHandler(groups & filters.TEXT & ~filters.COMMAND, on_group_text))
    app.add_handler(MessageHandler(private & ~filters.TEXT & ~filters.COMMAND, on_other))
    app.add_error_handler(on_error)
    return app


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
