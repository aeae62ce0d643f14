"""Hold a simulator's tasks still until the creates a test is about have reached it.

A test that checks what happens while tasks run at once (the line sends all its jobs before
the first video is home; the account's limit refuses a third create while two run) races
the tasks' own time: on a loaded machine the first task could end, on the real clock or a
fake one moved by its checks, before the last create is sent, and the test would see
something else than it checks. Held, the tasks stand still (the simulator's task clock
stops) until the simulator has made `creates` tasks or refused `refusals` creates for the
account's tasks at once (1303); then they follow their clock again, aged by all the time
it moved meanwhile. If that never happens within `timeout_s` of real time (the code under
test sent the creates one after another, say), they go on anyway, so that the test fails
rather than hangs: the hold says it gave up (`Hold.gave_up`), which the test asserts
did not happen.

The book asks its clock under its own lock, so the hold counts from the simulator's own
counters as they move (never through `sim.stats`, which takes that lock again).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from avatar_core.simulator import Simulator


@dataclass
class Hold:
    released: threading.Event = field(default_factory=threading.Event)
    gave_up: bool = False  # released by the timeout, not by the creates or refusals


def hold_tasks(
    sim: Simulator,
    clock: Callable[[], float],
    monkeypatch: pytest.MonkeyPatch,
    *,
    creates: int | None = None,
    refusals: int | None = None,
    timeout_s: float = 120.0,
) -> Hold:
    """Hold `sim`'s tasks (whose clock is `clock`) until `creates` tasks were made or
    `refusals` creates refused with 1303 from now on (`Hold.released` is set then)."""
    parts = sim._parts  # the simulator's counters and task book, as its routes use them
    hold = Hold()
    released = hold.released
    seen = {"creates": 0, "refusals": 0}
    wanted = {"creates": creates, "refusals": refusals}
    lock = threading.Lock()

    def counting(name: str, count: Callable[[], None]) -> Callable[[], None]:
        def counted() -> None:
            count()
            with lock:
                seen[name] += 1
                if wanted[name] is not None and seen[name] >= wanted[name]:
                    released.set()

        return counted

    monkeypatch.setattr(parts.stats, "created", counting("creates", parts.stats.created))
    monkeypatch.setattr(parts.stats, "refused_busy", counting("refusals", parts.stats.refused_busy))
    held_at, give_up_at = clock(), time.monotonic() + timeout_s

    def task_clock() -> float:
        if not released.is_set() and time.monotonic() > give_up_at:
            hold.gave_up = True
            released.set()
        return clock() if released.is_set() else held_at

    monkeypatch.setattr(parts.book, "clock", task_clock)
    return hold
