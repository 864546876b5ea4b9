"""What the handlers share, reached through `state(context)`."""

from __future__ import annotations

from dataclasses import dataclass, field

from telegram.ext import ContextTypes

from bot.config import BotSettings
from bot.conversation import ConversationStore, MemoryConversations
from bot.ratelimit import FloodLimiter
from bot.store import Store
from retrieval.service import QAService

INLINE_QUERIES_PER_MINUTE = 60


@dataclass
class BotState:
    """Everything the handlers share, reached through `state(context)`."""

    service: QAService
    settings: BotSettings
    limiter: FloodLimiter
    store: Store
    conversations: ConversationStore = field(default_factory=MemoryConversations)
    # Inline queries come as the user types, a few per question: a budget of their own.
    inline_limiter: FloodLimiter = field(default_factory=lambda: FloodLimiter(INLINE_QUERIES_PER_MINUTE))


STATE_KEY = "state"


def state(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    return context.application.bot_data[STATE_KEY]
