"""The error handler: log with context first, then apologise briefly."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ContextTypes

from bot import texts

log = logging.getLogger(__name__)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log with context first, then apologise briefly."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message:
        try:
            await update.effective_message.reply_text(texts.for_user(update.effective_user).error)
        except Exception:  # the API itself may be what failed
            log.warning("could not send the apology", exc_info=True)
