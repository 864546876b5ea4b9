"""Inline mode: "@bot вопрос" in any chat lists the best passages; choosing one sends the quote
with its speaker, source, date and link into that chat."""

from __future__ import annotations

import asyncio
import logging

from telegram import InlineQueryResultArticle, InputTextMessageContent, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot import deeplink, render, texts
from bot.questions import NO_PREVIEW, before_texts, question_problem
from bot.state import state

log = logging.getLogger(__name__)

INLINE_RESULTS = 5
CACHE_SECONDS = 60  # answers change only on a reindex


def _article(entry: render.InlineEntry) -> InlineQueryResultArticle:
    content = InputTextMessageContent(
        entry.message, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
    )
    return InlineQueryResultArticle(entry.result_id, entry.title, content, description=entry.description)


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer an inline query with passages; an empty or unusable one with a short how-to."""
    query = update.inline_query
    t = texts.for_user(query.from_user)
    shared = state(context)
    text = " ".join(query.query.split())
    username = context.bot.username or ""
    if shared.inline_limiter.check(query.from_user.id):  # typing fires a query every few letters
        await query.answer([], cache_time=0)
        return
    if question_problem(text, shared.settings.max_question_chars, t):
        how_to = t.inline_help_text.format(bot=username)
        entries = [render.InlineEntry("help", t.inline_help_title, how_to, how_to)]
    else:
        async with shared.answer_slots:
            result = await shared.service.ask(text, INLINE_RESULTS)
            before = await before_texts(shared.service, result.hits[:INLINE_RESULTS])
        payload = deeplink.question_payload(text)
        link = deeplink.start_link(username, payload) if payload and username else None
        entries = await asyncio.to_thread(render.inline_entries, result, t, before, link, INLINE_RESULTS)
    try:
        await query.answer([_article(e) for e in entries], cache_time=CACHE_SECONDS)
    except BadRequest as problem:  # the user typed on: this query is already superseded
        log.info("inline answer not delivered: %s", problem)
