"""Start and stop without losing questions: replaying the journal, errors, and a bounded shutdown.

On SIGTERM or SIGINT the bot stops taking updates, cancels a running build (the live index
stays as it is), and gives the updates being handled SHUTDOWN_GRACE seconds to finish.
Whatever is still running then is cancelled; those updates stay in the journal
(bot.journal) and are answered after the restart. So shutting down takes at most about
SHUTDOWN_GRACE seconds, even during a Telegram outage.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from telegram import Update
from telegram.error import BadRequest, NetworkError
from telegram.ext import Application, ContextTypes, SimpleUpdateProcessor

from bot import texts
from bot.journal import JournalingQueue, UpdateJournal
from bot.resilience import NO_RETRY
from retrieval.service import QAService

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 10.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class GracefulProcessor(SimpleUpdateProcessor):
    """Handles updates concurrently, clears each from the journal when done, and at shutdown
    cancels what still runs after the grace period (those stay in the journal)."""

    def __init__(self, max_concurrent_updates: int, journal: UpdateJournal) -> None:
        super().__init__(max_concurrent_updates)
        self._journal = journal
        self._running: dict[asyncio.Task, object] = {}
        self._closed = False

    async def do_process_update(self, update: object, coroutine) -> None:
        if self._closed:  # queued behind the running ones when the grace ran out
            coroutine.close()
            return
        task = asyncio.current_task()
        self._running[task] = update
        try:
            await coroutine
        except asyncio.CancelledError:
            if self._closed:
                return  # cut short by shutdown: stays in the journal
            raise
        finally:
            del self._running[task]
        if isinstance(update, Update):
            self._journal.done(update)

    def close_after(self, grace: float) -> None:
        asyncio.get_running_loop().call_later(grace, self._cancel_running)

    def _cancel_running(self) -> None:
        self._closed = True
        if self._running:
            log.warning("shutdown: %d updates still running after the grace period", len(self._running))
        for task in list(self._running):
            task.cancel()


class Lifecycle:
    """The bot's start (journal replay, stop signals) and its error handler."""

    def __init__(self, service: QAService, queue: JournalingQueue, processor: GracefulProcessor) -> None:
        self.service = service
        self.queue = queue
        self.journal = queue.journal
        self.processor = processor
        self._stopping = False

    async def start(self, application: Application) -> None:
        """From post_init: own the stop signals and queue what the last run left unanswered."""
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self.stop, application)
        replayed = self.queue.replay(application.bot)
        if replayed:
            log.info("answering %d updates left from the last run", replayed)

    def stop(self, application: Application) -> None:
        """Stop taking updates, cancel a running build, and bound the wait for running updates."""
        if self._stopping:
            return
        self._stopping = True
        log.info("stopping: running updates get %.0f s, a running build is cancelled", SHUTDOWN_GRACE)
        self.service.cancel_reindex()
        self.processor.close_after(SHUTDOWN_GRACE)
        application.stop_running()

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log with context first. When Telegram could not be reached, keep the update for the
        next start (an apology could not get through either); otherwise apologise, once."""
        log.error("error while handling an update", exc_info=context.error)
        if not isinstance(update, Update):
            return
        # TimedOut is a NetworkError; BadRequest is one too in python-telegram-bot, but a final one.
        if isinstance(context.error, NetworkError) and not isinstance(context.error, BadRequest):
            self.journal.undelivered(update)
            log.warning("update %s: answer not delivered, kept for the next start", update.update_id)
            return
        if update.effective_message:
            try:
                await update.effective_message.reply_text(
                    texts.for_user(update.effective_user).error, rate_limit_args=NO_RETRY
                )
            except Exception:  # the API itself may be what failed
                log.warning("could not send the apology", exc_info=True)
