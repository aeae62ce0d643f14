"""The tests' one fake clock: it moves only when someone waits on it or a test says so.

A `Clock` (avatar_core/clock.py) for the code under test, and a plain clock function (call
it) for the simulator, so the two share one time: a task the simulator takes 300 s over
finishes as soon as the scheduler waits 300 s, which takes no time at all. While work is on
its way (`busy`: a provider's answer in a thread), waiting does not move it: the answer
comes first, as it would in real time. `real_time=True`: real time plus whatever the test
skips with `advance` (for a simulator a command line in another process polls on real
time).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

from avatar_core.clock import Clock

_WAIT_FOR_WORK_S = 0.005  # real seconds between looks at work on its way


class FakeClock(Clock):
    def __init__(self, start: float = 1000.0, *, real_time: bool = False) -> None:
        self._start = start
        self._skipped = 0.0
        self._origin = time.monotonic() if real_time else None
        self._wall_origin = time.time()
        self._busy = 0
        self._lock = threading.Lock()
        self.sleeps: list[float] = []  # every sleep asked of it, in seconds

    def now(self) -> float:
        with self._lock:
            moved = 0.0 if self._origin is None else time.monotonic() - self._origin
            return self._start + self._skipped + moved

    __call__ = now  # the simulator's clock is a plain function

    def wall(self) -> float:
        """Unix seconds: the real time it was made at, moved as it moves."""
        return self._wall_origin + self.now() - self._start

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._skipped += max(seconds, 0.0)

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
        self.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        await self._work_done()
        self.advance(seconds)
        await asyncio.sleep(0)

    async def wait(self, event: asyncio.Event, timeout: float | None) -> bool:
        if timeout is None:
            await event.wait()
            return True
        await self._work_done(event)
        if not event.is_set():
            self.advance(timeout)
            await asyncio.sleep(0)
        return event.is_set()

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        with self._lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1

    async def _work_done(self, event: asyncio.Event | None = None) -> None:
        """Until no work is on its way (or `event` is set)."""
        while self._busy and not (event is not None and event.is_set()):
            await asyncio.sleep(_WAIT_FOR_WORK_S)
