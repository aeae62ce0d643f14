"""The fair line in front of creates: at most so many tasks running at once per account.

A Kling account runs only so many tasks at once (code 1303) and takes only so many
requests a second (1302). Every create of this process goes through one `FairLine`: a job
waits for a slot of its account (the provider's base URL and key), round-robin between
visitors and first come first served within one visitor, so one visitor's ten jobs do not
hold up another's first. The operator (the command line) counts as one visitor.

Flows run in different event loops (Gradio's, the command line's `asyncio.run`, the app's
start-up resume in a thread of its own), so the line is guarded by a threading lock and a
waiter is an asyncio event of its own loop, woken with `call_soon_threadsafe`: no thread
is held while a job waits.

The slots. A slot is taken just before the create and held while a flow of this process
follows the task; it is given back when the follow sees the task end. A task no flow
follows any more (its deadline, Stop, a closed tab, a short MCP answer) is still running
at the provider: its slot is held until the task's expected end (from its start and the
expected task time), then given back, since nobody would learn when it really ends and a
slot held for good could hold the line for good. If such a task runs longer, the provider
says so with a 1303 on a later create: nothing was created, the job goes back to the front
of the line, and the line lowers its estimate of the account's limit to the tasks it
knows to be running, those held past their follow included (at least one), then waits
for one of them to end. The operator's AVATAR_MAX_RUNNING_TASKS does not floor the
estimate: other apps on the same account take slots too. Tasks that `resume` follows
after a restart (sent before it) hold no slot; a 1303 tells of them the same way. With
none of ours running (other apps, or tasks no one follows, use the account), the line
pauses for a backoff and tries again. A learnt estimate rises by one after
`PROBE_AFTER_S` without a refusal (tried when slots are handed out, never when read), so
a limit that frees up (a bigger plan, another app's tasks ending) is used again. A 1302
pauses the account's line for the wait the provider asks for
(`retry.refused_create_wait`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from avatar_core.clock import SYSTEM, Clock
from avatar_core.units import about
from avatar_core.words import Message, say

PROBE_AFTER_S = 120.0  # a learnt limit is tried one higher after this long without a refusal
REFRESH_S = 5.0  # a waiter's place and estimate are told again at least this often
UNKNOWN_TASK_S = 120.0  # the expected task time when nothing is known yet


@dataclass(frozen=True)
class Place:
    """Where a job stands: `position` 1 is next; `estimate_s` the expected wait."""

    position: int
    estimate_s: float


@dataclass(eq=False)
class Ticket:
    """One job's place in its account's line; `state`: waiting, sending, running, left."""

    account: str
    visitor: str
    job_id: str
    task_s: float = UNKNOWN_TASK_S  # how long its task is expected to take
    state: str = "waiting"
    started_at: float = 0.0  # when the provider accepted its create (the line's clock)
    woken: asyncio.Event | None = field(default=None, repr=False)  # set when its place moves
    loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)


class _AccountState:
    """One account's queues and slots (used under the line's lock)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit  # the operator's AVATAR_MAX_RUNNING_TASKS (0: not set)
        self.learnt: int | None = None  # from the provider's 1303 answers
        self.learnt_at = 0.0
        self.sending = 0  # slots taken by creates not answered yet
        self.running = 0  # slots of accepted tasks a flow follows
        self.unfollowed: list[float] = []  # expected ends of tasks no flow follows any more
        self.queues: dict[str, deque[Ticket]] = {}
        self.rotation: deque[str] = deque()  # visitors with jobs waiting, whose turn first
        self.paused_until = 0.0

    @property
    def holding(self) -> int:
        return self.sending + self.running + len(self.unfollowed)

    def expire(self, now: float) -> None:
        """Give back the slots of unfollowed tasks past their expected end."""
        self.unfollowed = [end for end in self.unfollowed if end > now]

    def probe(self, now: float) -> None:
        """Try a learnt limit one higher after PROBE_AFTER_S without a refusal (only when
        slots are handed out, so reading the capacity changes nothing)."""
        if self.learnt is not None and now - self.learnt_at >= PROBE_AFTER_S:
            self.learnt, self.learnt_at = self.learnt + 1, now

    def capacity(self) -> int | None:
        """How many tasks may run at once (None: no limit known)."""
        limits = [n for n in (self.limit, self.learnt) if n]
        return min(limits) if limits else None

    def waiting(self) -> list[Ticket]:
        return [ticket for queue in self.queues.values() for ticket in queue]

    def position(self, ticket: Ticket) -> int:
        """1 + the jobs served before `ticket` by the round-robin."""
        index = self.queues[ticket.visitor].index(ticket)
        ahead = 0
        for turn, visitor in enumerate(self.rotation):
            queued = len(self.queues[visitor])
            ahead += min(queued, index)
            if turn < self.rotation.index(ticket.visitor) and queued > index:
                ahead += 1
        return ahead + 1


class FairLine:
    """The line of every account this process sends creates to (thread-safe)."""

    def __init__(self, *, clock: Clock = SYSTEM, refresh_s: float = REFRESH_S) -> None:
        self._clock = clock
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._accounts: dict[str, _AccountState] = {}
        self._tickets: set[Ticket] = set()  # every ticket not left (one job may have two)

    def join(
        self,
        account: str,
        visitor: str,
        job_id: str,
        *,
        limit: int = 0,
        task_s: float | None = None,
    ) -> Ticket:
        """A place at the end of `visitor`'s jobs in `account`'s line (`limit`: the
        operator's setting for that account, 0 for none)."""
        ticket = Ticket(account, visitor, job_id, task_s or UNKNOWN_TASK_S)
        with self._lock:
            account_state = self._accounts.setdefault(account, _AccountState(limit))
            account_state.limit = limit
            self._enqueue(account_state, ticket, front=False)
            self._tickets.add(ticket)
        return ticket

    async def wait(self, ticket: Ticket) -> AsyncIterator[Place]:
        """Wait for the ticket's slot, telling its place when it changes and now and then;
        returns once the create may be sent. Nothing is yielded when a slot is free."""
        loop = asyncio.get_running_loop()
        told: Place | None = None
        told_at = -math.inf
        while True:
            with self._lock:
                if ticket.state != "waiting":
                    return
                ticket.woken, ticket.loop = asyncio.Event(), loop
                woken = ticket.woken
                account_state = self._accounts[ticket.account]
                now = self._clock.now()
                self._dispatch(account_state, now)
                if ticket.state != "waiting":
                    return
                place = self._place(account_state, ticket, now)
                timeout = self._refresh_s
                if account_state.paused_until > now:
                    timeout = min(timeout, account_state.paused_until - now + 0.01)
            if place != told or self._clock.now() - told_at >= self._refresh_s:
                told, told_at = place, self._clock.now()
                yield place
            await self._clock.wait(woken, timeout)

    def started(self, ticket: Ticket) -> None:
        """The provider accepted the ticket's create: its slot is a running task now."""
        with self._lock:
            if ticket.state != "sending":
                return
            account_state = self._accounts[ticket.account]
            ticket.state, ticket.started_at = "running", self._clock.now()
            account_state.sending -= 1
            account_state.running += 1
            if account_state.learnt is not None and account_state.running > account_state.learnt:
                account_state.learnt = (
                    account_state.running
                )  # the provider took that many: no lower than that

    def refused(self, ticket: Ticket, *, busy: bool, wait_s: float) -> None:
        """The provider refused the create (nothing was created): back to the front.

        `busy` (1303): the account runs as many tasks as it may; the estimate of its limit
        falls to the tasks running, and with none of ours running the line pauses `wait_s`.
        Otherwise (1302) the account's line pauses `wait_s`, the wait the provider asked for.
        """
        with self._lock:
            if ticket.state != "sending":
                return
            account_state = self._accounts[ticket.account]
            now = self._clock.now()
            account_state.sending -= 1
            ticket.state = "waiting"
            self._enqueue(account_state, ticket, front=True)
            if busy:
                account_state.expire(now)
                account_state.learnt, account_state.learnt_at = (
                    max(account_state.running + len(account_state.unfollowed), 1),
                    now,
                )
            if not busy or account_state.running == 0:
                account_state.paused_until = max(account_state.paused_until, now + wait_s)
            self._notify(account_state)

    def leave(self, ticket: Ticket, *, ended: bool = False) -> None:
        """The job leaves the line, or gives its slot back (idempotent): at once when its
        task was seen to end (`ended`) or never started, else at the task's expected end."""
        with self._lock:
            account_state = self._accounts.get(ticket.account)
            if account_state is None or ticket.state == "left":
                return
            if ticket.state == "waiting":
                self._dequeue(account_state, ticket)
            elif ticket.state == "sending":
                account_state.sending -= 1
            else:
                account_state.running -= 1
                end = ticket.started_at + ticket.task_s
                if not ended and end > self._clock.now():
                    account_state.unfollowed.append(end)
            ticket.state = "left"
            self._tickets.discard(ticket)
            self._dispatch(account_state, self._clock.now())
            self._notify(account_state)

    def knows(self, job_id: str) -> bool:
        """Whether the job waits in this line or holds one of its slots."""
        with self._lock:
            return any(ticket.job_id == job_id for ticket in self._tickets)

    def capacity(self, account: str) -> int | None:
        """The tasks at once the line lets `account` run now (None: no limit known)."""
        with self._lock:
            account_state = self._accounts.get(account)
            return account_state.capacity() if account_state else None

    # --- under the lock -------------------------------------------------------------------

    def _enqueue(self, account_state: _AccountState, ticket: Ticket, *, front: bool) -> None:
        queue = account_state.queues.setdefault(ticket.visitor, deque())
        if ticket.visitor in account_state.rotation and front:
            account_state.rotation.remove(ticket.visitor)
        if front:
            queue.appendleft(ticket)
            account_state.rotation.appendleft(ticket.visitor)
        else:
            queue.append(ticket)
            if ticket.visitor not in account_state.rotation:
                account_state.rotation.append(ticket.visitor)

    def _dequeue(self, account_state: _AccountState, ticket: Ticket) -> None:
        queue = account_state.queues[ticket.visitor]
        queue.remove(ticket)
        if not queue:
            del account_state.queues[ticket.visitor]
            account_state.rotation.remove(ticket.visitor)

    def _dispatch(self, account_state: _AccountState, now: float) -> None:
        """Hand free slots out, one visitor's turn after another."""
        account_state.expire(now)
        if now < account_state.paused_until:
            return
        account_state.probe(now)
        capacity = account_state.capacity()
        while account_state.rotation and (capacity is None or account_state.holding < capacity):
            visitor = account_state.rotation.popleft()
            queue = account_state.queues[visitor]
            ticket = queue.popleft()
            if queue:
                account_state.rotation.append(visitor)
            else:
                del account_state.queues[visitor]
            ticket.state = "sending"
            account_state.sending += 1
            _wake(ticket)

    def _notify(self, account_state: _AccountState) -> None:
        """Wake every waiter of the account, to tell its new place."""
        for ticket in account_state.waiting():
            _wake(ticket)

    def _place(self, account_state: _AccountState, ticket: Ticket, now: float) -> Place:
        position = account_state.position(ticket)
        at_once = account_state.capacity() or max(account_state.holding, 1)
        estimate = math.ceil(position / at_once) * ticket.task_s
        return Place(position, estimate + max(account_state.paused_until - now, 0.0))


def _wake(ticket: Ticket) -> None:
    woken, loop = ticket.woken, ticket.loop
    if woken is None or loop is None:
        return
    with contextlib.suppress(RuntimeError):  # its loop has closed: `leave` frees its place
        loop.call_soon_threadsafe(woken.set)


def place_message(place: Place) -> Message:
    """What a person reads in line: "3rd in line, about 2 min"."""
    wait = say("line.under_a_minute") if place.estimate_s < 60 else about(place.estimate_s)
    return say("line.place", position=place.position, wait=wait)
