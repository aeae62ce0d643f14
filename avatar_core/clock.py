"""The time the process reads and waits on, in one place.

Everything that reads the time or waits takes a `Clock` (the system's, `SYSTEM`, unless
told): the poll scheduler, the request budget, the line in front of creates. Tests pass
their fake clock, which moves only when someone waits on it, so minutes of provider time
pass at once; the code waits the same way on either, with no branch on which it has.

`busy()` marks work on its way whose end the waiting should see (a provider's answer in a
thread): the system's clock ignores it; a fake clock does not move meanwhile, as real time
would barely move while an answer is on its way.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator


class Clock:
    """The system's clock: monotonic seconds for durations, Unix seconds for timestamps."""

    def now(self) -> float:
        """Seconds for measuring durations (monotonic; no meaning across processes)."""
        return time.monotonic()

    def wall(self) -> float:
        """Unix seconds, for timestamps kept or compared with other processes'."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` in this thread."""
        time.sleep(max(seconds, 0.0))

    async def asleep(self, seconds: float) -> None:
        """Wait `seconds` in this event loop, holding no thread."""
        await asyncio.sleep(max(seconds, 0.0))

    async def wait(self, event: asyncio.Event, timeout: float | None) -> bool:
        """Until `event` is set (True) or `timeout` seconds have passed (False); None: no
        timeout. Leaves the event as it found it."""
        if timeout is None:
            await event.wait()
            return True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=max(timeout, 0.0))
        return event.is_set()

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Work on its way (see the module's note); nothing to do on the system's clock."""
        yield


SYSTEM = Clock()
