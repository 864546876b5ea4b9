"""What the handlers share, reached through `state(context)`."""

from __future__ import annotations

from dataclasses import dataclass, field

from telegram.ext import ContextTypes

from bot.config import BotSettings
from bot.conversation import ConversationStore, MemoryConversations
from bot.ratelimit import FloodLimiter
from retrieval.service import QAService


@dataclass
class PendingUpload:
    file_name: str
    data: bytes
    admin_id: int


@dataclass
class BotState:
    """Everything the handlers share, reached through `state(context)`."""

    service: QAService
    settings: BotSettings
    limiter: FloodLimiter
    uploads: dict[str, PendingUpload] = field(default_factory=dict)
    conversations: ConversationStore = field(default_factory=MemoryConversations)


STATE_KEY = "state"


def state(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    return context.application.bot_data[STATE_KEY]
