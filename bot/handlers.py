"""Telegram handlers: parse the update, call the service, render, reply."""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.ext import ContextTypes

from bot import render, texts
from bot.config import BotSettings
from bot.ratelimit import FloodLimiter
from retrieval.errors import (
    ArticleExistsError,
    ReindexBusyError,
    RetrievalError,
    UploadRejectedError,
)
from retrieval.index import BuildReport
from retrieval.service import CheckedUpload, QAService

log = logging.getLogger(__name__)
admin_log = logging.getLogger("bot.admin")

PAGES = 4  # "Ещё" reaches at most PAGES * TOP_K passages
REMEMBERED_QUESTIONS = 2000
MIN_QUESTION_CHARS = 2


@dataclass
class PendingUpload:
    file_name: str
    data: bytes
    admin_id: int


@dataclass
class BotState:
    """Everything the handlers share, reached through `state(context)`."""

    service: QAService
    settings: BotSettings
    limiter: FloodLimiter
    questions: OrderedDict[str, str] = field(default_factory=OrderedDict)
    uploads: dict[str, PendingUpload] = field(default_factory=dict)

    def remember(self, question: str) -> str:
        token = secrets.token_urlsafe(6)
        self.questions[token] = question
        while len(self.questions) > REMEMBERED_QUESTIONS:
            self.questions.popitem(last=False)
        return token


STATE_KEY = "state"


def state(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    return context.application.bot_data[STATE_KEY]


def examples_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(q, callback_data=f"ask:{i}")] for i, q in enumerate(texts.EXAMPLE_QUESTIONS)]
    )


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet, say what the bot knows, offer example questions."""
    await update.effective_message.reply_text(texts.START, reply_markup=examples_keyboard())


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """How to ask, what answers contain, the commands."""
    await update.effective_message.reply_text(texts.HELP, parse_mode=ParseMode.HTML)


async def sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the articles in the index."""
    for message in render.sources_messages(state(context).service.articles()):
        await update.effective_message.reply_text(message, parse_mode=ParseMode.HTML)


async def question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a text question with quoted passages."""
    message = update.effective_message
    text = addressed_text(message, context)
    if text is None:
        return
    await answer(message, context, text, offset=0)


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


async def answer(message: Message, context: ContextTypes.DEFAULT_TYPE, text: str, offset: int) -> None:
    shared = state(context)
    problem = question_problem(text, shared.settings.max_question_chars)
    if problem:
        await message.reply_text(problem)
        return
    user_id = message.from_user.id if message.from_user else message.chat.id
    wait = shared.limiter.check(user_id)
    if wait:
        await message.reply_text(texts.FLOOD.format(seconds=max(1, round(wait))))
        return
    await message.chat.send_action(ChatAction.TYPING)
    await reply_page(message, context, text.strip(), offset)


async def reply_page(message: Message, context: ContextTypes.DEFAULT_TYPE, text: str, offset: int) -> None:
    shared = state(context)
    top_k = shared.settings.top_k
    result = await shared.service.ask(text, top_k * PAGES)
    page = render.answer_page(result, offset, top_k)
    if result.abstained:
        markup = examples_keyboard()
    elif page.has_more:
        token = shared.remember(text)
        more = InlineKeyboardButton(texts.MORE_BUTTON, callback_data=f"more:{token}:{offset + page.shown}")
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


def question_problem(text: str, limit: int) -> str | None:
    stripped = text.strip()
    letters = sum(ch.isalnum() for ch in stripped)
    if not letters:  # nothing, whitespace, emoji or punctuation only
        return texts.EMPTY_QUESTION
    if len(stripped) > limit:
        return texts.QUESTION_TOO_LONG.format(limit=limit)
    if letters < MIN_QUESTION_CHARS:
        return texts.QUESTION_TOO_SHORT
    return None


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Example questions, "Ещё", and upload confirmations."""
    query = update.callback_query
    await query.answer()
    kind, _, rest = (query.data or "").partition(":")
    message = query.message
    if kind == "ask" and rest.isdigit() and int(rest) < len(texts.EXAMPLE_QUESTIONS):
        await answer(message, context, texts.EXAMPLE_QUESTIONS[int(rest)], offset=0)
    elif kind == "more":
        token, _, offset = rest.partition(":")
        remembered = state(context).questions.get(token)
        if remembered is None or not offset.isdigit():
            await message.reply_text(texts.MORE_EXPIRED)
            return
        await message.edit_reply_markup(None)
        await reply_page(message, context, remembered, int(offset))
    elif kind in ("replace", "cancel"):
        await confirm_upload(update, context, kind == "replace", rest)


async def non_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, voice and the like: say what the bot can do."""
    message = update.effective_message
    if message.chat.type == ChatType.PRIVATE or addressed_text(message, context) is not None:
        await message.reply_text(texts.NON_TEXT)


async def not_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Refuse admin actions to everyone else."""
    user = update.effective_user
    admin_log.warning("refused admin action to user %s", user.id if user else "?")
    await update.effective_message.reply_text(texts.NOT_ADMIN)


async def reindex(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Rebuild the index from SEEDS_DIR while the old one keeps answering."""
    service = state(context).service
    message = update.effective_message
    admin_log.info("user %s: /reindex", update.effective_user.id)
    if service.reindexing:
        await message.reply_text(texts.REINDEX_BUSY)
        return
    await message.reply_text(texts.REINDEX_STARTED)
    await run_reindex(message, service.reindex())


async def run_reindex(message: Message, build) -> None:
    try:
        report = await build
    except ReindexBusyError:
        await message.reply_text(texts.REINDEX_BUSY)
    except (RetrievalError, OSError) as problem:
        admin_log.error("reindex failed: %s", problem)
        await message.reply_text(texts.REINDEX_FAILED.format(problem=problem))
    else:
        admin_log.info("reindex done: %d passages", report.manifest.passages)
        await message.reply_text(reindex_summary(report))


def reindex_summary(report: BuildReport) -> str:
    m = report.manifest

    def names(ids: list[str]) -> str:
        return ", ".join(ids) if ids else texts.NOTHING

    summary = texts.REINDEX_DONE.format(
        seconds=m.build_seconds,
        articles=m.articles,
        passages=m.passages,
        added=names(report.added),
        removed=names(report.removed),
        changed=names(report.changed),
    )
    if report.warnings:
        summary += "\n" + texts.REINDEX_WARNINGS + "\n" + "\n".join(f"– {w}" for w in report.warnings)
    return summary


async def document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An admin's .txt document becomes a new article."""
    shared = state(context)
    message = update.effective_message
    doc = message.document
    admin_log.info("user %s: upload %r (%s bytes)", update.effective_user.id, doc.file_name, doc.file_size)
    if not (doc.file_name or "").lower().endswith(".txt"):
        await message.reply_text(texts.UPLOAD_NOT_TXT)
        return
    if doc.file_size and doc.file_size > shared.settings.max_upload_bytes:
        limit = shared.settings.max_upload_bytes
        problem = f"{doc.file_size} bytes, more than the {limit} allowed"
        await message.reply_text(texts.UPLOAD_REJECTED.format(problem=problem))
        return
    data = bytes(await (await doc.get_file()).download_as_bytearray())
    try:
        upload = shared.service.check_upload(doc.file_name, data)
    except ArticleExistsError:
        token = secrets.token_urlsafe(6)
        shared.uploads[token] = PendingUpload(doc.file_name, data, update.effective_user.id)
        buttons = [
            InlineKeyboardButton(texts.UPLOAD_REPLACE, callback_data=f"replace:{token}"),
            InlineKeyboardButton(texts.UPLOAD_CANCEL, callback_data=f"cancel:{token}"),
        ]
        await message.reply_text(
            texts.UPLOAD_EXISTS.format(name=doc.file_name), reply_markup=InlineKeyboardMarkup([buttons])
        )
        return
    except UploadRejectedError as problem:
        await message.reply_text(texts.UPLOAD_REJECTED.format(problem=problem))
        return
    await store_upload(message, shared.service, upload)


async def confirm_upload(
    update: Update, context: ContextTypes.DEFAULT_TYPE, replace: bool, token: str
) -> None:
    shared = state(context)
    message = update.callback_query.message
    user_id = update.effective_user.id
    pending = shared.uploads.get(token)
    if pending is None or pending.admin_id != user_id or user_id not in shared.settings.admin_ids:
        await message.reply_text(texts.UPLOAD_EXPIRED)
        return
    del shared.uploads[token]
    await message.edit_reply_markup(None)
    if not replace:
        await message.reply_text(texts.UPLOAD_CANCELLED)
        return
    admin_log.info("user %s: replaces %s", user_id, pending.file_name)
    try:
        upload = shared.service.check_upload(pending.file_name, pending.data, overwrite=True)
    except UploadRejectedError as problem:
        await message.reply_text(texts.UPLOAD_REJECTED.format(problem=problem))
        return
    await store_upload(message, shared.service, upload)


async def store_upload(message: Message, service: QAService, upload: CheckedUpload) -> None:
    if service.reindexing:
        await message.reply_text(texts.REINDEX_BUSY)
        return
    await message.reply_text(texts.UPLOAD_SAVED.format(name=upload.name))
    await run_reindex(message, service.add_article(upload))


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log with context first, then apologise briefly."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message:
        try:
            await update.effective_message.reply_text(texts.ERROR)
        except Exception:  # the API itself may be what failed
            log.warning("could not send the apology", exc_info=True)
