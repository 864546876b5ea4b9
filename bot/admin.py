"""Admin handlers: the corpus from Telegram (uploads with caption metadata, forwarded channel
posts, the article list with view and delete), reindexing, and the admins' command menu.

Every message here is for an editor, in the admin's Telegram language (Russian otherwise):
it names the file and says what to do, never an exception's English text.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import html
import logging
import math
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageOriginChannel,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, ContextTypes

from bot import render, texts
from bot.state import STATE_KEY, BotState, state
from retrieval.corpus import Source
from retrieval.errors import (
    ArticleExistsError,
    ArticleNotFoundError,
    CorpusError,
    ReindexBusyError,
    RetrievalError,
    ShrinkRefusedError,
    UploadRejectedError,
)
from retrieval.ingest import article_format, channel_post, parse_caption
from retrieval.service import ArticleSummary, BuildReport, CheckedUpload

admin_log = logging.getLogger("bot.admin")

ARTICLES_PER_PAGE = 5
HEAD_CHARS = 1500


def who(shared: BotState, update: Update) -> str:
    """The acting user for the log: a keyed hash, never the id."""
    user = update.effective_user
    return shared.store.hash.user(user.id)[:12] if user else "?"


async def set_admin_menus(application: Application, admin_ids: frozenset[int]) -> None:
    """Admins see the admin commands in their menu (a chat-scoped list); everyone else sees
    the user commands only."""
    t = texts.RU
    commands = [BotCommand(n, a) for n, a in {**t.commands, **t.admin_commands}.items()]
    hasher = application.bot_data[STATE_KEY].store.hash
    for admin_id in sorted(admin_ids):
        try:
            await application.bot.set_my_commands(commands, scope=BotCommandScopeChat(admin_id))
        except TelegramError as problem:  # e.g. an admin who never opened the bot: "chat not found"
            admin_log.warning("admin menu not set for %s: %s", hasher.user(admin_id)[:12], problem)


async def sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the articles in the index."""
    t = texts.for_user(update.effective_user)
    for message in render.sources_messages(await live_articles(state(context)), t):
        await update.effective_message.reply_text(message, parse_mode=ParseMode.HTML)


async def not_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Refuse admin actions to everyone else."""
    admin_log.warning("refused admin action to user %s", who(state(context), update))
    await update.effective_message.reply_text(texts.for_user(update.effective_user).not_admin)


def _is_admin(context: ContextTypes.DEFAULT_TYPE, update: Update) -> bool:
    user = update.effective_user
    return user is not None and user.id in state(context).settings.admin_ids


# -- problems in an editor's words ---------------------------------------------------------
def describe(problem: BaseException, t: texts.Texts) -> str:
    """A description, from the admin's catalogue, of what went wrong with a file."""
    if isinstance(problem, UploadRejectedError | CorpusError):
        code = problem.code
        name = problem.name if isinstance(problem, UploadRejectedError) else problem.path
        details: dict[str, Any] = dict(getattr(problem, "details", {}))
        if code == "too_big":
            details = {"size": math.ceil(int(details.get("size", 0)) / 1024), "limit": _kb(details)}
        template = getattr(t, f"problem_{code}", None) if code else None
        if isinstance(problem, CorpusError) and code is None and "does not exist" in problem.problem:
            return t.problem_missing
        return (template or t.problem_bad_text).format(name=name, **details)
    if isinstance(problem, OSError):
        return t.problem_disk_full if problem.errno == errno.ENOSPC else t.problem_disk
    return t.error


def _kb(details: dict[str, Any]) -> int:
    return int(details.get("limit", 0)) // 1024


def confirm_markup(token: str, yes: str, no: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(yes, callback_data=("confirm", token, True)),
          InlineKeyboardButton(no, callback_data=("confirm", token, False))]]
    )  # fmt: skip


async def send_durably(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, text: str, markup: InlineKeyboardMarkup
) -> Message:
    """Send a message whose buttons must outlive a crash right after it: the buttons' data goes
    into python-telegram-bot's callback data cache and from there into the store before the
    message leaves (a plain send would leave that to the next periodic flush)."""
    processed = context.bot.callback_data_cache.process_keyboard(markup)
    await context.application.update_persistence()
    return await context.bot.do_api_request(
        "sendMessage",
        api_kwargs={"chat_id": chat_id, "text": text, "reply_markup": processed},
        return_type=Message,
    )


async def ask_confirmation(
    message: Message, context: ContextTypes.DEFAULT_TYPE, text: str, token: str, yes: str, t: texts.Texts
) -> None:
    await send_durably(context, message.chat.id, text, confirm_markup(token, yes, t.upload_cancel))


# -- reindexing ----------------------------------------------------------------------------
async def reindex(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Rebuild the index from SEEDS_DIR while the old one keeps answering."""
    shared = state(context)
    message = update.effective_message
    t = texts.for_user(update.effective_user)
    admin_log.info("admin %s: /reindex", who(shared, update))
    if shared.service.reindexing:
        await message.reply_text(t.reindex_busy)
        return
    await message.reply_text(t.reindex_started)
    await run_reindex(message, update, context, t)


async def run_reindex(
    message: Message,
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    t: texts.Texts,
    allow_shrink: bool = False,
) -> None:
    shared = state(context)
    try:
        report = await shared.service.reindex(allow_shrink=allow_shrink)
    except ReindexBusyError:
        await message.reply_text(t.reindex_busy)
    except ShrinkRefusedError as refused:
        admin_log.warning("reindex held back: %s", refused)
        token = await shared.store.put_pending("reindex", update.effective_user.id, {})
        text = t.reindex_shrink.format(old=refused.old_articles, new=refused.new_articles)
        await ask_confirmation(message, context, text, token, t.reindex_shrink_yes, t)
    except (RetrievalError, OSError) as problem:
        admin_log.error("reindex failed: %s", problem)
        await message.reply_text(t.reindex_failed.format(problem=describe(problem, t)))
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
        said = [warning_text(w, t) for w in report.warnings]
        summary += "\n" + t.reindex_warnings + "\n" + "\n".join(f"– {w}" for w in said)
    return summary


def warning_text(warning: str, t: texts.Texts) -> str:
    """A corpus warning in the admin's words (the English text only for an unknown kind)."""
    template = getattr(t, f"warning_{getattr(warning, 'code', '')}", None)
    if template is None:
        return warning
    return template.format(name=warning.name, other=warning.other)


# -- new articles --------------------------------------------------------------------------
async def document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An admin's .txt/.md/.html document becomes an article; its caption sets the metadata."""
    shared = state(context)
    message = update.effective_message
    t = texts.for_user(update.effective_user)
    doc = message.document
    admin_log.info("admin %s: upload %r (%s bytes)", who(shared, update), doc.file_name, doc.file_size)
    if article_format(doc.file_name) is None:
        await message.reply_text(t.upload_not_txt)
        return
    limit = shared.settings.max_upload_bytes
    if doc.file_size and doc.file_size > limit:
        problem = UploadRejectedError("too_big", doc.file_name, "too big", size=doc.file_size, limit=limit)
        await message.reply_text(t.upload_rejected.format(problem=describe(problem, t)))
        return
    data = bytes(await (await doc.get_file()).download_as_bytearray())
    caption = parse_caption(message.caption)
    if caption.problems:
        await message.reply_text(
            t.caption_problems.format(
                problems="\n".join(
                    f"– {getattr(t, f'caption_{p.code}').format(text=p.text)}" for p in caption.problems
                )
            )
        )
    source = caption.source if caption.source != Source() else None
    await add_article(message, update, context, t, doc.file_name, data, source)


async def forwarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A channel post forwarded by an admin becomes an article: the channel as outlet, the
    post's date, its t.me link when the channel is public."""
    message = update.effective_message
    t = texts.for_user(update.effective_user)
    origin = message.forward_origin
    if not isinstance(origin, MessageOriginChannel):
        await message.reply_text(t.post_not_channel)
        return
    text = message.text or message.caption
    if not text:
        if message.media_group_id is None:  # an album's text rides on one of its parts
            await message.reply_text(t.post_no_text)
        return
    admin_log.info(
        "admin %s: forwarded post %s/%s", who(state(context), update), origin.chat.id, origin.message_id
    )
    name, source = channel_post(
        text, origin.chat.title, origin.chat.username, origin.chat.id, origin.message_id, origin.date
    )
    await add_article(message, update, context, t, name, text.encode("utf-8"), source)


async def add_article(
    message: Message,
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    t: texts.Texts,
    file_name: str | None,
    data: bytes,
    source: Source | None,
    overwrite: bool = False,
) -> None:
    shared = state(context)
    try:
        upload = await shared.service.check_upload(file_name, data, source, overwrite=overwrite)
    except ArticleExistsError as exists:
        payload = {"name": file_name, "source": _source_json(source)}
        token = await shared.store.put_pending("upload", update.effective_user.id, payload, data)
        await ask_confirmation(
            message, context, t.upload_exists.format(name=exists.name), token, t.upload_replace, t
        )
        return
    except (UploadRejectedError, OSError) as problem:  # OSError: the corpus folder could not be read
        await message.reply_text(t.upload_rejected.format(problem=describe(problem, t)))
        return
    await save_and_reindex(message, update, context, upload, t)


async def save_and_reindex(
    message: Message,
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    upload: CheckedUpload,
    t: texts.Texts,
) -> None:
    service = state(context).service
    if service.reindexing:
        await message.reply_text(t.reindex_busy)
        return
    try:
        await service.save_article(upload)
    except ArticleExistsError as exists:  # another admin saved the same name meanwhile
        await message.reply_text(t.upload_rejected.format(problem=t.upload_exists.format(name=exists.name)))
        return
    except OSError as problem:
        admin_log.error("saving %s failed: %s", upload.name, problem)
        await message.reply_text(t.upload_save_failed.format(name=upload.name, problem=describe(problem, t)))
        return
    lines = [t.upload_saved.format(name=upload.name)]
    if upload.renamed:
        lines.append(t.upload_renamed.format(given=upload.given_name, name=upload.name))
    if upload.source is not None:
        lines.append(t.metadata_saved.format(fields=metadata_text(upload.source, t)))
    await message.reply_text("\n".join(lines))
    await run_reindex(message, update, context, t)


def metadata_text(source: Source, t: texts.Texts) -> str:
    parts = []
    for key, label in t.metadata_labels.items():
        value = getattr(source, key)
        if value:
            shown = t.date(value.day, value.month, value.year) if isinstance(value, dt.date) else value
            parts.append(f"{label} — {shown}")
    return "; ".join(parts)


def _source_json(source: Source | None) -> dict[str, str] | None:
    if source is None:
        return None
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in vars(source).items() if v}


def _source_from_json(raw: dict[str, str] | None) -> Source | None:
    if raw is None:
        return None
    return Source(**{**raw, "date": dt.date.fromisoformat(raw["date"]) if raw.get("date") else None})


# -- the article list ----------------------------------------------------------------------
async def live_articles(shared: BotState) -> list[ArticleSummary]:
    """The live index's articles, counted off the event loop (a pass over every passage)."""
    return await asyncio.to_thread(shared.service.articles)


def articles_page(
    summaries: list[ArticleSummary], page: int, t: texts.Texts
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of the articles, newest first (undated last), with view/delete buttons."""
    summaries = sorted(summaries, key=render.newest_first)
    if not summaries:
        return t.articles_empty, None
    pages = math.ceil(len(summaries) / ARTICLES_PER_PAGE)
    page = min(max(page, 0), pages - 1)
    first = page * ARTICLES_PER_PAGE
    lines = [t.articles_header.format(count=len(summaries), page=page + 1, pages=pages)]
    rows = []
    for number, summary in enumerate(summaries[first : first + ARTICLES_PER_PAGE], start=first + 1):
        article = summary.article
        date = article.date
        lines.append(
            t.articles_item.format(
                number=number,
                label=html.escape(article.label()),
                date=t.date(date.day, date.month, date.year) if date else t.undated,
                passages=summary.passages,
                name=html.escape(article.file_name),
            )
        )
        rows.append(
            [
                InlineKeyboardButton(
                    t.article_head_button.format(number=number),
                    callback_data=("article", "head", article.file_name),
                ),
                InlineKeyboardButton(
                    t.article_delete_button.format(number=number),
                    callback_data=("article", "delete", article.file_name),
                ),
            ]
        )
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton(t.articles_prev, callback_data=("articles", page - 1)))
    if page < pages - 1:
        nav.append(InlineKeyboardButton(t.articles_next, callback_data=("articles", page + 1)))
    if nav:
        rows.append(nav)
    return "\n\n".join(lines), InlineKeyboardMarkup(rows)


async def articles(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/articles: the first page of the article list."""
    t = texts.for_user(update.effective_user)
    text, markup = articles_page(await live_articles(state(context)), 0, t)
    await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


async def articles_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """← / → under the article list: show another page in the same message."""
    query = update.callback_query
    await query.answer()
    if not _is_admin(context, update):
        await not_admin(update, context)
        return
    t = texts.for_user(update.effective_user)
    text, markup = articles_page(await live_articles(state(context)), int(query.data[1]), t)
    try:
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
    except BadRequest:  # the list message is gone (or unchanged): send the page anew
        await context.bot.send_message(
            update.effective_chat.id, text, parse_mode=ParseMode.HTML, reply_markup=markup
        )


async def article_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """ "Начало N" shows an article's first paragraph; "Удалить N" asks to confirm the delete."""
    query = update.callback_query
    await query.answer()
    if not _is_admin(context, update):
        await not_admin(update, context)
        return
    shared = state(context)
    t = texts.for_user(update.effective_user)
    _, action, name = query.data
    chat = update.effective_chat.id
    summary = next((s for s in await live_articles(shared) if s.article.file_name == name), None)
    if summary is None:
        await context.bot.send_message(chat, t.article_gone.format(name=name))
        return
    if action == "head":
        head = await asyncio.to_thread(shared.service.first_passage, summary.article.article_id) or ""
        if len(head) > HEAD_CHARS:
            head = head[:HEAD_CHARS].rsplit(" ", 1)[0] + " …"
        text = t.article_head.format(name=html.escape(name), text=html.escape(head))
        await context.bot.send_message(chat, text, parse_mode=ParseMode.HTML)
        return
    token = await shared.store.put_pending("delete", update.effective_user.id, {"name": name})
    text = t.delete_confirm.format(name=name, label=summary.article.label())
    await context.bot.send_message(
        chat, text, reply_markup=confirm_markup(token, t.delete_yes, t.upload_cancel)
    )
    await context.application.update_persistence()


# -- confirmations -------------------------------------------------------------------------
async def confirm_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Yes / no under a pending admin action (replace an article, delete one, a shrinking reindex)."""
    query = update.callback_query
    await query.answer()
    shared = state(context)
    t = texts.for_user(update.effective_user)
    _, token, yes = query.data
    reply_to = query.message
    pending = await shared.store.take_pending(token, update.effective_user.id)
    if pending is None or not _is_admin(context, update) or not isinstance(reply_to, Message):
        await context.bot.send_message(update.effective_chat.id, t.confirm_expired)
        return
    with contextlib.suppress(BadRequest):  # already without buttons: nothing to take away
        await query.edit_message_reply_markup(None)
    admin_log.info("admin %s: %s %s", who(shared, update), "confirms" if yes else "cancels", pending.kind)
    if not yes:
        await context.bot.send_message(update.effective_chat.id, t.cancelled)
        return
    if pending.kind == "upload":
        source = _source_from_json(pending.payload.get("source"))
        await add_article(
            reply_to, update, context, t, pending.payload["name"], pending.data, source, overwrite=True
        )
    elif pending.kind == "delete":
        name = pending.payload["name"]
        try:
            trash = await shared.service.delete_article(name)
        except ArticleNotFoundError:
            await reply_to.reply_text(t.article_gone.format(name=name))
            return
        except OSError as problem:
            await reply_to.reply_text(t.upload_save_failed.format(name=name, problem=describe(problem, t)))
            return
        await reply_to.reply_text(t.deleted.format(name=name, trash=f"{trash.parent.name}/{trash.name}"))
        await run_reindex(reply_to, update, context, t)
    elif pending.kind == "reindex":
        await reply_to.reply_text(t.reindex_started)
        await run_reindex(reply_to, update, context, t, allow_shrink=True)
