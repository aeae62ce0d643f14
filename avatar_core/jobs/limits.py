"""The operator's limits on what visitors spend on its key (AVATAR_MAX_* settings).

Everything is counted in the journal, so a restart resets nothing. `admit` holds one lock
while a request is checked and journaled, so requests sent at once cannot slip past a
limit together. The operator (the command line) has no limits; the studio decides which
requests are on the operator's key (a pasted key's are its owner's money).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from avatar_core.config import Settings
from avatar_core.errors import LimitReachedError
from avatar_core.inputs.audio import MAX_SECONDS
from avatar_core.storage.journal import Journal
from avatar_core.storage.visitors import Visitor
from avatar_core.units import about
from avatar_core.words import say

DAY_S = 24 * 3600.0
# A job still unfinished this long after it was journaled is no longer waited on by anyone
# (the longest wait of a flow), so it stops counting as one "at once".
ACTIVE_MARGIN_S = 5 * 60.0  # past a flow's deadline, for its download
OWN_KEY_HINT = say("limit.own_key")


@dataclass(frozen=True)
class Allowance:
    """What a visitor may still ask for today, of its daily limit."""

    left: int
    limit: int


class SpendingLimits:
    """Checks a visitor's job or speech against the operator's limits before it is sent."""

    def __init__(
        self, settings: Settings, journal: Journal, clock: Callable[[], float] = time.time
    ) -> None:
        self.max_active = settings.max_active_per_visitor
        self.max_daily = settings.max_daily_per_visitor
        self.max_seconds = settings.max_daily_video_seconds
        self.max_per_address = settings.max_daily_per_address
        # a job counts as at once while a flow may still be following it
        self.active_window_s = settings.follow_deadline_s + ACTIVE_MARGIN_S
        self._journal = journal
        self._clock = clock
        self._lock = threading.Lock()

    @contextmanager
    def admit(
        self, visitor: Visitor, *, video_seconds: float | None = None, speech: bool = False
    ) -> Iterator[None]:
        """Check, then let the caller journal the request while no other can be checked.

        `video_seconds` is a video's voice length (None: unknown, counted as the longest a
        voice may be); `speech` marks text to speech (counted a day, not at once).
        """
        with self._lock:
            self.check(visitor, speech=speech)
            if not speech and not visitor.is_operator:
                self._check_seconds(MAX_SECONDS if video_seconds is None else video_seconds)
            yield

    def check(self, visitor: Visitor, *, speech: bool = False) -> None:
        """Raise LimitReachedError when the visitor has as many jobs at once (but for a
        speech) or as many requests today as it may."""
        if visitor.tag is None:
            return
        now = self._clock()
        if not speech:
            self._check_active(visitor.tag, now)
        self._check_daily(visitor.tag, now)
        if visitor.address:
            self._check_address(visitor.address, now)

    def allowance(self, visitor: Visitor) -> Allowance | None:
        """What is left of the visitor's daily limits, the tighter of its own and its
        address's (None: no daily limit applies)."""
        if visitor.tag is None:
            return None
        since = self._clock() - DAY_S
        found = []
        if self.max_daily:
            used = len(self._journal.spent_at(visitor.tag, since))
            found.append(Allowance(max(self.max_daily - used, 0), self.max_daily))
        if self.max_per_address and visitor.address:
            used = len(self._journal.spent_at(visitor.address, since, by="address"))
            found.append(Allowance(max(self.max_per_address - used, 0), self.max_per_address))
        return min(found, key=lambda allowance: allowance.left, default=None)

    def _check_active(self, tag: str, now: float) -> None:
        if not self.max_active:
            return
        active = self._journal.active_jobs(tag, now - self.active_window_s)
        if active >= self.max_active:
            raise LimitReachedError(
                say("limit.active", active=active, limit=self.max_active, hint=OWN_KEY_HINT)
            )

    def _check_daily(self, tag: str, now: float) -> None:
        self._check_day(tag, now, self.max_daily, by="visitor", key="limit.daily_visitor")

    def _check_address(self, address: str, now: float) -> None:
        self._check_day(address, now, self.max_per_address, by="address",
                        key="limit.daily_address")  # fmt: skip

    def _check_day(self, tag: str, now: float, limit: int, *, by: str, key: str) -> None:
        """Refuse when `tag` (a visitor, or an address) asked for `limit` things today."""
        if not limit:
            return
        spent = self._journal.spent_at(tag, now - DAY_S, by=by)
        if len(spent) >= limit:
            frees_in = spent[len(spent) - limit] + DAY_S - now
            raise LimitReachedError(
                say(key, used=len(spent), limit=limit, wait=about(frees_in), hint=OWN_KEY_HINT)
            )

    def _check_seconds(self, seconds: float) -> None:
        if not self.max_seconds:
            return
        used = self._journal.visitors_audio_seconds(self._clock() - DAY_S)
        if used + seconds > self.max_seconds:
            raise LimitReachedError(
                say(
                    "limit.seconds",
                    used=used,
                    limit=self.max_seconds,
                    seconds=seconds,
                    hint=OWN_KEY_HINT,
                )
            )
