"""The operator's limits on what visitors spend on its key (AVATAR_MAX_* settings).

Everything is counted in the journal, so a restart resets nothing. `admit` holds one lock
while a request is checked and journaled, so requests sent at once cannot slip past a
limit together. A long speech is checked whole before any of its parts is journaled
(`hold_speech`): its parts count as one job at once, as one job a day each, and their
seconds in the day's; what it holds stays counted for everyone else until its parts are
journaled, and its parts are then let through without a check of their own, so a speech
is never refused half made. The operator (the command line) has no limits; the studio decides which
requests are on the operator's key (a pasted key's are its owner's money).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from avatar_core.catalogue import sentence_for
from avatar_core.clock import SYSTEM, Clock
from avatar_core.config import Settings
from avatar_core.errors import LimitReachedError
from avatar_core.inputs.audio import MAX_SECONDS, MIN_SECONDS
from avatar_core.storage.journal import Journal, speech_group
from avatar_core.storage.visitors import Visitor
from avatar_core.units import about, format_seconds

DAY_S = 24 * 3600.0
# A job still unfinished this long after it was journaled is no longer waited on by anyone
# (the longest wait of a flow), so it stops counting as one "at once".
ACTIVE_MARGIN_S = 5 * 60.0  # past a flow's deadline, for its download
OWN_KEY_HINT = sentence_for("limit.own_key")


@dataclass(frozen=True)
class Allowance:
    """What a visitor may still ask for today, of its daily limit."""

    left: int
    limit: int


@dataclass
class _Held:
    """What a long speech admitted whole holds until its parts are journaled."""

    tag: str
    address: str | None
    parts: int
    seconds: float


class SpendingLimits:
    """Checks a visitor's job or speech against the operator's limits before it is sent."""

    def __init__(self, settings: Settings, journal: Journal, clock: Clock = SYSTEM) -> None:
        """`clock`'s wall time is compared with the journal's timestamps (Unix seconds)."""
        self.max_active = settings.max_active_per_visitor
        self.max_daily = settings.max_daily_per_visitor
        self.max_seconds = settings.max_daily_video_seconds
        self.max_per_address = settings.max_daily_per_address
        # a job counts as at once while a flow may still be following it
        self.active_window_s = settings.follow_deadline_s + ACTIVE_MARGIN_S
        self._journal = journal
        self._clock = clock
        self._lock = threading.Lock()
        self._held: dict[str, _Held] = {}  # speech key -> what it still holds

    @contextmanager
    def admit(
        self,
        visitor: Visitor,
        *,
        video_seconds: float | None = None,
        speech: bool = False,
        audio_id: str | None = None,
    ) -> Iterator[None]:
        """Check, then let the caller journal the request while no other can be checked.

        `video_seconds` is a video's voice length (None: unknown, counted as the longest a
        voice may be); `audio_id` the speech made here that it speaks, if any (its seconds
        are counted once); `speech` marks text to speech, admitted only when the video it
        is for could follow (`check`) and the day's seconds hold the speech's expected
        length (`video_seconds`), which its journal row holds until it is made.
        """
        with self._lock:
            held = self._held.get(visitor.speech or "")
            if held is not None:  # a part of a speech admitted whole: counted already
                yield
                held.parts = max(held.parts - 1, 0)
                if speech or audio_id is None:  # a part made from a speech made here
                    # counted its seconds with that speech (its journal row holds them)
                    held.seconds = max(held.seconds - (video_seconds or 0.0), 0.0)
                return
            self.check(visitor, speech=speech, audio_id=audio_id)
            if visitor.tag is not None and not (speech and video_seconds is None):
                seconds = MAX_SECONDS if video_seconds is None else video_seconds
                self._check_seconds(visitor.tag, seconds, None if speech else audio_id)
            yield

    @contextmanager
    def hold_speech(
        self,
        visitor: Visitor,
        key: str,
        *,
        parts: int,
        seconds: float,
        part_s: float,
        speeches: int = 0,
    ) -> Iterator[None]:
        """Check a long speech whole (`parts` of at most `part_s` seconds to send, lasting
        `seconds` together; of a long text, also its `speeches`, the groups of sentences
        still to speak, each a paid request of the day) and hold what it needs while the
        caller makes its speeches and parts (each asked for by `visitor` with
        `speech=key`): LimitReachedError, one sentence, when it would pass a limit,
        before any speech is paid for or any part is journaled. A part made from a speech
        made here is counted in requests only: its seconds were held for its speech."""
        if visitor.tag is None or parts + speeches <= 0:
            yield
            return
        with self._lock:
            if key in self._held:  # the same speech pressed twice: its parts are on their way
                raise LimitReachedError(sentence_for("limit.speech_running"))
            self._check_speech(visitor, key, parts, seconds, part_s, speeches)
            self._held[key] = _Held(visitor.tag, visitor.address, parts + speeches, seconds)
        try:
            yield
        finally:
            with self._lock:
                self._held.pop(key, None)

    def check(self, visitor: Visitor, *, speech: bool = False, audio_id: str | None = None) -> None:
        """Raise LimitReachedError unless the visitor may still make a video now: fewer jobs
        at once and requests today than it may, and a video's least seconds left of the
        day's (the speech `audio_id` it is made from, already counted, aside). A `speech`
        is a request of its own before its video: the day must have room for both."""
        if visitor.tag is None or visitor.speech in self._held:
            return
        now = self._clock.wall()
        room = 2 if speech else 1
        self._check_active(visitor.tag, now)
        self._check_daily(visitor.tag, now, room)
        if visitor.address:
            self._check_address(visitor.address, now, room)
        self._check_seconds_left(visitor.tag, now, audio_id)

    @contextmanager
    def sending(
        self, visitor_tag: str | None, seconds: float | None, job_id: str
    ) -> Iterator[None]:
        """Check a visitor's job in line once more as it leaves the line for its create, and
        let the caller claim it while no other can be checked: the seconds of jobs in line
        are counted for their own visitor only, so the day's cap holds again here."""
        with self._lock:
            if visitor_tag is not None and self.max_seconds and not self._speech_part(job_id):
                used = self._journal.visitors_audio_seconds(self._clock.wall() - DAY_S)
                used += self._held_seconds()
                used -= self._journal.job_speech_seconds(job_id)
                seconds = MAX_SECONDS if seconds is None else seconds
                if used + seconds > self.max_seconds:
                    raise self._seconds_refusal(used, seconds)
            yield

    def allowance(self, visitor: Visitor) -> Allowance | None:
        """What is left of the visitor's daily limits, the tighter of its own and its
        address's (None: no daily limit applies)."""
        if visitor.tag is None:
            return None
        since = self._clock.wall() - DAY_S
        found = []
        if self.max_daily:
            used = len(self._journal.spent_at(visitor.tag, since))
            found.append(Allowance(max(self.max_daily - used, 0), self.max_daily))
        if self.max_per_address and visitor.address:
            used = len(self._journal.spent_at(visitor.address, since, by="address"))
            found.append(Allowance(max(self.max_per_address - used, 0), self.max_per_address))
        return min(found, key=lambda allowance: allowance.left, default=None)

    def _active(self, tag: str, now: float) -> set[str]:
        """The visitor's jobs at once, a long speech's parts (journaled or held) as one."""
        groups = self._journal.active_groups(tag, now - self.active_window_s)
        return groups | {f"speech:{key}" for key, held in self._held.items() if held.tag == tag}

    def _held_parts(self, tag: str, *, by: str = "visitor") -> int:
        """Parts of speeches admitted whole, not journaled yet, of `tag` (`by` "address")."""
        return sum(
            held.parts
            for held in self._held.values()
            if (held.tag if by == "visitor" else held.address) == tag
        )

    def _held_seconds(self) -> float:
        return sum(held.seconds for held in self._held.values())

    def _speech_part(self, job_id: str) -> bool:
        """Whether the job is a long speech's part (its speech was admitted whole)."""
        job = self._journal.get(job_id)
        return job is not None and speech_group(job.batch_key) is not None

    def _check_active(self, tag: str, now: float) -> None:
        if not self.max_active:
            return
        active = len(self._active(tag, now))
        if active >= self.max_active:
            raise LimitReachedError(
                sentence_for(
                    "limit.active", active=active, limit=self.max_active, hint=OWN_KEY_HINT
                )
            )

    def _check_daily(self, tag: str, now: float, room: int) -> None:
        self._check_day(tag, now, self.max_daily, room, by="visitor", key="limit.daily_visitor")

    def _check_address(self, address: str, now: float, room: int) -> None:
        self._check_day(address, now, self.max_per_address, room, by="address",
                        key="limit.daily_address")  # fmt: skip

    def _check_day(self, tag: str, now: float, limit: int, room: int, *, by: str, key: str) -> None:
        """Refuse when `tag` (a visitor, or an address) asked for `limit` things today, or
        has fewer than `room` left (a speech and its video)."""
        if not limit:
            return
        spent = self._journal.spent_at(tag, now - DAY_S, by=by)
        spent += [now] * self._held_parts(tag, by=by)  # a speech's parts still to journal
        spent.sort()
        if len(spent) + room > limit:
            first = min(max(len(spent) + room - limit - 1, 0), len(spent) - 1)
            frees_in = spent[first] + DAY_S - now if spent else 0.0
            why = sentence_for(
                key, used=len(spent), limit=limit, wait=about(frees_in), hint=OWN_KEY_HINT
            )
            if len(spent) < limit:  # room for the speech, not for its video too
                why = sentence_for("limit.speech_room", why=why)
            raise LimitReachedError(why)

    def _check_seconds(self, tag: str, seconds: float, audio_id: str | None) -> None:
        if not self.max_seconds:
            return
        since = self._clock.wall() - DAY_S
        used = self._journal.visitors_audio_seconds(since, visitor=tag, except_audio=audio_id)
        used += self._held_seconds()
        if used + seconds > self.max_seconds:
            raise self._seconds_refusal(used, seconds)

    def _check_seconds_left(self, tag: str, now: float, audio_id: str | None) -> None:
        """Refuse when the day's seconds cannot hold even the shortest voice a video takes."""
        if not self.max_seconds:
            return
        since = now - DAY_S
        used = self._journal.visitors_audio_seconds(since, visitor=tag, except_audio=audio_id)
        used += self._held_seconds()
        if used + MIN_SECONDS > self.max_seconds:
            raise LimitReachedError(
                sentence_for("limit.seconds_left", used=used, limit=self.max_seconds,
                    minimum=MIN_SECONDS, hint=OWN_KEY_HINT)
            )  # fmt: skip

    def _check_speech(
        self,
        visitor: Visitor,
        key: str,
        parts: int,
        seconds: float,
        part_s: float,
        speeches: int = 0,
    ) -> None:
        """A long speech checked whole: one job at once, `parts` jobs and `speeches`
        speeches of the day (the visitor's and its address's), `seconds` of the day's
        seconds."""
        assert visitor.tag is not None
        now = self._clock.wall()
        if self.max_active and f"speech:{key}" not in self._active(visitor.tag, now):
            self._check_active(visitor.tag, now)
        days = [(visitor.tag, self.max_daily, "visitor")]
        if visitor.address:
            days.append((visitor.address, self.max_per_address, "address"))
        for tag, limit, by in days:
            if not limit:
                continue
            spent = len(self._journal.spent_at(tag, now - DAY_S, by=by))
            left = max(limit - spent - self._held_parts(tag, by=by), 0)
            if speeches and parts + speeches > left:  # a long text: its speeches too
                raise LimitReachedError(
                    sentence_for("limit.text_parts", parts=parts, speeches=speeches,
                        requests=parts + speeches, limit=limit, left=left, hint=OWN_KEY_HINT)
                )  # fmt: skip
            if parts > left:
                fits = format_seconds(max(left, 0) * part_s)
                raise LimitReachedError(
                    sentence_for("limit.speech_parts", parts=parts, part=format_seconds(part_s),
                        limit=limit, left=left, fits=fits, hint=OWN_KEY_HINT)
                )  # fmt: skip
        self._check_seconds(visitor.tag, seconds, None)

    def _seconds_refusal(self, used: float, seconds: float) -> LimitReachedError:
        return LimitReachedError(
            sentence_for("limit.seconds", used=used, limit=self.max_seconds, seconds=seconds,
                hint=OWN_KEY_HINT)
        )  # fmt: skip
