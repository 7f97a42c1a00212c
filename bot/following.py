"""Following a topic: /follow TOPIC (or /follow in reply to an answer), /following with
buttons to stop, /unfollow N, and the job that tells followers of new releases.

Each round the job takes the queued releases (bot/follows.py) the served index holds,
matches them against every followed topic (retrieval/ranking/topics.py) and sends each
follower one message per release, or one digest where more than
``following.digest_after`` arrived for them at once. Messages go through the bot's
rate limiter; a chat that blocked the bot loses its follows.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections import defaultdict

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden
from telegram.ext import ContextTypes

from bot.follows import Follow, TooManyTopics, clean_topic
from bot.formatting import esc, excerpt
from bot.messages import t
from bot.questions import reply, services, user_lang
from bot.services import Services
from retrieval.ranking.topics import TopicMatch

log = logging.getLogger("prakat.bot")
DIGEST_LINES = 10  # releases named in a digest; the rest are counted


def replied_question(message: Message, svc: Services, bot_id: int) -> str | None:
    """The question of the bot's answer ``message`` replies to: as it was read (from
    the answer's "More results" button), else as it was shown on its first line."""
    source = message.reply_to_message
    if source is None or source.from_user is None or source.from_user.id != bot_id:
        return None
    for row in source.reply_markup.inline_keyboard if source.reply_markup else ():
        for button in row:
            kind, *parts = (button.callback_data or "").split(":")
            if kind == "m" and len(parts) > 1 and (asked := svc.questions.get(parts[1])):
                return asked
    first = (source.text or "").split("\n", 1)[0]
    return first[1:].strip() if first.startswith("❓") else None


async def on_follow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/follow TOPIC, or /follow in reply to an answer: its question is the topic."""
    svc = services(context)
    message = update.effective_message
    topic = clean_topic(" ".join(context.args or []))
    if not topic:
        topic = clean_topic(replied_question(message, svc, context.bot.id) or "")
    lang = user_lang(update, topic or None)
    if not any(ch.isalnum() for ch in topic):
        await reply(message, t(lang, "follow_how"))
        return
    user = update.effective_user
    cap = svc.settings.following.max_topics
    try:
        await asyncio.to_thread(svc.follows.follow, user.id, message.chat_id, topic, lang, cap)
    except TooManyTopics:
        await reply(message, t(lang, "follow_full", cap=cap))
        return
    await reply(message, t(lang, "followed", topic=esc(topic)))


def following_text(follows: list[Follow], lang: str) -> tuple[str, InlineKeyboardMarkup | None]:
    if not follows:
        return t(lang, "following_none"), None
    lines = [t(lang, "following")]
    lines += [f"{i}. {esc(f.topic)}" for i, f in enumerate(follows, 1)]
    buttons = [[InlineKeyboardButton(t(lang, "stop", n=i),
                                     callback_data=f"uf:{lang}:{f.follow_id}")]
               for i, f in enumerate(follows, 1)]  # fmt: skip
    return "\n".join(lines), InlineKeyboardMarkup(buttons)


async def on_following(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/following: the user's topics, each with a button to stop it."""
    svc = services(context)
    lang = user_lang(update)
    follows = await asyncio.to_thread(svc.follows.of_user, update.effective_user.id)
    text, buttons = following_text(follows, lang)
    await reply(update.effective_message, text, reply_markup=buttons)


async def on_unfollow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/unfollow N: stop the N-th topic of /following."""
    svc = services(context)
    lang = user_lang(update)
    user_id = update.effective_user.id
    follows = await asyncio.to_thread(svc.follows.of_user, user_id)
    arg = (context.args or [""])[0]
    if not arg.isdigit() or not 1 <= int(arg) <= len(follows):
        await reply(update.effective_message, t(lang, "unfollow_how"))
        return
    stopped = follows[int(arg) - 1]
    await asyncio.to_thread(svc.follows.unfollow, user_id, stopped.follow_id)
    await reply(update.effective_message, t(lang, "unfollowed", topic=esc(stopped.topic)))


async def stop_button(update: Update, svc: Services, lang: str, rest: str) -> None:
    """A /following button: stops that follow, only for the user it belongs to."""
    query = update.callback_query
    follow_id = int(rest) if rest.isdigit() else -1
    if not await asyncio.to_thread(svc.follows.unfollow, query.from_user.id, follow_id):
        log.warning("ignored a stop button of another user's follow by %s", query.from_user.id)
        await query.answer(t(lang, "no_such_follow"))
        return
    await query.answer()
    follows = await asyncio.to_thread(svc.follows.of_user, query.from_user.id)
    text, buttons = following_text(follows, lang)
    await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=buttons)


# -- telling followers ---------------------------------------------------------


async def announce(context: ContextTypes.DEFAULT_TYPE) -> None:
    """One round: the queued releases the served index holds, told to their followers."""
    svc = services(context)
    if svc.searcher is None or svc.announcing.locked():
        return
    async with svc.announcing:
        pending = await asyncio.to_thread(svc.follows.pending)
        if not pending:
            return
        follows = await asyncio.to_thread(svc.follows.all)
        if not follows:  # nobody to tell
            await asyncio.to_thread(svc.follows.done, pending)
            return
        await svc.refresh_if_changed()  # releases the CLI added are in the index on disk
        matcher = svc.topic_matcher()
        releases = await asyncio.to_thread(matcher.indexed, pending)
        matches = await asyncio.to_thread(matcher.match, [f.topic for f in follows], releases)
        await tell(context, svc, follows, matches)
        held = {r.doc_id for r in releases}
        # one the served index lacks waits for the next round, unless the corpus lost it
        gone = await asyncio.to_thread(
            lambda: [d for d in pending if d not in held and not svc.runtime.store.has_document(d)]
        )
        await asyncio.to_thread(svc.follows.done, [*held, *gone])


async def tell(context, svc: Services, follows: list[Follow], matches: list[TopicMatch]) -> None:
    """Each chat's releases, one message each or one digest."""
    by_topic = defaultdict(list)
    for f in follows:
        by_topic[f.topic].append(f)
    per_user: dict[tuple[int, int], dict[str, tuple[Follow, TopicMatch]]] = defaultdict(dict)
    for m in matches:  # best first: a release two of a user's topics match is told once
        for f in by_topic[m.topic]:
            per_user[(f.chat_id, f.user_id)].setdefault(m.doc_id, (f, m))
    store = svc.searcher.store
    for (chat_id, user_id), found in per_user.items():
        told = await asyncio.to_thread(svc.follows.told, user_id, list(found))
        new = {d: v for d, v in found.items() if d not in told}
        if not new:
            continue
        docs = {d: await asyncio.to_thread(store.get_document, d) for d in new}
        lang = next(iter(new.values()))[0].lang
        if len(new) > svc.settings.following.digest_after:
            texts = [digest_text(lang, new, docs)]
        else:
            texts = [release_text(lang, f.topic, m, docs[d]) for d, (f, m) in new.items()]
        try:
            for text in texts:
                await context.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML,
                                               disable_web_page_preview=True)  # fmt: skip
        except Forbidden:
            stopped = await asyncio.to_thread(svc.follows.unfollow_chat, chat_id)
            log.info("chat %s blocked the bot: %d follows stopped", chat_id, stopped)
            continue
        except BadRequest as exc:  # e.g. the chat is gone: the others are still told
            log.warning("could not tell chat %s of new releases: %s", chat_id, exc)
            continue
        await asyncio.to_thread(svc.follows.mark_told, user_id, list(new))


def _linked_title(doc, limit: int = 150) -> str:
    title = esc(excerpt(doc.title, limit))
    return f'<a href="{html.escape(doc.url, quote=True)}">{title}</a>' if doc.url else title


def release_text(lang: str, topic: str, match: TopicMatch, doc) -> str:
    return "\n".join([
        t(lang, "new_release", topic=esc(excerpt(topic, 100))),
        f"<b>{_linked_title(doc)}</b>",
        esc(doc.date or ""),
        f"<i>{esc(excerpt(match.sentence, 400))}</i>",
    ])  # fmt: skip


def digest_text(lang: str, found: dict[str, tuple[Follow, TopicMatch]], docs: dict) -> str:
    lines = [t(lang, "digest", count=len(found))]
    for i, (doc_id, (f, _)) in enumerate(list(found.items())[:DIGEST_LINES], 1):
        doc = docs[doc_id]
        lines.append(f"{i}. {_linked_title(doc, 120)} {esc(doc.date or '')} "
                     f"<i>({esc(excerpt(f.topic, 60))})</i>")  # fmt: skip
    if len(found) > DIGEST_LINES:
        lines.append(t(lang, "digest_more", count=len(found) - DIGEST_LINES))
    return "\n".join(lines)
