"""python -m bot: run the Telegram bot (polling or webhook), or --console to try it in a terminal."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from pydantic import ValidationError

log = logging.getLogger("bot")

TOKEN_HELP = (
    "{problem}. Create a bot with @BotFather in Telegram (/newbot), put its token into .env "
    "as TELEGRAM_BOT_TOKEN=..., or try the bot without Telegram: python -m bot --console"
)


def main(argv: list[str] | None = None) -> int:
    from bot.texts import LANGUAGES

    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument("--console", action="store_true", help="ask questions in this terminal instead")
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        help="the console's language (default: the terminal's, else Russian)",
    )
    args = parser.parse_args(argv)

    from bot.config import BotSettings
    from bot.logs import configure_logging
    from retrieval.runtime import apply_runtime
    from retrieval.settings import settings_problems

    try:
        settings = BotSettings()
    except ValidationError as exc:
        configure_logging([])
        print(f"error: bad settings: {settings_problems(exc)}", file=sys.stderr)
        return 2
    token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else ""
    configure_logging([token, token.strip()])
    problem = None if args.console else settings.token_problem()
    if problem:
        print("error: " + TOKEN_HELP.format(problem=problem), file=sys.stderr)
        return 2
    apply_runtime(settings)

    from retrieval.embedder import QueryCache, load_embedder
    from retrieval.errors import RetrievalError
    from retrieval.service import QAService
    from retrieval.text import Analyzer

    try:
        embedder = load_embedder(settings.embedding_model)
        if settings.query_cache:
            embedder = QueryCache(embedder, settings.query_cache)
        service = QAService.open(
            settings.seeds_dir,
            settings.index_dir,
            embedder,
            Analyzer(),
            max_upload_bytes=settings.max_upload_bytes,
        )
    except (RetrievalError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.console:
        from bot.console import console

        asyncio.run(console(service, settings.top_k, settings.max_question_chars, args.lang))
        return 0
    from bot.app import run

    log.info("index: %d passages; admins: %d", service.retriever.passage_count, len(settings.admin_ids))
    run(settings, service)
    return 0


if __name__ == "__main__":
    sys.exit(main())
