"""python-telegram-bot persistence of button state only (callback_data), as JSON in the store.

With `arbitrary_callback_data`, a button carries a key into the bot's callback data cache;
persisting that cache lets "Ещё" and confirmation buttons work after a restart. Only plain
data is stored (str, int, float, bool, None, lists, tuples, dicts): tuples are tagged so they
come back as tuples, and anything else is refused rather than pickled.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import CDCData, ConversationDict

from bot.store import Store

log = logging.getLogger(__name__)

FLUSH_SECONDS = 2.0  # how much button state a SIGKILL may lose; confirmations flush at once
_TUPLE = "__tuple__"


def encode(value: Any) -> Any:
    """A JSON-ready copy of value; TypeError for anything but plain data."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, tuple):
        return {_TUPLE: [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value) and _TUPLE not in value:
        return {k: encode(v) for k, v in value.items()}
    raise TypeError(
        f"button data must be plain data (str, int, list, tuple, dict), got {type(value).__name__}"
    )


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {_TUPLE}:
            return tuple(decode(v) for v in value[_TUPLE])
        return {k: decode(v) for k, v in value.items()}
    return value


def dump_callback_data(data: CDCData) -> str:
    keyboards, queries = data
    stored = []
    for keyboard_id, accessed, buttons in keyboards:
        try:
            stored.append([keyboard_id, accessed, {k: encode(v) for k, v in buttons.items()}])
        except TypeError as problem:  # one odd keyboard must not cost all the others
            log.warning("button state of one keyboard not saved: %s", problem)
    return json.dumps({"keyboards": stored, "queries": queries}, ensure_ascii=False)


def load_callback_data(text: str) -> CDCData:
    raw = json.loads(text)
    keyboards = [
        (keyboard_id, float(accessed), {k: decode(v) for k, v in buttons.items()})
        for keyboard_id, accessed, buttons in raw["keyboards"]
    ]
    return keyboards, dict(raw["queries"])


class StorePersistence(BasePersistence):
    """BasePersistence with callback_data only; user, chat and bot data are not persisted."""

    def __init__(self, store: Store, update_interval: float = FLUSH_SECONDS) -> None:
        super().__init__(
            store_data=PersistenceInput(bot_data=False, chat_data=False, user_data=False, callback_data=True),
            update_interval=update_interval,
        )
        self.store = store
        self._saved: str | None = None

    async def get_callback_data(self) -> CDCData | None:
        text = await self.store.load_callback_data()
        if text is None:
            return None
        try:
            data = load_callback_data(text)
        except (
            ValueError,
            KeyError,
            TypeError,
        ) as problem:  # start with fresh buttons rather than not at all
            log.error("stored button state unreadable, starting without it: %s", problem)
            return None
        self._saved = text
        return data

    async def update_callback_data(self, data: CDCData) -> None:
        text = dump_callback_data(data)
        if text != self._saved:  # called every interval: write only what changed
            await self.store.save_callback_data(text)
            self._saved = text

    # Nothing else is persisted.
    async def get_user_data(self) -> dict[int, Any]:
        return {}

    async def get_chat_data(self) -> dict[int, Any]:
        return {}

    async def get_bot_data(self) -> dict[Any, Any]:
        return {}

    async def get_conversations(self, name: str) -> ConversationDict:
        return {}

    async def update_conversation(self, name: str, key: tuple[int | str, ...], new_state: object) -> None:
        return None

    async def update_user_data(self, user_id: int, data: Any) -> None:
        return None

    async def update_chat_data(self, chat_id: int, data: Any) -> None:
        return None

    async def update_bot_data(self, data: Any) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def drop_user_data(self, user_id: int) -> None:
        return None

    async def refresh_user_data(self, user_id: int, user_data: Any) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: Any) -> None:
        return None

    async def refresh_bot_data(self, bot_data: Any) -> None:
        return None

    async def flush(self) -> None:
        return None  # every update is committed when it is written
