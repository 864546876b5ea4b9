"""What the handlers share, reached through `state(context)`."""

from __future__ import annotations

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


STATE_KEY = "state"


def state(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    return context.application.bot_data[STATE_KEY]
