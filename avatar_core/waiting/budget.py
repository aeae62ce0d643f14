"""One budget of requests a second to the provider, shared by every kind of request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

_EPSILON = 1e-3  # seconds: closer than this counts as now (float sums drift)


class RequestBudget:
    """At most `rate` requests a second to the provider, shared by creates and checks.

    Each request reserves the next free slot, 1/rate after the one before, so no window of
    one second ever holds more than `rate` of them. Thread-safe; works with any clock.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._next = float("-inf")
        self._lock = threading.Lock()

    def wait_needed(self) -> float:
        """Seconds until a request may go (0 when one may go now)."""
        with self._lock:
            wait = self._next - self._clock()
        return wait if wait > _EPSILON else 0.0  # float dust must not stall anyone

    def reserve(self) -> float:
        """Take the next slot; the seconds to wait before sending."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + 1.0 / self.rate
            return slot - now
