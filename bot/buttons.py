"""Buttons under the bot's messages: a suggested or example question, "Ещё", "Контекст", and
the expired or unknown ones.

Callback data is python-telegram-bot's arbitrary callback data: JSON-friendly tuples whose
first item names the kind — ("ask", question), ("more", question, context, offset),
("ctx", passage_id) — each kind with its own CallbackQueryHandler. Every tap counts against
the tapping user's flood limit and is answered exactly once, so the client's spinner stops.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot import render, texts
from bot.questions import PAGES, Asking, ask, before_texts, more_data, send
from bot.state import state
from bot.texts import Texts
from retrieval.results import SearchResult

log = logging.getLogger(__name__)


def kind(name: str):
    """A CallbackQueryHandler pattern: callback data that is a sequence starting with `name`
    (tuples come back as lists once persisted as JSON)."""

    def matches(data: object) -> bool:
        return isinstance(data, tuple | list) and len(data) > 0 and data[0] == name

    return matches


async def _chat_or_notice(query: CallbackQuery, t: Texts) -> int | None:
    """The chat to answer in; a button under a message sent in inline mode has none."""
    if query.message is None:
        await query.answer(t.button_expired)
        return None
    return query.message.chat.id


async def _over_limit(update: Update, context: ContextTypes.DEFAULT_TYPE, t: Texts) -> bool:
    wait = state(context).limiter.check(update.effective_user.id)
    if wait:
        await update.callback_query.answer(t.flood.format(seconds=max(1, round(wait))))
    return bool(wait)


async def ask_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An example or suggested question: answered as a new message that names the question."""
    query = update.callback_query
    t = texts.for_user(update.effective_user)
    chat_id = await _chat_or_notice(query, t)
    if chat_id is None:
        return
    await query.answer()
    question = str(query.data[1])
    # the flood limit is checked in `ask`, against the tapping user
    await ask(context, Asking(question, chat_id, update.effective_user.id, t, from_button=True))


async def more_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The next passages, as a new message; the button goes away from the old one."""
    query = update.callback_query
    t = texts.for_user(update.effective_user)
    chat_id = await _chat_or_notice(query, t)
    if chat_id is None or await _over_limit(update, context, t):
        return
    await query.answer()
    _, question, earlier, offset = query.data
    shared = state(context)
    top_k = shared.settings.top_k
    async with shared.answer_slots:
        result = await shared.service.ask(str(question), top_k * PAGES, context=earlier)
        page_hits = result.hits[int(offset) : int(offset) + top_k]
        before = await before_texts(shared.service, page_hits)
        reply = await asyncio.to_thread(render.more, result, int(offset), top_k, t, before)
        await _drop_button(query)
        await send(context, chat_id, reply.messages, _more_keyboard(result, reply, t))


def _more_keyboard(result: SearchResult, reply: render.Reply, t: Texts) -> InlineKeyboardMarkup | None:
    if reply.next_offset is None:
        return None
    more = InlineKeyboardButton(t.more_button, callback_data=more_data(result, reply.next_offset))
    return InlineKeyboardMarkup([[more]])


async def _drop_button(query: CallbackQuery) -> None:
    """Remove the tapped button from its message; a deleted or too old message keeps nothing
    to edit, and the answer is sent anyway."""
    message = query.message
    if message is None or not message.is_accessible or message.reply_markup is None:
        return
    rows = [[b for b in row if b.callback_data != query.data] for row in message.reply_markup.inline_keyboard]
    markup = InlineKeyboardMarkup([row for row in rows if row]) if any(rows) else None
    try:
        await message.edit_reply_markup(markup)
    except BadRequest as problem:
        log.info("could not edit the buttons of message %s: %s", message.message_id, problem)


async def context_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The paragraphs before and after a quoted one."""
    query = update.callback_query
    t = texts.for_user(update.effective_user)
    chat_id = await _chat_or_notice(query, t)
    if chat_id is None or await _over_limit(update, context, t):
        return
    passage_id = str(query.data[1])
    service = state(context).service
    found = await service.passage(passage_id)
    if found is None:  # reindexed away since
        await query.answer(t.button_expired)
        return
    await query.answer()
    passage, article = found
    around = (await service.surroundings([passage_id], before=1, after=1)).get(passage_id)
    previous = around.before[-1] if around and around.before else None
    following = around.after[0] if around and around.after else None
    message = await asyncio.to_thread(render.context_message, passage, article, (previous, following), t)
    await send(context, chat_id, [message])


async def expired_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button whose data is gone (restart without it, or too old) or was never ours."""
    await update.callback_query.answer(texts.for_user(update.effective_user).button_expired)
