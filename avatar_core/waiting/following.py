"""Following one task until it ends: polls on an adaptive schedule, up to a deadline.

Clock and sleep are injectable so tests drive time without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from avatar_core.errors import TaskStillRunningError
from avatar_core.provider.models import TaskInfo

DEFAULT_DEADLINE_S = 30 * 60.0


@dataclass(frozen=True)
class PollSchedule:
    """Quick at first (to catch early failures), then slower, never past `cap_s`."""

    first_s: float = 2.0
    growth: float = 1.5
    cap_s: float = 10.0

    def intervals(self) -> Iterator[float]:
        interval = self.first_s
        while True:
            yield interval
            interval = min(self.cap_s, interval * self.growth)


def follow_task(
    get_task: Callable[[str], TaskInfo],
    task_id: str,
    *,
    schedule: PollSchedule | None = None,
    deadline_s: float = DEFAULT_DEADLINE_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    first: TaskInfo | None = None,
) -> Iterator[TaskInfo]:
    """Yield each snapshot of the task until a terminal one (which is yielded too).

    Raises TaskStillRunningError when `deadline_s` passes first; the task goes on at the
    provider and can be followed again later.
    """
    start = clock()
    info = first if first is not None else get_task(task_id)
    yield info
    intervals = (schedule or PollSchedule()).intervals()
    while not info.is_terminal:
        remaining = deadline_s - (clock() - start)
        if remaining <= 0:
            raise TaskStillRunningError(
                f"Task {task_id} is still {info.status.value} after {deadline_s:.0f} s: it goes on "
                f"at the provider; pick it up later with `status {task_id} --wait` or the "
                "lookup box.",
                task_id=task_id,
                status=info.status.value,
            )
        sleep(min(next(intervals), remaining))
        info = get_task(task_id)
        yield info
