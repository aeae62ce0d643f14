"""One poll loop per process for every task anyone is waiting on.

Waiting people hold no thread: they await an asyncio queue that this loop feeds. The loop
runs in one background thread of its own, asks the provider about each task once however
many people watch it, places each check by `Pacing`, and checks at once when a provider
callback says something changed. Each check awaits its slot in the process's request budget
(`provider/budget.py`) as paid work (a followed task comes before questions), holding no
thread meanwhile; then the blocking client runs briefly in a small thread pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from avatar_core.catalogue import sentence_for
from avatar_core.clock import SYSTEM, Clock
from avatar_core.errors import AvatarError, TaskStillRunningError
from avatar_core.provider.budget import PAID, RequestBudget, Slot
from avatar_core.provider.client import ProviderClient
from avatar_core.provider.connection import DEFAULT_RATE_PER_S
from avatar_core.provider.models import TaskInfo, TaskStatus
from avatar_core.waiting.durations import DurationModel
from avatar_core.waiting.pacing import Pacing

log = logging.getLogger(__name__)

_EPSILON = 1e-3  # seconds: closer than this counts as now (float sums drift)


@dataclass
class _Watcher:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue
    limit_s: float  # how long this watcher waits in all
    deadline: float = float("inf")  # on the scheduler's clock


@dataclass
class _Entry:
    client: ProviderClient
    task_id: str
    kind: str
    audio_s: float | None  # the audio's length, for the expected duration (None: unknown)
    started: float  # on the scheduler's clock, when the task was created (as far as known)
    watchers: list[_Watcher] = field(default_factory=list)
    polls: int = 0
    due: float = 0.0
    generation: int = 0
    in_flight: bool = False
    callbacks: bool = False
    last: TaskInfo | None = None


class PollScheduler:
    """Follows tasks for async waiters. Thread-safe; one per process is enough."""

    def __init__(
        self,
        *,
        rate_per_s: float = DEFAULT_RATE_PER_S,
        pacing: Pacing | None = None,
        model: DurationModel | None = None,
        workers: int = 8,
        clock: Clock = SYSTEM,
    ) -> None:
        self.pacing = pacing or Pacing()
        self.model = model or DurationModel()
        self._clock = clock
        self.budget = RequestBudget(rate_per_s, clock)
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._heap: list[tuple[float, int, int, tuple[str, str]]] = []
        self._sequence = itertools.count()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="poll")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._ready = threading.Event()
        self._closed = False

    # --- the public side (any thread, any event loop) -------------------------------------

    async def watch(
        self,
        client: ProviderClient,
        first: TaskInfo,
        *,
        kind: str = "std",
        audio_s: float | None = None,
        deadline_s: float,
        callbacks: bool = False,
    ) -> AsyncIterator[TaskInfo]:
        """Yield each new snapshot of the task after `first`, ending with a terminal one.

        `kind` and `audio_s` (the audio's seconds) say how long the model expects it to take.
        Raises TaskStillRunningError past the deadline, or the error that ended polling.
        """
        if first.is_terminal:
            return
        watcher = _Watcher(asyncio.get_running_loop(), asyncio.Queue(), deadline_s)
        key = self._subscribe(client, first, kind, audio_s, watcher, callbacks)
        try:
            while True:
                item = await watcher.queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if item.is_terminal:
                    return
        finally:
            self._unsubscribe(key, watcher)

    def nudge(self, base_url: str, task_id: str) -> bool:
        """Check this task now (a callback said it changed); False if nobody follows it."""
        with self._lock:
            entry = self._entries.get((base_url, task_id))
            if entry is None:
                return False
            self._schedule(entry, self._clock.now())
        self._poke()
        return True

    def close(self) -> None:
        """Stop the loop and its threads; whoever still waits is told the wait ended."""
        with self._lock:
            self._closed = True
            for entry in self._entries.values():
                for watcher in entry.watchers:
                    _deliver(watcher, _wait_ended(entry))
            self._entries.clear()
        self._poke()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- bookkeeping ----------------------------------------------------------------------

    def _subscribe(
        self,
        client: ProviderClient,
        first: TaskInfo,
        kind: str,
        audio_s: float | None,
        watcher: _Watcher,
        callbacks: bool,
    ) -> tuple[str, str]:
        self._ensure_running()
        key = (client.base_url, first.task_id)
        now = self._clock.now()
        watcher.deadline = now + watcher.limit_s
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                started = now - _age_s(first, self._clock.wall())
                entry = _Entry(client, first.task_id, kind, audio_s, started, last=first)
                self._entries[key] = entry
                self._schedule(entry, now + self._next_delay(entry, now))
            entry.callbacks = entry.callbacks or callbacks
            entry.watchers.append(watcher)
        self._poke()
        return key

    def _unsubscribe(self, key: tuple[str, str], watcher: _Watcher) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and watcher in entry.watchers:
                entry.watchers.remove(watcher)
                if not entry.watchers and not entry.in_flight:  # else its answer ends it
                    del self._entries[key]

    def _schedule(self, entry: _Entry, due: float) -> None:
        """Must hold the lock."""
        entry.generation += 1
        entry.due = due
        heapq.heappush(
            self._heap,
            (due, next(self._sequence), entry.generation, (entry.client.base_url, entry.task_id)),
        )

    def _replan(self, kind: str, now: float) -> None:
        """Must hold the lock. What a finished task taught moves its kind's next checks
        earlier where it now expects them sooner (the first tasks of a crowd to finish
        tell where the others will)."""
        for entry in self._entries.values():
            if entry.kind != kind or entry.in_flight or entry.callbacks:
                continue
            due = now + self._next_delay(entry, now)
            if due < entry.due - _EPSILON:
                self._schedule(entry, due)

    def _next_delay(self, entry: _Entry, now: float) -> float:
        """Must hold the lock. A crowd that the request budget cannot check early skips
        the early check, keeping the budget for the checks near each task's end."""
        crowded = len(self._entries) / self.budget.rate > self.pacing.first_s
        expectation = self.model.expectation(entry.kind, entry.audio_s)
        return self.pacing.delay(
            polls=entry.polls,
            elapsed_s=now - entry.started,
            expected_s=expectation.seconds if expectation else None,
            spread_s=expectation.spread_s if expectation else 0.0,
            guess=expectation.guess if expectation else False,
            longest_s=expectation.longest_s if expectation else None,
            callbacks=entry.callbacks,
            early_check=not crowded,
        )

    # --- the loop (its own thread) ---------------------------------------------------------

    def _ensure_running(self) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("this poll scheduler is closed")
            if self._loop is not None:
                return
            self._loop = asyncio.new_event_loop()
        thread = threading.Thread(target=self._run, name="poll-scheduler", daemon=True)
        thread.start()
        self._ready.wait()

    def _run(self) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        self._wake = asyncio.Event()
        self._ready.set()
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    def _poke(self) -> None:
        if self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                self._loop.call_soon_threadsafe(self._wake.set)

    async def _pause(self, seconds: float) -> None:
        """Wait up to `seconds`, or until poked; with nothing to follow, until poked."""
        assert self._wake is not None
        await self._clock.wait(self._wake, seconds if self._entries else None)
        self._wake.clear()  # after waking, so that a poke during the wait is never lost

    async def _serve(self) -> None:
        while not self._closed:
            now = self._clock.now()
            self._expire_watchers(now)
            entry, wait = self._next_due(now)
            if entry is None:
                await self._pause(wait)
                continue
            entry.in_flight = True
            # its slot in the budget (paid work: before questions), waiting as `_pause` does
            slot = await self.budget.take_async(claim=PAID, pause=self._pause)
            asyncio.get_running_loop().create_task(self._poll(entry, slot))
            await asyncio.sleep(0)  # the check starts (and says it is busy) before any wait

    def _next_due(self, now: float) -> tuple[_Entry | None, float]:
        """The entry whose check is due, or how long until one is (at most 1 s)."""
        with self._lock:
            while self._heap:
                due, _, generation, key = self._heap[0]
                entry = self._entries.get(key)
                if entry is None or entry.generation != generation or entry.in_flight:
                    heapq.heappop(self._heap)
                    continue
                if due > now + _EPSILON:
                    return None, min(due - now, 1.0)
                heapq.heappop(self._heap)
                return entry, 0.0
        return None, 1.0

    def _expire_watchers(self, now: float) -> None:
        """Tell each watcher past its deadline, and stop checking for them at once."""
        with self._lock:
            for key, entry in list(self._entries.items()):
                late = [w for w in entry.watchers if w.deadline <= now]
                for watcher in late:
                    _deliver(watcher, _still_running(entry, watcher.limit_s))
                    entry.watchers.remove(watcher)
                if late and not entry.watchers and not entry.in_flight:
                    del self._entries[key]

    async def _poll(self, entry: _Entry, slot: Slot) -> None:
        with self._clock.busy():  # its answer is on its way: a fake clock waits for it
            await self._check(entry, slot)

    async def _check(self, entry: _Entry, slot: Slot) -> None:
        try:
            info = await self.budget.run(
                entry.client.get_task,
                entry.task_id,
                claim=PAID,
                executor=self._pool,
                slot=slot,
            )
        except AvatarError as error:
            info = error
        except Exception as error:  # a bug must not kill the loop for everyone
            log.exception("polling task %s failed", entry.task_id)
            info = AvatarError(sentence_for("poll.unexpected", task_id=entry.task_id, error=error))
        assert self._wake is not None
        self._wake.set()
        now = self._clock.now()
        with self._lock:
            entry.in_flight = False
            entry.polls += 1
            watchers = list(entry.watchers)
            finished = isinstance(info, BaseException) or info.is_terminal
            if isinstance(info, TaskInfo):
                entry.last = info
                if info.status is TaskStatus.SUCCEED:  # only a finished task teaches the model
                    audio_s = entry.audio_s or info.video_duration_s
                    self.model.learn(entry.kind, _task_seconds(info, now - entry.started), audio_s)
                    self._replan(entry.kind, now)
            key = (entry.client.base_url, entry.task_id)
            if finished or not entry.watchers:  # nobody waits any more: stop checking
                if self._entries.get(key) is entry:
                    del self._entries[key]
            else:
                self._schedule(entry, now + self._next_delay(entry, now))
        for watcher in watchers:
            _deliver(watcher, info)


def _still_running(entry: _Entry, waited_s: float) -> TaskStillRunningError:
    status = entry.last.status.value if entry.last else TaskStatus.UNKNOWN.value
    return TaskStillRunningError(
        sentence_for("poll.still_running", task_id=entry.task_id, status=status, seconds=waited_s),
        task_id=entry.task_id,
        status=status,
    )


def _wait_ended(entry: _Entry) -> AvatarError:
    return AvatarError(sentence_for("poll.shutting_down", task_id=entry.task_id))


def _deliver(watcher: _Watcher, item: object) -> None:
    with contextlib.suppress(RuntimeError):  # that loop is closed: the person left
        watcher.loop.call_soon_threadsafe(watcher.queue.put_nowait, item)


def _age_s(task: TaskInfo, wall_now: float) -> float:
    """How old the task already is, from the provider's own timestamps when plausible."""
    if task.created_at_ms is None:
        return 0.0
    age = wall_now - task.created_at_ms / 1000
    return age if 0 <= age < 24 * 3600 else 0.0


def _task_seconds(task: TaskInfo, observed_s: float) -> float:
    """How long the task took: the provider's timestamps when present, else what we saw."""
    return task.seconds_taken or observed_s
