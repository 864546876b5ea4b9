"""What the handlers share, reached through `state(context)`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from telegram.ext import ContextTypes

from bot.config import BotSettings
from bot.conversation import ConversationStore, MemoryConversations
from bot.ratelimit import FloodLimiter
from bot.store import Store
from retrieval.service import QAService

# Searches and replies under way at once. A busy bot is bound by its one event loop: with
# every question in flight at once, each competes with all the others at every step and some
# wait several times longer than the rest (50 users at once: p95 about 1 s against a median
# of 0.45 s). Beyond the bound they wait their turn, in the order asked. Even at 0.5 s per
# Bot API request, 16 at once carry more than the 30 messages a second Telegram delivers.
ANSWERS_AT_ONCE = 16


@dataclass
class BotState:
    """Everything the handlers share, reached through `state(context)`."""

    service: QAService
    settings: BotSettings
    limiter: FloodLimiter
    store: Store
    # Inline queries come as the user types, a few per question: a budget of their own.
    inline_limiter: FloodLimiter
    conversations: ConversationStore = field(default_factory=MemoryConversations)
    # Answers sent but not yet in the question log: a vote tapped at once waits for the row.
    answers_in_flight: dict[str, asyncio.Event] = field(default_factory=dict)
    # FIFO: asyncio's semaphore wakes its waiters in order
    answer_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(ANSWERS_AT_ONCE))


STATE_KEY = "state"


def state(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    return context.application.bot_data[STATE_KEY]
