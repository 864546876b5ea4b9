"""Per-user flood limit: at most N questions in a sliding minute."""

from __future__ import annotations

import time
from collections import OrderedDict, deque

WINDOW_SECONDS = 60.0


class FloodLimiter:
    """Keeps state only for users who asked within the last minute: memory is bounded by the
    traffic of one window, not by the number of users ever seen."""

    def __init__(self, per_minute: int, clock=time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute must be at least 1, got {per_minute}")
        self.per_minute = per_minute
        self._clock = clock
        # Least recently asking user first, so expired users are dropped from the front.
        self._seen: OrderedDict[int, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        """Users currently tracked."""
        return len(self._seen)

    def check(self, user_id: int) -> float:
        """0 when the user may ask now (and counts the question); else seconds to wait."""
        now = self._clock()
        self._expire(now)
        times = self._seen.setdefault(user_id, deque())
        self._seen.move_to_end(user_id)
        while times and now - times[0] >= WINDOW_SECONDS:
            times.popleft()
        if len(times) >= self.per_minute:
            return WINDOW_SECONDS - (now - times[0])
        times.append(now)
        return 0.0

    def _expire(self, now: float) -> None:
        while self._seen:
            user_id, times = next(iter(self._seen.items()))
            if times and now - times[-1] < WINDOW_SECONDS:
                return
            del self._seen[user_id]
