"""Questions, and the commands anyone may use: /ask, /latest, /stats, /help, plain
messages in private chats and mentions in groups."""

from __future__ import annotations

import asyncio
import html
import logging

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.ext import (
    ContextTypes,
)

from bot.formatting import answer_blocks, esc, excerpt, generated_html, pack_blocks
from bot.messages import language_of, t
from bot.services import Services
from retrieval.errors import RetrievalError
from retrieval.index.vector_index import VectorIndex
from retrieval.question.dates import DateError
from retrieval.question.query import parse_question

log = logging.getLogger("prakat.bot")
PAGE = 3  # passages per answer message; "More results" shows the next ones


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
    key = conversation_key(update)
    try:
        query = parse_question(question, None, svc.conversations.previous(key))
    except DateError as exc:
        await reply(message, esc(str(exc)))
        return
    await context.bot.send_chat_action(message.chat_id, ChatAction.TYPING)
    await svc.refresh_if_changed()
    if svc.index_problem:
        await reply(message, t(lang, "index_unavailable"))
        return
    answer = await asyncio.to_thread(svc.searcher.search, query, PAGE)
    svc.conversations.remember(key, query)
    # a completed follow-up says how it was read, after the question
    read_as = []
    if query.completed_from:
        read_as = [t(lang, "read_as", question=esc(excerpt(query.text, 300)))]
    if not answer.found:
        await reply(message, "\n\n".join([*read_as, t(lang, "not_found")]))
        return
    token = svc.remember(query.text)
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
    generated = await generated_block(update, context, svc, query.text, answer, lang)
    asked, *found = answer_blocks(answer)
    messages = pack_blocks([asked, *generated, *read_as, *found])
    for i, text in enumerate(messages):
        last = i == len(messages) - 1
        await reply(message, text, reply_markup=buttons if last else None)


async def generated_block(update, context, svc: Services, question: str, answer,
                          lang: str) -> list[str]:  # fmt: skip
    """The generated answer's block, where ``llm.base_url`` is set and the reply passed
    its checks; else none (the extracted answer stands alone, at once)."""
    generator = svc.runtime.generator
    if generator is None:
        return []
    await context.bot.send_chat_action(update.effective_message.chat_id, ChatAction.TYPING)
    generated = await asyncio.to_thread(generator.generate, question, answer.hits)
    if generated is None:
        return []
    label = t(lang, "generated_by", model=generated.model or "the model")
    block = generated_html(generated, answer.hits, label, t(lang, "generated_not_found"))
    return [block] if block else []


def conversation_key(update: Update) -> tuple[int, int]:
    """A conversation is a private chat, or one user's questions in a group."""
    chat = update.effective_chat
    user = update.effective_user
    chat_id = chat.id if chat else 0
    private = chat is None or chat.type == "private"
    return (chat_id, 0 if private else (user.id if user else 0))


async def on_new(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/new: the next question stands alone."""
    services(context).conversations.forget(conversation_key(update))
    await reply(update.effective_message, t(user_lang(update), "new"))


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
