"""When to ask the provider about a task again.

Brisk checks first, their gap doubling from `first_s` while the task is young (quick
failures, and the demo simulator's tasks of a few seconds); then the duration model places
the checks: a jump to shortly before the expected end (how much before follows how far off
the expectation may be), checks close together from there, spreading out only once the
task has run longer than both the expectation allows and its kind's recent tasks took.
No gap is ever longer than `cap_s`, so a task that ends far earlier than expected is still
seen soon.

The gap around the end (`close_s` at most) sets the added latency: a task is seen on
average half a gap after it ends. The window of close checks sets the queries: it opens
`margin_spreads` spreads before the expected end, or only `guess_margin_spreads` while the
expectation is the prior's guess (whose spread says how far off the guess may be for every
task at once, not how far one task strays from the next: a crowd's tasks end close together
somewhere in it, and the first of them to finish teaches the model where).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pacing:
    first_s: float = 2.0  # the first check, for tasks that fail at once
    brisk_s: float = 15.0  # checks double their gap from first_s while the task is younger
    floor_s: float = 1.0  # the quickest cadence, around the expected end
    cap_s: float = 30.0  # the longest gap between two checks
    close_s: float = 8.0  # the longest gap between checks around the expected end
    margin_s: float = 1.0  # the least time before the expected end to start checking closely
    margin_spreads: float = 2.0  # close checks start this many spreads before the end
    guess_margin_spreads: float = 0.5  # ... or this many, while the expectation is a guess
    reach_spreads: float = 1.0  # close checks go on this many spreads past the end
    near_share: float = 0.03  # around the end, checks are at least this share of a task apart
    overrun_share: float = 0.25  # past that, the next check waits this share of the overrun
    callback_fallback_s: float = 15.0  # with callbacks, polling is only a slow safety net

    def delay(
        self,
        *,
        polls: int,
        elapsed_s: float,
        expected_s: float | None,
        spread_s: float = 0.0,
        guess: bool = False,
        longest_s: float | None = None,
        callbacks: bool = False,
        early_check: bool = True,
    ) -> float:
        """Seconds until the next check of a task `elapsed_s` old, after `polls` checks.

        `expected_s` None (no model at all): checks double their gap, up to `cap_s`.
        `spread_s`: about how far off `expected_s` may be; `guess`: whether it is only the
        prior's guess. `longest_s`: the longest its kind's recent tasks took, scaled to
        this one (close checks go on at least that long). `early_check` False (a crowd the
        request budget cannot check early): no brisk checks.
        """
        if callbacks:
            return max(self.callback_fallback_s, self.floor_s)
        placed = self._placed(elapsed_s, expected_s, spread_s, guess, longest_s)
        if early_check and elapsed_s < self.brisk_s:
            return min(self._brisk(polls, elapsed_s), placed)
        return placed

    def _brisk(self, polls: int, elapsed_s: float) -> float:
        if polls == 0 or elapsed_s < self.first_s:
            return max(self.first_s - elapsed_s, 0.0)
        return max(elapsed_s, self.floor_s)  # the gap doubles

    def _placed(
        self,
        elapsed_s: float,
        expected_s: float | None,
        spread_s: float,
        guess: bool,
        longest_s: float | None,
    ) -> float:
        if expected_s is None:
            return min(max(self.first_s, elapsed_s), self.cap_s)
        spreads = self.guess_margin_spreads if guess else self.margin_spreads
        margin = max(self.margin_s, spreads * spread_s)
        near = min(max(self.floor_s, spread_s / 4, self.near_share * expected_s), self.close_s)
        remaining = expected_s - elapsed_s
        if remaining > margin + near:
            return min(remaining - margin, self.cap_s)
        reach = max(expected_s + self.reach_spreads * spread_s, longest_s or 0.0)
        overrun = max(0.0, elapsed_s - reach)
        return min(max(near, self.overrun_share * overrun), self.cap_s)
