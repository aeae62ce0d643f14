"""When to ask the provider about a task again.

Polls are placed where the answer is likely to change: one early check to catch a quick
failure, then a jump to just before the task is expected to end (learnt from how long
finished tasks took), then brisk checks until it ends, backing off if it overruns.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Pacing:
    first_s: float = 2.0  # the early check, for tasks that fail at once
    floor_s: float = 1.0  # the quickest cadence, around the expected end
    cap_s: float = 30.0  # the longest gap between two checks
    margin_s: float = 1.0  # how long before the expected end to start checking briskly
    overrun_growth: float = 1.4  # how fast checks slow down once a task overruns
    callback_fallback_s: float = 15.0  # with callbacks, polling is only a slow safety net

    def delay(
        self,
        *,
        polls: int,
        elapsed_s: float,
        expected_s: float | None,
        callbacks: bool = False,
        early_check: bool = True,
    ) -> float:
        """Seconds until the next check of a task `elapsed_s` old, after `polls` checks.

        `expected_s` None (nothing learnt yet): checks double their gap, from `first_s`.
        """
        if callbacks:
            return max(self.callback_fallback_s, self.floor_s)
        if early_check and polls <= 1 and elapsed_s < self.first_s:
            return self.first_s - elapsed_s
        if expected_s is None:
            return min(max(self.first_s, elapsed_s), self.cap_s)
        remaining = expected_s - elapsed_s
        if remaining > self.margin_s + self.floor_s:
            return min(max(remaining - self.margin_s, self.floor_s), self.cap_s)
        overrun = max(0.0, -remaining)
        slower = self.floor_s * self.overrun_growth ** (overrun / max(expected_s, 1.0) * 4)
        return min(slower, self.cap_s)


class DurationModel:
    """How long tasks of each kind (mode) take: an exponentially weighted mean."""

    def __init__(self, weight: float = 0.3) -> None:
        self._weight = weight
        self._means: dict[str, float] = {}
        self._lock = threading.Lock()

    def expected(self, kind: str) -> float | None:
        """The typical duration, or None before any task of this kind has finished."""
        with self._lock:
            return self._means.get(kind)

    def learn(self, kind: str, seconds: float) -> None:
        if not 0 < seconds < 24 * 3600:
            return
        with self._lock:
            mean = self._means.get(kind)
            self._means[kind] = seconds if mean is None else mean + self._weight * (seconds - mean)

    def known(self, kind: str) -> bool:
        with self._lock:
            return kind in self._means
