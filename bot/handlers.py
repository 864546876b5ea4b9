"""Telegram handlers: parse the update, call the service, render, reply."""

from __future__ import annotations

import html
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.ext import ContextTypes

from bot import render, texts
from bot.state import state

log = logging.getLogger(__name__)

PAGES = 4  # "Ещё" reaches at most PAGES * TOP_K passages
MIN_QUESTION_CHARS = 2


def examples_keyboard(t: texts.Texts) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(q, callback_data=f"ask:{i}")] for i, q in enumerate(t.examples)]
    )


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet, say what the bot knows, offer example questions."""
    t = texts.for_user(update.effective_user)
    outlets = render.outlets(state(context).service.articles())
    await update.effective_message.reply_text(
        t.start.format(outlets=outlets), parse_mode=ParseMode.HTML, reply_markup=examples_keyboard(t)
    )


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """How to ask, what answers contain, the commands."""
    t = texts.for_user(update.effective_user)
    await update.effective_message.reply_text(
        t.help.format(bot=html.escape(context.bot.username or "")), parse_mode=ParseMode.HTML
    )


async def question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a text question with quoted passages."""
    message = update.effective_message
    text = addressed_text(message, context)
    if text is None:
        return
    await answer(message, context, text, texts.for_user(update.effective_user))


def addressed_text(message: Message, context: ContextTypes.DEFAULT_TYPE) -> str | None:
    """The question, or None in a group when the message is not meant for the bot."""
    text = message.text or ""
    if message.chat.type == ChatType.PRIVATE:
        return text
    mention = f"@{context.bot.username}".lower() if context.bot.username else None
    replied = message.reply_to_message
    if replied and replied.from_user and replied.from_user.id == context.bot.id:
        return text
    if mention and mention in text.lower():
        start = text.lower().index(mention)
        return (text[:start] + text[start + len(mention) :]).strip()
    return None


async def answer(message: Message, context: ContextTypes.DEFAULT_TYPE, text: str, t: texts.Texts) -> None:
    shared = state(context)
    problem = question_problem(text, shared.settings.max_question_chars, t)
    if problem:
        await message.reply_text(problem)
        return
    user_id = message.from_user.id if message.from_user else message.chat.id
    wait = shared.limiter.check(user_id)
    if wait:
        await message.reply_text(t.flood.format(seconds=max(1, round(wait))))
        return
    await message.chat.send_action(ChatAction.TYPING)
    await reply_page(message, context, text.strip(), 0, t)


async def reply_page(
    message: Message, context: ContextTypes.DEFAULT_TYPE, text: str, offset: int, t: texts.Texts
) -> None:
    shared = state(context)
    top_k = shared.settings.top_k
    result = await shared.service.ask(text, top_k * PAGES)
    page = render.answer_page(result, offset, top_k, t)
    if result.abstained:
        markup = examples_keyboard(t)
    elif page.has_more:
        token = shared.remember(text)
        more = InlineKeyboardButton(t.more_button, callback_data=f"more:{token}:{offset + page.shown}")
        markup = InlineKeyboardMarkup([[more]])
    else:
        markup = None
    for i, body in enumerate(page.messages):
        last = i == len(page.messages) - 1
        await message.reply_text(
            body,
            parse_mode=ParseMode.HTML,
            reply_markup=markup if last else None,
            do_quote=i == 0,  # the answer replies to its question: clear in groups, countable in tests
        )


def question_problem(text: str, limit: int, t: texts.Texts) -> str | None:
    stripped = text.strip()
    letters = sum(ch.isalnum() for ch in stripped)
    if not letters:  # nothing, whitespace, emoji or punctuation only
        return t.empty_question
    if len(stripped) > limit:
        return t.question_too_long.format(limit=limit)
    if letters < MIN_QUESTION_CHARS:
        return t.question_too_short
    return None


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Example questions and "Ещё"."""
    query = update.callback_query
    await query.answer()
    t = texts.for_user(update.effective_user)
    kind, _, rest = (query.data or "").partition(":")
    message = query.message
    if kind == "ask" and rest.isdigit() and int(rest) < len(t.examples):
        await answer(message, context, t.examples[int(rest)], t)
    elif kind == "more":
        token, _, offset = rest.partition(":")
        remembered = state(context).questions.get(token)
        if remembered is None or not offset.isdigit():
            await message.reply_text(t.more_expired)
            return
        await message.edit_reply_markup(None)
        await reply_page(message, context, remembered, int(offset), t)


async def non_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, voice and the like: say what the bot can do."""
    message = update.effective_message
    if message.chat.type == ChatType.PRIVATE or addressed_text(message, context) is not None:
        await message.reply_text(texts.for_user(update.effective_user).non_text)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log with context first, then apologise briefly."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message:
        try:
            await update.effective_message.reply_text(texts.for_user(update.effective_user).error)
        except Exception:  # the API itself may be what failed
            log.warning("could not send the apology", exc_info=True)
