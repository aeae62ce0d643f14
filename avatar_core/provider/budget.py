"""One budget of requests a second to the provider, taken by every request the process sends.

Each request takes its slot here, in the client's one send (`KlingClient._send`): nothing
for a caller to remember. Slots are at least 1/rate apart, and no window of one second plus
`MARGIN_S` (room for the way from here to the provider) holds more than the budget, so the
provider never sees more than the budget in any second.

When requests wait, who goes first is decided when a slot comes free, not by arrival:

1. paid work (`PAID`): creates, speech, the checks of tasks being followed, a job's own
   lookups; among them, first come first served;
2. then questions (key checks, lookups, the doctor, `status`): each network address in turn,
   and within an address each visitor in turn, so a flood from one visitor or one address
   delays its own questions, not anyone else's nor anyone's paid work.

Who is asking is a context variable (`asking`), set where the asker is known; a request
with none set is a question from nobody in particular. Waiting works from threads (with the
caller's sleep) and from event loops without holding a thread (`run`: the slot is awaited,
then the blocking call goes to a thread with that slot, which its first request uses).
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
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TypeVar

MARGIN_S = 0.05  # a slot's request reaches the provider within this; no second holds more
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
class _Slot:
    """A slot awaited in an event loop for a call in a thread: its first request uses it."""

    budget: RequestBudget
    at: float
    used: bool = False


_SLOT: contextvars.ContextVar[_Slot | None] = contextvars.ContextVar("request_slot", default=None)


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

    Thread-safe; works with any clock (`clock`), each waiter sleeping with its own sleep
    (a fake clock's sleep moves that clock).
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._per_window = max(1, math.floor(rate))
        self._granted: deque[float] = deque(maxlen=self._per_window)
        self._waiting: list[_Waiter] = []
        self._chosen: _Waiter | None = None
        self._turns = _Turns()
        self._grants = itertools.count()
        self._orders = itertools.count()
        self._lock = threading.Lock()
        self.sent = 0  # slots given so far

    # --- taking a slot ----------------------------------------------------------------------

    def take(self, sleep: Callable[[float], None] = time.sleep) -> None:
        """Wait (in this thread, sleeping with `sleep`) for this request's slot."""
        if self._prepaid():
            return
        event = threading.Event()
        waiter = self._join(event.set)
        try:
            while True:
                event.clear()
                wait = self._try(waiter)
                if wait == 0.0:
                    return
                if wait is None:
                    event.wait()
                else:
                    sleep(wait)
        except BaseException:
            self._leave(waiter)
            raise

    async def take_async(
        self,
        asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        *,
        claim: Claim | None = None,
    ) -> float:
        """Wait in this event loop, holding no thread, for a slot; when it was given.
        `claim`: whom it is for (None: whoever is asking here)."""
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
                if wait == 0.0:
                    return self._clock()
                if wait is None:
                    await event.wait()
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
        asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        executor: Executor | None = None,
        granted_at: float | None = None,
    ) -> T:
        """`call(*args)` in a thread (of `executor`), its first request's slot awaited here
        first, holding no thread meanwhile; any further request it sends waits in its
        thread. `claim`: whom it is for (None: whoever is asking here); `granted_at`: the
        slot already awaited for it (`take_async`'s answer)."""
        claim = claim or current_claim()
        if granted_at is None:
            granted_at = await self.take_async(asleep, claim=claim)
        context = contextvars.copy_context()
        context.run(_CLAIM.set, claim)
        context.run(_SLOT.set, _Slot(self, granted_at))
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, functools.partial(context.run, call, *args))

    # --- inside --------------------------------------------------------------------------

    def _prepaid(self) -> bool:
        """Whether this thread's call has a slot of this budget awaited for it, still fresh
        (a slot used late could land in the next second's share)."""
        slot = _SLOT.get()
        if slot is None or slot.budget is not self or slot.used:
            return False
        slot.used = True
        return self._clock() - slot.at <= MARGIN_S

    def _next_free(self) -> float:
        """Must hold the lock. When the next slot is free."""
        if not self._granted:
            return float("-inf")
        spaced = self._granted[-1] + 1.0 / self.rate
        if len(self._granted) < self._per_window:
            return spaced
        return max(spaced, self._granted[0] + 1.0 + MARGIN_S)

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

    def _try(self, waiter: _Waiter) -> float | None:
        """0 when `waiter` has its slot now; the seconds until its slot when it is next;
        None when it is not next."""
        with self._lock:
            if waiter is not self._chosen:
                return None
            now = self._clock()
            wait = self._next_free() - now
            if wait > _EPSILON:
                return wait
            self._granted.append(max(now, self._next_free()))
            self._turns.served(waiter.claim, next(self._grants))
            self.sent += 1
            self._waiting.remove(waiter)
            self._choose()
            return 0.0
