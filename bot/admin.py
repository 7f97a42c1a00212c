"""Admin actions, for the users in telegram.admins only: adding a release (a file, /add
ADDRESS or /add as a reply), /fetch, /remove and /reindex."""

from __future__ import annotations

import asyncio
import logging
from pathlib import PurePath

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatAction
from telegram.ext import (
    ContextTypes,
)

from bot.follows import queue_new
from bot.formatting import esc, excerpt
from bot.messages import t
from bot.questions import reply, services, user_lang
from bot.services import Services
from corpus.loader import check_suffix, load_bytes
from corpus.models import CorpusError, Document, DocumentNotFound, StoreLocked, UnsupportedDocument

log = logging.getLogger("prakat.bot")


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
    await add_document(message, svc, doc, lang)


async def add_document(message: Message, svc: Services, doc: Document, lang: str) -> None:
    if await writer_busy(message, svc, lang):
        return
    async with svc.write_lock:
        await message.chat.send_action(ChatAction.TYPING)
        rt = svc.runtime
        try:
            await asyncio.to_thread(queue_new, rt.settings.follows_path, rt.store, [doc.doc_id])
            (result,) = await asyncio.to_thread(rt.indexer.add_documents, [doc])
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
    try:
        check_suffix(name)
    except UnsupportedDocument as exc:
        await reply(message, t(lang, "bad_file", reason=esc(str(exc))))
        return
    file = await context.bot.get_file(document.file_id)
    data = bytes(await file.download_as_bytearray())
    await add_release(message, svc, data, name, lang)


async def on_add(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/add ADDRESS: the release page there; /add as a reply to a text message: that
    text is the release."""
    svc = services(context)
    message = update.effective_message
    lang = user_lang(update)
    if await refuse_non_admin(update, svc, "/add"):
        return
    if context.args:
        await add_from_address(message, svc, context.args[0][:2000], lang)
        return
    source = message.reply_to_message
    text = source.text if source else None
    if not text:
        await reply(message, t(lang, "add_how"))
        return
    await add_release(message, svc, text.encode(), "message.txt", lang)


async def add_from_address(message: Message, svc: Services, address: str, lang: str) -> None:
    from corpus.crawl import fetch_release
    from corpus.fetch import Fetcher

    def fetch() -> Document:
        with Fetcher(svc.settings.fetch) as fetcher:
            return fetch_release(fetcher, address)

    await message.chat.send_action(ChatAction.TYPING)
    try:
        doc = await asyncio.to_thread(fetch)
    except CorpusError as exc:
        await reply(message, t(lang, "bad_address", reason=esc(str(exc))))
        return
    await add_document(message, svc, doc, lang)


async def in_background(update: Update, context: ContextTypes.DEFAULT_TYPE, action: str,
                        started: str, work) -> None:  # fmt: skip
    """An admin's long change: refused for others and while another change runs; else
    ``started`` is said and ``work(message, lang)`` runs while questions go on."""
    svc = services(context)
    message = update.effective_message
    lang = user_lang(update)
    if await refuse_non_admin(update, svc, action) or await writer_busy(message, svc, lang):
        return
    await reply(message, t(lang, started))
    context.application.create_task(work(message, lang), update=update)


async def on_fetch(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/fetch (admins): new releases from the site."""
    svc = services(context)

    async def fetch(message: Message, lang: str) -> None:
        report, problem = await fetch_releases(svc)
        if problem:
            await reply(message, t(lang, "fetch_failed", reason=esc(problem)))
        else:
            counts = {k: report.statuses.get(k, 0) for k in ("added", "replaced", "unchanged")}
            await reply(message, t(lang, "fetch_done", tried=report.tried, **counts))

    await in_background(update, context, "/fetch", "fetch_started", fetch)


async def fetch_releases(svc: Services):
    """One fetch of new releases under the write lock (the scheduled one too); the
    served index is swapped after it. Returns (report, the reason it stopped early
    or None)."""
    from bot.fetching import FetchReport, fetch_new
    from corpus.fetch import Fetcher

    report = FetchReport()

    def fetch() -> None:
        with Fetcher(svc.settings.fetch) as fetcher:
            fetch_new(svc.runtime, fetcher, report=report)

    async with svc.write_lock:
        try:
            await asyncio.to_thread(fetch)
            problem = None
        except (CorpusError, StoreLocked) as exc:
            log.warning("fetch stopped: %s", exc)
            problem = str(exc)
        await svc.reload_index()
    return report, problem


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
    """/reindex (admins): rebuild the index."""
    svc = services(context)

    async def rebuild(message: Message, lang: str) -> None:
        async with svc.write_lock:
            report = await asyncio.to_thread(svc.runtime.indexer.rebuild)
            await svc.reload_index()
        await reply(message, t(lang, "reindex_done", documents=report.documents,
                               chunks=report.chunks, embedded=report.embedded,
                               seconds=report.seconds))  # fmt: skip

    await in_background(update, context, "/reindex", "reindex_started", rebuild)


# -- errors and startup ------------------------------------------------------
