"""The provider's request rate limit (Kling code 1302): at most N API requests a second."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RequestRate:
    """A sliding one-second window of API requests, in real time (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._recent: deque[float] = deque()  # when the requests of the last second came
        self._lock = threading.Lock()

    def over(self, limit: float | None) -> bool:
        """True when this request is over `limit` a second (None or 0: no limit); a request
        under the limit is counted."""
        if not limit:
            return False
        now = self._clock()
        with self._lock:
            while self._recent and self._recent[0] <= now - 1.0:
                self._recent.popleft()
            if len(self._recent) >= limit:
                return True
            self._recent.append(now)
            return False
