"""Bot settings: one pydantic-settings class, read from the environment and `.env`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from retrieval.settings import RetrievalSettings

_TOKEN_SHAPE = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")


class BotSettings(RetrievalSettings):
    telegram_bot_token: SecretStr | None = None
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_api_base_file_url: str = "https://api.telegram.org/file/bot"
    # Webhook mode when WEBHOOK_URL is set; long polling otherwise.
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_secret: SecretStr | None = None
    # Abuse limits.
    questions_per_minute: int = Field(default=20, ge=1)
    inline_queries_per_minute: int = Field(default=60, ge=1)  # typing sends one every few letters
    max_question_chars: int = Field(default=1000, ge=10)
    max_upload_bytes: int = Field(default=1_000_000, ge=1000)
    # Recent questions whose vectors are kept (0: encode every question).
    query_cache: int = Field(default=4096, ge=0, le=1_000_000)
    # The durable store (question log, feedback, pending confirmations, button state).
    data_dir: Path = Path(".data")
    log_retention_days: int = Field(default=90, ge=1, le=3650)
    id_hash_key: SecretStr | None = Field(default=None, min_length=16)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: object) -> object:
        """Accept "1,2", "[1,2]", a list, or nothing."""
        if value is None:
            return frozenset()
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return frozenset()
            items = json.loads(text) if text.startswith("[") else text.split(",")
            return frozenset(int(str(item).strip()) for item in items if str(item).strip())
        return value

    @field_validator("id_hash_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    def token_problem(self) -> str | None:
        """Why the token cannot work, or None. Never includes the token itself."""
        if self.telegram_bot_token is None or not self.telegram_bot_token.get_secret_value().strip():
            return "TELEGRAM_BOT_TOKEN is not set"
        if not _TOKEN_SHAPE.match(self.telegram_bot_token.get_secret_value().strip()):
            return "TELEGRAM_BOT_TOKEN does not look like a bot token (digits, a colon, then 30+ characters)"
        return None
