"""When to ask the provider about a task again.

Brisk checks first, their gap doubling from `first_s` while the task is young (quick
failures, and the demo simulator's tasks of a few seconds); then the duration model places
the checks: a jump to shortly before the expected end (how much before follows how far off
the expectation may be), checks close together around it, spreading out as a task overruns.
No gap is ever longer than `cap_s`, so a task that ends far earlier than expected is still
seen soon.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pacing:
    first_s: float = 2.0  # the first check, for tasks that fail at once
    brisk_s: float = 15.0  # checks double their gap from first_s while the task is younger
    floor_s: float = 1.0  # the quickest cadence, around the expected end
    cap_s: float = 30.0  # the longest gap between two checks
    margin_s: float = 1.0  # the least time before the expected end to start checking closely
    near_share: float = 0.01  # around the end, checks are at least this share of a task apart
    overrun_share: float = 0.25  # once overdue, the next check waits this share of the overrun
    callback_fallback_s: float = 15.0  # with callbacks, polling is only a slow safety net

    def delay(
        self,
        *,
        polls: int,
        elapsed_s: float,
        expected_s: float | None,
        spread_s: float = 0.0,
        callbacks: bool = False,
        early_check: bool = True,
    ) -> float:
        """Seconds until the next check of a task `elapsed_s` old, after `polls` checks.

        `expected_s` None (no model at all): checks double their gap, up to `cap_s`.
        `spread_s`: about how far off `expected_s` may be. `early_check` False (a crowd the
        request budget cannot check early): no brisk checks.
        """
        if callbacks:
            return max(self.callback_fallback_s, self.floor_s)
        placed = self._placed(elapsed_s, expected_s, spread_s)
        if early_check and elapsed_s < self.brisk_s:
            return min(self._brisk(polls, elapsed_s), placed)
        return placed

    def _brisk(self, polls: int, elapsed_s: float) -> float:
        if polls == 0 or elapsed_s < self.first_s:
            return max(self.first_s - elapsed_s, 0.0)
        return max(elapsed_s, self.floor_s)  # the gap doubles

    def _placed(self, elapsed_s: float, expected_s: float | None, spread_s: float) -> float:
        if expected_s is None:
            return min(max(self.first_s, elapsed_s), self.cap_s)
        margin = max(self.margin_s, 2 * spread_s)
        near = min(max(self.floor_s, spread_s / 4, self.near_share * expected_s), self.cap_s)
        remaining = expected_s - elapsed_s
        if remaining > margin + near:
            return min(remaining - margin, self.cap_s)
        overrun = max(0.0, -remaining)
        return min(max(near, self.overrun_share * overrun), self.cap_s)
