"""Admin handlers: the article list, reindexing and article uploads."""

from __future__ import annotations

import logging
import secrets

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot import render, texts
from bot.state import PendingUpload, state
from retrieval.errors import (
    ArticleExistsError,
    ReindexBusyError,
    RetrievalError,
    UploadRejectedError,
)
from retrieval.index import BuildReport
from retrieval.service import CheckedUpload, QAService

admin_log = logging.getLogger("bot.admin")


async def sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the articles in the index."""
    t = texts.for_user(update.effective_user)
    for message in render.sources_messages(state(context).service.articles(), t):
        await update.effective_message.reply_text(message, parse_mode=ParseMode.HTML)


async def not_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Refuse admin actions to everyone else."""
    user = update.effective_user
    admin_log.warning("refused admin action to user %s", user.id if user else "?")
    await update.effective_message.reply_text(texts.for_user(user).not_admin)


async def reindex(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Rebuild the index from SEEDS_DIR while the old one keeps answering."""
    service = state(context).service
    message = update.effective_message
    t = texts.for_user(update.effective_user)
    admin_log.info("user %s: /reindex", update.effective_user.id)
    if service.reindexing:
        await message.reply_text(t.reindex_busy)
        return
    await message.reply_text(t.reindex_started)
    await run_reindex(message, service.reindex(), t)


async def run_reindex(message: Message, build, t: texts.Texts) -> None:
    try:
        report = await build
    except ReindexBusyError:
        await message.reply_text(t.reindex_busy)
    except (RetrievalError, OSError) as problem:
        admin_log.error("reindex failed: %s", problem)
        await message.reply_text(t.reindex_failed.format(problem=problem))
    else:
        admin_log.info("reindex done: %d passages", report.manifest.passages)
        await message.reply_text(reindex_summary(report, t))


def reindex_summary(report: BuildReport, t: texts.Texts) -> str:
    m = report.manifest

    def names(ids: list[str]) -> str:
        return ", ".join(ids) if ids else t.nothing

    summary = t.reindex_done.format(
        seconds=m.build_seconds,
        articles=m.articles,
        passages=m.passages,
        added=names(report.added),
        removed=names(report.removed),
        changed=names(report.changed),
    )
    if report.warnings:
        summary += "\n" + t.reindex_warnings + "\n" + "\n".join(f"– {w}" for w in report.warnings)
    return summary


async def document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An admin's .txt document becomes a new article."""
    shared = state(context)
    message = update.effective_message
    t = texts.for_user(update.effective_user)
    doc = message.document
    admin_log.info("user %s: upload %r (%s bytes)", update.effective_user.id, doc.file_name, doc.file_size)
    if not (doc.file_name or "").lower().endswith(".txt"):
        await message.reply_text(t.upload_not_txt)
        return
    if doc.file_size and doc.file_size > shared.settings.max_upload_bytes:
        limit = shared.settings.max_upload_bytes
        problem = f"{doc.file_size} bytes, more than the {limit} allowed"
        await message.reply_text(t.upload_rejected.format(problem=problem))
        return
    data = bytes(await (await doc.get_file()).download_as_bytearray())
    try:
        upload = shared.service.check_upload(doc.file_name, data)
    except ArticleExistsError:
        token = secrets.token_urlsafe(6)
        shared.uploads[token] = PendingUpload(doc.file_name, data, update.effective_user.id)
        buttons = [
            InlineKeyboardButton(t.upload_replace, callback_data=f"replace:{token}"),
            InlineKeyboardButton(t.upload_cancel, callback_data=f"cancel:{token}"),
        ]
        await message.reply_text(
            t.upload_exists.format(name=doc.file_name), reply_markup=InlineKeyboardMarkup([buttons])
        )
        return
    except UploadRejectedError as problem:
        await message.reply_text(t.upload_rejected.format(problem=problem))
        return
    await store_upload(message, shared.service, upload, t)


async def confirm_upload(
    update: Update, context: ContextTypes.DEFAULT_TYPE, replace: bool, token: str
) -> None:
    shared = state(context)
    message = update.callback_query.message
    user_id = update.effective_user.id
    t = texts.for_user(update.effective_user)
    pending = shared.uploads.get(token)
    if pending is None or pending.admin_id != user_id or user_id not in shared.settings.admin_ids:
        await message.reply_text(t.upload_expired)
        return
    del shared.uploads[token]
    await message.edit_reply_markup(None)
    if not replace:
        await message.reply_text(t.upload_cancelled)
        return
    admin_log.info("user %s: replaces %s", user_id, pending.file_name)
    try:
        upload = shared.service.check_upload(pending.file_name, pending.data, overwrite=True)
    except UploadRejectedError as problem:
        await message.reply_text(t.upload_rejected.format(problem=problem))
        return
    await store_upload(message, shared.service, upload, t)


async def confirm_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The "replace" / "cancel" buttons under an upload that would overwrite an article."""
    query = update.callback_query
    await query.answer()
    kind, _, token = (query.data or "").partition(":")
    await confirm_upload(update, context, kind == "replace", token)


async def store_upload(message: Message, service: QAService, upload: CheckedUpload, t: texts.Texts) -> None:
    if service.reindexing:
        await message.reply_text(t.reindex_busy)
        return
    await message.reply_text(t.upload_saved.format(name=upload.name))
    await run_reindex(message, service.add_article(upload), t)
