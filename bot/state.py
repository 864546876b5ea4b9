"""What the handlers share, reached through `state(context)`."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass, field

from telegram.ext import ContextTypes

from bot.config import BotSettings
from bot.ratelimit import FloodLimiter
from retrieval.service import QAService

REMEMBERED_QUESTIONS = 2000


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
    questions: OrderedDict[str, str] = field(default_factory=OrderedDict)
    uploads: dict[str, PendingUpload] = field(default_factory=dict)

    def remember(self, question: str) -> str:
        token = secrets.token_urlsafe(6)
        self.questions[token] = question
        while len(self.questions) > REMEMBERED_QUESTIONS:
            self.questions.popitem(last=False)
        return token


STATE_KEY = "state"


def state(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    return context.application.bot_data[STATE_KEY]
