"""What users think and ask: 👍/👎 under answers (a 👎 asks what was wrong), the question log
written after each answer, and the admins' /stats and /export."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import html
import io
import logging
import secrets
import time
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot import texts
from bot.state import state
from bot.store import REASONS, QuestionRecord, Stats, Vote
from retrieval.results import SearchResult

if TYPE_CHECKING:
    from bot.questions import Asking

log = logging.getLogger(__name__)

STATS_DAYS = 30
IN_FLIGHT_WAIT = 10.0  # seconds a vote waits for its answer's log row (written after sending)
PER_DAY_SHOWN = 14


def new_answer_key() -> str:
    """Names one answer in its vote buttons and in the question log."""
    return secrets.token_urlsafe(9)


def with_votes(markup: InlineKeyboardMarkup | None, answer_key: str) -> InlineKeyboardMarkup:
    """An answer's keyboard with the 👍/👎 row under it."""
    votes = [
        InlineKeyboardButton("👍", callback_data=("vote", answer_key, 1)),
        InlineKeyboardButton("👎", callback_data=("vote", answer_key, -1)),
    ]
    return InlineKeyboardMarkup([*(markup.inline_keyboard if markup else ()), votes])


async def log_answer(
    context: ContextTypes.DEFAULT_TYPE, asking: Asking, result: SearchResult, answer_key: str, started: float
) -> None:
    """Record an answered question (after the reply was sent: the latency includes sending).
    A failing store costs the row, never the answer."""
    record = QuestionRecord(
        answer_key=answer_key,
        user_id=asking.user_id,
        chat_type="private" if asking.chat_id == asking.user_id else "group",
        language=asking.t.lang,
        question=result.query,
        confidence=result.confidence,
        passage_ids=tuple(h.passage.passage_id for h in result.hits[:10]),
        latency_ms=round((time.monotonic() - started) * 1000),
    )
    try:
        await state(context).store.log_question(record)
    except Exception:
        log.exception("question log write failed")


async def vote(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """👍 or 👎 under an answer: one vote per user and answer, the last one counts."""
    query = update.callback_query
    t = texts.for_user(update.effective_user)
    _, answer_key, value = query.data
    in_flight = state(context).answers_in_flight.get(answer_key)
    if in_flight is not None:  # tapped before the answer's log row was written
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(in_flight.wait(), IN_FLIGHT_WAIT)
    recorded = await state(context).store.vote(answer_key, update.effective_user.id, int(value))
    if not recorded:
        await query.answer(t.vote_gone)
        return
    await query.answer(t.vote_thanks)
    if value < 0 and recorded is not Vote.SAME:  # ask once, not at every tap
        reasons = {
            "wrong_passage": t.reason_wrong_passage,
            "no_answer": t.reason_no_answer,
            "wrong_source": t.reason_wrong_source,
        }
        buttons = [
            [InlineKeyboardButton(reasons[r], callback_data=("reason", answer_key, r))] for r in REASONS
        ]
        await context.bot.send_message(
            update.effective_chat.id, t.vote_why, reply_markup=InlineKeyboardMarkup(buttons)
        )


async def reason(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Why the 👎: recorded on the user's own vote, then the question disappears."""
    query = update.callback_query
    t = texts.for_user(update.effective_user)
    _, answer_key, why = query.data
    if why not in REASONS or not await state(context).store.vote_reason(
        answer_key, update.effective_user.id, why
    ):
        await query.answer(t.vote_gone)
        return
    await query.answer()
    await query.edit_message_text(t.reason_thanks)


def render_stats(stats: Stats, t: texts.Texts) -> str:
    if not stats.total:
        return t.stats_empty.format(days=stats.days)
    share = {c: round(100 * stats.confidence.get(c, 0) / stats.total) for c in ("high", "low", "none")}
    lines = [
        t.stats_header.format(days=stats.days, total=stats.total),
        t.stats_per_day,
        *(f"{day}: {count}" for day, count in stats.per_day[-PER_DAY_SHOWN:]),
        t.stats_confidence.format(**share),
        t.stats_latency.format(ms=round(stats.median_latency_ms or 0)),
        t.stats_feedback.format(up=stats.votes_up, down=stats.votes_down),
    ]
    if stats.reasons:
        lines.append(t.stats_reasons.format(**{r: stats.reasons.get(r, 0) for r in REASONS}))
    if stats.missed:
        lines.append(t.stats_missed)
        lines.extend(f"{count} × {html.escape(question)}" for question, count in stats.missed)
    return "\n".join(lines)


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stats (admins): questions per day, confidence shares, reply time, votes, what is missing."""
    t = texts.for_user(update.effective_user)
    summary = await state(context).store.stats(days=STATS_DAYS)
    await update.effective_message.reply_text(render_stats(summary, t), parse_mode=ParseMode.HTML)


def csv_bytes(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")  # the BOM makes spreadsheet programs read UTF-8


async def export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/export (admins): the question log as a CSV document."""
    t = texts.for_user(update.effective_user)
    rows = await state(context).store.export_rows()
    if not rows:
        await update.effective_message.reply_text(t.export_empty)
        return
    data = await asyncio.to_thread(csv_bytes, rows)
    name = f"questions-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M}.csv"
    await update.effective_message.reply_document(
        InputFile(data, filename=name), caption=t.export_caption.format(rows=len(rows))
    )
