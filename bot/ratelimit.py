"""Per-user flood limit: at most N questions in a sliding minute."""

from __future__ import annotations

import time
from collections import deque

WINDOW_SECONDS = 60.0


class FloodLimiter:
    def __init__(self, per_minute: int, clock=time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute must be at least 1, got {per_minute}")
        self.per_minute = per_minute
        self._clock = clock
        self._seen: dict[int, deque[float]] = {}

    def check(self, user_id: int) -> float:
        """0 when the user may ask now (and counts the question); else seconds to wait."""
        now = self._clock()
        times = self._seen.setdefault(user_id, deque())
        while times and now - times[0] >= WINDOW_SECONDS:
            times.popleft()
        if len(times) >= self.per_minute:
            return WINDOW_SECONDS - (now - times[0])
        times.append(now)
        return 0.0
