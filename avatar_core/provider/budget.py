"""One budget of requests a second to the provider, taken by every request the process sends.

Each request takes its slot here, in the client's one send (`ProviderConnection.send`):
nothing for a caller to remember. Slots are at least 1/rate apart, and a request counts
from its slot until a second after its answer came: the provider counts it somewhere in
between, so however the request or the answer was delayed on its way (a loaded machine,
the network), the provider never sees more than the budget in any second.

When requests wait, who goes first is decided when a slot comes free, not by arrival:

1. paid work (`PAID`): creates, speech, the checks of tasks being followed, a job's own
   lookups; among them, first come first served. A share of each second
   (`PAID_SHARE`) is kept for it: questions alone never fill the whole budget, so paid
   work never waits for their answers to free a place;
2. then questions (key checks, lookups, the doctor, `status`): each network address in turn,
   and within an address each visitor in turn, so a flood from one visitor or one address
   delays its own questions, not anyone else's nor anyone's paid work.

Who is asking is a context variable (`asking`), set where the asker is known; a request
with none set is a question from nobody in particular. Waiting works from threads (the
budget's clock's sleep) and from event loops without holding a thread (its async sleep;
`run`: the slot is awaited, then the blocking call goes to a thread with that slot, which
its first request uses). The clock is the one the budget reads: a fake one moves as its
waiters wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import functools
import itertools
import math
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TypeVar

from avatar_core.clock import SYSTEM, Clock

PAID_SHARE = 0.2  # of each second's requests, kept for paid work (at least one)
IN_FLIGHT_S = 30.0  # a request still unanswered after this long no longer holds its place
_EPSILON = 1e-3  # seconds: closer than this counts as now (float sums drift)
_MEMORY = 4096  # askers whose last turn is remembered (the fair order), at most
T = TypeVar("T")


class Priority(enum.IntEnum):
    PAID = 0  # a paid task's own requests: its create, its speech, its checks
    QUESTION = 1  # anything else: key checks, lookups, the doctor


@dataclass(frozen=True)
class Claim:
    """Who a request is for: its priority, and for a question the asker's network address
    and visitor (tags, never the address itself)."""

    priority: Priority = Priority.QUESTION
    address: str = ""
    visitor: str = ""


PAID = Claim(Priority.PAID)
NOBODY = Claim()  # a question from nobody in particular: what a request is unless told
_CLAIM: contextvars.ContextVar[Claim] = contextvars.ContextVar("request_claim", default=NOBODY)


@contextlib.contextmanager
def asking(claim: Claim) -> Iterator[None]:
    """Requests sent in this block (and in threads started from it) are for `claim`."""
    token = _CLAIM.set(claim)
    try:
        yield
    finally:
        _CLAIM.reset(token)


def current_claim() -> Claim:
    return _CLAIM.get()


@dataclass(eq=False)
class _Waiter:
    claim: Claim
    order: int
    wake: Callable[[], None]


@dataclass(eq=False)
class Slot:
    """One request's place in the budget: from its grant until a second after it ended."""

    budget: RequestBudget
    granted: float
    ended: float | None = None  # when its answer (or its failure) came; None: on its way
    used: bool = False  # awaited for a call in a thread (`run`): its first request took it

    def counts_until(self) -> float:
        """Until when it may still count toward a second at the provider."""
        ended = self.granted + IN_FLIGHT_S if self.ended is None else self.ended
        return min(ended, self.granted + IN_FLIGHT_S) + 1.0


_SLOT: contextvars.ContextVar[Slot | None] = contextvars.ContextVar("request_slot", default=None)


@dataclass
class _Turns:
    """When each address, and each visitor of an address, last had a slot (a grant count)."""

    addresses: dict[str, int] = field(default_factory=dict)
    visitors: dict[tuple[str, str], int] = field(default_factory=dict)

    def rank(self, waiter: _Waiter) -> tuple[int, int, int, int]:
        claim = waiter.claim
        if claim.priority is Priority.PAID:
            return (claim.priority, 0, 0, waiter.order)
        address = self.addresses.get(claim.address, -1)
        visitor = self.visitors.get((claim.address, claim.visitor), -1)
        return (claim.priority, address, visitor, waiter.order)

    def served(self, claim: Claim, grant: int) -> None:
        if claim.priority is Priority.PAID:
            return
        if len(self.visitors) > _MEMORY:  # forget the oldest half
            keep = sorted(self.visitors.items(), key=lambda kv: kv[1])[_MEMORY // 2 :]
            self.visitors = dict(keep)
            self.addresses = {a: n for a, n in self.addresses.items() if n >= keep[0][1]}
        self.addresses[claim.address] = grant
        self.visitors[(claim.address, claim.visitor)] = grant


class RequestBudget:
    """At most `rate` requests a second to the provider, shared by every request.

    Thread-safe; reads and waits on `clock` (a fake clock moves as its waiters wait).
    """

    def __init__(self, rate: float, clock: Clock = SYSTEM) -> None:
        self.rate = rate
        self._clock = clock
        self._per_window = max(1, math.floor(rate))
        kept = max(1, math.floor(self._per_window * PAID_SHARE))
        self._per_window_asked = max(1, self._per_window - kept)  # the most for questions
        self._recent: deque[Slot] = deque()  # the slots that may still count
        self._last = float("-inf")  # when the last slot was given
        self._waiting: list[_Waiter] = []
        self._chosen: _Waiter | None = None
        self._turns = _Turns()
        self._grants = itertools.count()
        self._orders = itertools.count()
        self._lock = threading.Lock()
        self.sent = 0  # slots given so far

    # --- taking a slot ----------------------------------------------------------------------

    def take(self) -> Slot:
        """Wait in this thread for this request's slot; the caller says `done` once its
        answer came or it failed."""
        prepaid = self._prepaid()
        if prepaid is not None:
            return prepaid
        event = threading.Event()
        waiter = self._join(event.set)
        try:
            while True:
                event.clear()
                wait = self._try(waiter)
                if isinstance(wait, Slot):
                    return wait
                if wait is None:
                    event.wait(IN_FLIGHT_S)  # woken when its turn comes or a request ends
                else:
                    self._clock.sleep(wait)
        except BaseException:
            self._leave(waiter)
            raise

    async def take_async(
        self,
        *,
        claim: Claim | None = None,
        pause: Callable[[float], Awaitable[None]] | None = None,
    ) -> Slot:
        """Wait in this event loop, holding no thread, for a slot (`done` once used).
        `claim`: whom it is for (None: whoever is asking here); `pause`: how to wait
        instead of the clock's async sleep (a wait something else may cut short: the poll
        scheduler's, which a new task wakes)."""
        asleep = pause or self._clock.asleep
        loop = asyncio.get_running_loop()
        event = asyncio.Event()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(event.set)

        waiter = self._join(wake, claim)
        try:
            while True:
                event.clear()
                wait = self._try(waiter)
                if isinstance(wait, Slot):
                    return wait
                if wait is None:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(event.wait(), IN_FLIGHT_S)
                else:
                    await asleep(wait)
        except BaseException:
            self._leave(waiter)
            raise

    async def run(
        self,
        call: Callable[..., T],
        *args: object,
        claim: Claim | None = None,
        executor: Executor | None = None,
        slot: Slot | None = None,
    ) -> T:
        """`call(*args)` in a thread (of `executor`), its first request's slot awaited here
        first, holding no thread meanwhile; any further request it sends waits in its
        thread. `claim`: whom it is for (None: whoever is asking here); `slot`: the slot
        already awaited for it (`take_async`'s answer)."""
        claim = claim or current_claim()
        slot = slot or await self.take_async(claim=claim)
        context = contextvars.copy_context()
        context.run(_CLAIM.set, claim)
        context.run(_SLOT.set, slot)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, functools.partial(context.run, call, *args))
        finally:
            if not slot.used:  # the call sent nothing: the slot is free again a second on
                self.done(slot)

    def done(self, slot: Slot) -> None:
        """The request of `slot` has its answer, or failed: it counts for a second more."""
        with self._lock:
            slot.ended = self._clock.now()
            if self._chosen is not None:  # a place may have come free for whoever is next
                self._chosen.wake()

    # --- inside --------------------------------------------------------------------------

    def _prepaid(self) -> Slot | None:
        """The slot of this budget awaited for this thread's call, if it has one unused."""
        slot = _SLOT.get()
        if slot is None or slot.budget is not self or slot.used:
            return None
        slot.used = True
        return slot

    def _next_free(self, now: float, places: int) -> float | None:
        """Must hold the lock. When the next slot is free, for a request that may have one
        of `places` in a second; None while that waits for a request on its way to end."""
        while self._recent and self._recent[0].counts_until() <= now:
            self._recent.popleft()
        spaced = self._last + 1.0 / self.rate
        counting = sorted(
            (slot.counts_until(), slot.ended is None)
            for slot in self._recent
            if slot.counts_until() > now
        )
        if len(counting) < places:
            return spaced
        frees, on_its_way = counting[len(counting) - places]
        if on_its_way and frees - 1.0 > now:  # its answer decides: `done` wakes the next
            return None
        return max(spaced, frees)

    def _join(self, wake: Callable[[], None], claim: Claim | None = None) -> _Waiter:
        waiter = _Waiter(claim or current_claim(), next(self._orders), wake)
        with self._lock:
            self._waiting.append(waiter)
            self._choose()
        return waiter

    def _leave(self, waiter: _Waiter) -> None:
        with self._lock:
            if waiter in self._waiting:
                self._waiting.remove(waiter)
                self._choose()

    def _choose(self) -> None:
        """Must hold the lock. The waiter whose turn it is, woken if it changed."""
        chosen = min(self._waiting, key=self._turns.rank) if self._waiting else None
        if chosen is not None and chosen is not self._chosen:
            chosen.wake()
        self._chosen = chosen

    def _try(self, waiter: _Waiter) -> Slot | float | None:
        """`waiter`'s slot when it has it now; the seconds until its slot when it is next;
        None when it is not next, or its slot waits for a request on its way to end."""
        with self._lock:
            if waiter is not self._chosen:
                return None
            now = self._clock.now()
            paid = waiter.claim.priority is Priority.PAID
            free = self._next_free(now, self._per_window if paid else self._per_window_asked)
            if free is None:
                return None
            if free - now > _EPSILON:
                return free - now
            slot = Slot(self, max(now, free))
            self._recent.append(slot)
            self._last = slot.granted
            self._turns.served(waiter.claim, next(self._grants))
            self.sent += 1
            self._waiting.remove(waiter)
            self._choose()
            return slot
