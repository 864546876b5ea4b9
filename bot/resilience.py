"""Riding out Telegram's weather: every API call (getMe at start-up included) is retried with backoff."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

FIRST_BACKOFF = 0.5
MAX_BACKOFF = 10.0
# How long a reply keeps being retried while the API is down: long enough for a restart
# of the Bot API server, short enough not to hold a worker forever.
RETRY_WINDOW = 300.0
# Client errors: retrying cannot help.
_FINAL = (BadRequest, Forbidden, InvalidToken, Conflict)
# `rate_limit_args` for a call that is tried once: an apology for an error must not open
# another retry window of its own.
NO_RETRY = {"retry": False}


_detached: set[asyncio.Future] = set()  # requests whose caller stopped waiting; asyncio holds tasks weakly


async def _to_the_end(request: Coroutine[Any, Any, Any]) -> Any:
    """Await a Bot API request that runs to its end even when the caller is cancelled (a
    "typing…" task once the answer is ready, a timed-out notice): httpcore 1.0.9 keeps for
    good the connection of a request cancelled while it waits for one (encode/httpcore#1093),
    and once the pool is full of them every request times out."""
    task = asyncio.ensure_future(request)
    _detached.add(task)
    task.add_done_callback(_forget)
    return await asyncio.shield(task)


def _forget(task: asyncio.Future) -> None:
    _detached.discard(task)
    if not task.cancelled():
        task.exception()  # a caller that went away has no use for the error: not "never retrieved"


def _seconds(value: float | dt.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class RetryingLimiter(BaseRateLimiter[dict]):
    """Retries an API call on 429 (after retry_after), 5xx, timeouts and connection errors."""

    def __init__(self, window: float = RETRY_WINDOW) -> None:
        self.window = window

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict | None,
    ) -> Any:
        # The updater has its own retry loop for polling.
        if endpoint == "getUpdates":  # long polling, cancelled on purpose at shutdown
            return await callback(*args, **kwargs)
        if rate_limit_args == NO_RETRY:
            return await _to_the_end(callback(*args, **kwargs))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.window
        backoff = FIRST_BACKOFF
        while True:
            try:
                return await _to_the_end(callback(*args, **kwargs))
            except _FINAL:
                raise
            except RetryAfter as error:
                wait = _seconds(error.retry_after)
                log.warning("%s: flood control, retrying in %.1fs", endpoint, wait)
            except (TimedOut, NetworkError) as error:
                wait = backoff
                backoff = min(backoff * 2, MAX_BACKOFF)
                log.warning("%s failed (%s), retrying in %.1fs", endpoint, error, wait)
            if loop.time() + wait > deadline:
                raise TimedOut(f"{endpoint}: Telegram API unavailable for {self.window:.0f}s")
            await asyncio.sleep(wait)
