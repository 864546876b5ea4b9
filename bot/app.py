"""Wiring: the Application with its handlers, and how it runs (polling or webhook)."""

from __future__ import annotations

import asyncio
import gc
import logging
import secrets

from telegram import BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot import admin, buttons, feedback, inline, questions, texts
from bot.config import BotSettings
from bot.journal import JournalingQueue, UpdateJournal
from bot.lifecycle import GracefulProcessor, Lifecycle
from bot.persistence import StorePersistence
from bot.ratelimit import FloodLimiter
from bot.resilience import RetryingLimiter
from bot.state import STATE_KEY, BotState
from bot.store import Store, StoreConversations
from retrieval.service import QAService

log = logging.getLogger(__name__)
CONCURRENT_UPDATES = 64
# Connections to the Bot API. httpcore checks every pooled connection on each request, so a
# big pool costs the event loop more the busier the bot is; Telegram delivers about 30
# messages a second per bot, which 16 connections carry even at 0.5 s a request.
CONNECTIONS = 16
ADMIN_NOTICE_TIMEOUT = 30.0
CALLBACK_DATA_CACHE = 4096  # keyboards whose buttons still work; older ones answer "expired"
JOURNAL_FOLDER = "updates"  # in DATA_DIR


async def _register_profile(application: Application) -> None:
    """Register the command menu and the profile texts, per language (Russian by default)."""
    bot = application.bot
    for lang, t in texts.catalogues().items():
        code = None if lang == texts.FALLBACK else lang
        commands = [BotCommand(name, about) for name, about in t.commands.items()]
        await bot.set_my_commands(commands, language_code=code)
        try:
            await bot.set_my_description(t.description, language_code=code)
            await bot.set_my_short_description(t.short_description, language_code=code)
        except TelegramError as problem:  # the profile is cosmetic: never a reason not to start
            log.warning("could not set the %s bot description: %s", lang, problem)
    await admin.set_admin_menus(application, application.bot_data[STATE_KEY].settings.admin_ids)


async def _warn_admins_of_a_stale_index(application: Application) -> None:
    shared: BotState = application.bot_data[STATE_KEY]
    reason = shared.service.stale_reason
    if reason is None:
        return
    text = texts.RU.index_stale.format(problem=reason)  # no user to take a language from
    for admin_id in sorted(shared.settings.admin_ids):
        try:
            # Bounded: an admin the API cannot reach must not hold up the start.
            await asyncio.wait_for(application.bot.send_message(admin_id, text), ADMIN_NOTICE_TIMEOUT)
        except (TelegramError, TimeoutError) as problem:
            who = shared.store.hash.user(admin_id)[:12]  # never a raw id in the log
            log.warning("could not tell admin %s that the index is stale: %r", who, problem)


def build_application(settings: BotSettings, service: QAService) -> Application:
    token = settings.telegram_bot_token.get_secret_value().strip()
    secret = settings.id_hash_key.get_secret_value() if settings.id_hash_key else None
    store = Store.open(settings.data_dir, secret, settings.log_retention_days)
    queue = JournalingQueue(UpdateJournal(settings.data_dir / JOURNAL_FOLDER))
    processor = GracefulProcessor(CONCURRENT_UPDATES, queue.journal)
    lifecycle = Lifecycle(service, queue, processor)

    async def post_init(application: Application) -> None:
        await _warn_admins_of_a_stale_index(application)
        await _register_profile(application)
        await lifecycle.start(application)

    async def post_shutdown(application: Application) -> None:
        service.close()
        store.close()

    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_api_base_file_url)
        .update_queue(queue)
        .concurrent_updates(processor)
        .connection_pool_size(CONNECTIONS)
        .rate_limiter(RetryingLimiter())
        .arbitrary_callback_data(CALLBACK_DATA_CACHE)
        .persistence(StorePersistence(store))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.bot_data[STATE_KEY] = BotState(
        service,
        settings,
        FloodLimiter(settings.questions_per_minute),
        store,
        FloodLimiter(settings.inline_queries_per_minute),
        StoreConversations(store),
    )
    admins = filters.User(user_id=list(settings.admin_ids))
    captioned = (filters.PHOTO | filters.Document.ALL | filters.VIDEO | filters.ANIMATION) & filters.CAPTION
    private = filters.ChatType.PRIVATE
    admin_commands = []
    for name, callback in (
        ("reindex", admin.reindex),
        ("articles", admin.articles),
        ("stats", feedback.stats),
        ("export", feedback.export),
    ):
        admin_commands += [
            CommandHandler(name, callback, filters=admins),
            CommandHandler(name, admin.not_admin),
        ]
    application.add_handlers(
        [
            CommandHandler("start", questions.start),
            CommandHandler("help", questions.help_command),
            CommandHandler("sources", admin.sources),
            *admin_commands,
            MessageHandler(filters.Document.ALL & admins, admin.document),
            MessageHandler(filters.FORWARDED & admins & private, admin.forwarded),
            MessageHandler(captioned, questions.question),  # a non-admin's caption is a question
            MessageHandler(filters.Document.ALL & private, admin.not_admin),
            MessageHandler(filters.TEXT & ~filters.COMMAND, questions.question),
            MessageHandler(filters.COMMAND, questions.unknown_command),
            MessageHandler(~filters.TEXT & ~filters.StatusUpdate.ALL, questions.non_text),
            CallbackQueryHandler(admin.confirm_button, pattern=buttons.kind("confirm")),
            CallbackQueryHandler(admin.articles_button, pattern=buttons.kind("articles")),
            CallbackQueryHandler(admin.article_button, pattern=buttons.kind("article")),
            CallbackQueryHandler(feedback.vote, pattern=buttons.kind("vote")),
            CallbackQueryHandler(feedback.reason, pattern=buttons.kind("reason")),
            CallbackQueryHandler(buttons.ask_button, pattern=buttons.kind("ask")),
            CallbackQueryHandler(buttons.more_button, pattern=buttons.kind("more")),
            CallbackQueryHandler(buttons.context_button, pattern=buttons.kind("ctx")),
            CallbackQueryHandler(buttons.expired_button),  # InvalidCallbackData and anything unknown
            InlineQueryHandler(inline.inline_query),
        ]
    )
    application.add_error_handler(lifecycle.on_error)
    return application


def run(settings: BotSettings, service: QAService) -> None:
    application = build_application(settings, service)
    # The index and the libraries are millions of long-lived objects: frozen, they are left
    # out of the collector's full passes, which otherwise pause every reply now and then.
    gc.freeze()
    if settings.webhook_url:
        secret = settings.webhook_secret.get_secret_value().strip() if settings.webhook_secret else ""
        if not secret:
            # Without a secret anyone who finds the URL could post forged updates (an admin's
            # user id included). Telegram echoes whatever secret setWebhook gave it, so a random
            # one per run protects the webhook without configuration.
            secret = secrets.token_urlsafe(32)
            log.warning("WEBHOOK_SECRET is not set: using a random secret for this run")
        log.info("webhook mode on %s:%d", settings.webhook_listen, settings.webhook_port)
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path="telegram",
            webhook_url=settings.webhook_url,
            secret_token=secret,
            allowed_updates=Update.ALL_TYPES,
            bootstrap_retries=-1,
            stop_signals=None,  # Lifecycle handles them, with a bounded grace
        )  # an unreachable API at start-up is retried by RetryingLimiter, getMe included
    else:
        log.info(
            "long polling %s",
            "(local Bot API)" if "api.telegram.org" not in settings.telegram_api_base_url else "",
        )
        application.run_polling(allowed_updates=Update.ALL_TYPES, bootstrap_retries=-1, stop_signals=None)
