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


STATE_KEY = "state"


def state(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    return context.application.bot_data[STATE_KEY]
