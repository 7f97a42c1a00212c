"""The answer's buttons: more results, the whole release, its file."""

from __future__ import annotations

import asyncio
import logging

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.ext import (
    ContextTypes,
)

from bot.admin import remove_document
from bot.following import stop_button
from bot.formatting import answer_blocks, esc, pack_blocks, release_messages
from bot.messages import t
from bot.questions import PAGE, reply, services, user_lang
from corpus.models import DocumentNotFound

log = logging.getLogger("prakat.bot")


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
    elif kind == "uf":
        await stop_button(update, svc, lang, rest)
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
