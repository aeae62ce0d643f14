"""Watching one task through the poll scheduler: every snapshot until the end, within a
deadline, on the one pacing policy; the provider's answers follow a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest
from fake_clock import FakeClock

from avatar_core.errors import TaskStillRunningError
from avatar_core.provider.models import TaskInfo, TaskStatus
from avatar_core.waiting.pacing import Pacing
from avatar_core.waiting.scheduler import PollScheduler


class TimedProvider:
    """Answers like a task whose status depends on the fake time; notes when it was asked."""

    base_url = "http://provider.invalid"

    def __init__(self, statuses_by_time: list[tuple[float, str]], fake: FakeClock) -> None:
        self._statuses, self._fake = statuses_by_time, fake
        self.asked_at: list[float] = []

    def get_task(self, task_id: str) -> TaskInfo:
        self.asked_at.append(self._fake.now())
        status = "submitted"
        for at, value in self._statuses:
            if self._fake.now() - 1000.0 >= at:
                status = value
        return TaskInfo(task_id=task_id, status=TaskStatus.parse(status), raw_status=status)


def _watch(provider, fake, deadline_s=600.0, pacing=None) -> list[TaskInfo]:
    scheduler = PollScheduler(clock=fake, pacing=pacing)
    first = provider.get_task("t1")

    async def run():
        return [first] + [s async for s in scheduler.watch(provider, first, deadline_s=deadline_s)]

    try:
        return asyncio.run(run())
    finally:
        scheduler.close()


def test_it_yields_each_snapshot_and_stops_at_success(fake_time):
    seen = _watch(TimedProvider([(3, "processing"), (20, "succeed")], fake_time), fake_time)
    watched = seen[1:]  # what the scheduler delivered after the first answer
    assert watched[-1].status is TaskStatus.SUCCEED
    assert TaskStatus.PROCESSING in {s.status for s in seen}
    assert all(not s.is_terminal for s in seen[:-1])


def test_with_nothing_learnt_checks_start_early_and_never_wait_past_the_cap(fake_time):
    provider = TimedProvider([(100, "succeed")], fake_time)
    _watch(provider, fake_time, pacing=Pacing(first_s=1, cap_s=8))
    gaps = [b - a for a, b in zip(provider.asked_at, provider.asked_at[1:], strict=False)]
    assert gaps[0] == pytest.approx(1, abs=0.01)
    assert max(gaps) <= 8 + 0.01
    assert len(provider.asked_at) < 30  # the gaps grew: not a check a second for 100 s


def test_a_failed_task_ends_the_watch(fake_time):
    seen = _watch(TimedProvider([(5, "failed")], fake_time), fake_time)
    assert seen[-1].status is TaskStatus.FAILED


def test_unknown_statuses_count_as_still_running(fake_time):
    seen = _watch(TimedProvider([(2, "queueing_upstream"), (9, "succeed")], fake_time), fake_time)
    assert TaskStatus.UNKNOWN in {s.status for s in seen}
    assert seen[-1].status is TaskStatus.SUCCEED


def test_the_deadline_raises_with_how_to_pick_it_up_later(fake_time):
    provider = TimedProvider([(1, "processing")], fake_time)
    with pytest.raises(TaskStillRunningError) as caught:
        _watch(provider, fake_time, deadline_s=30)
    assert caught.value.task_id == "t1"
    assert "status t1 --wait" in str(caught.value)
    assert max(provider.asked_at) - 1000.0 <= 30  # no check after the deadline


class GatedProvider:
    """Holds its first answer until released, so a watcher can leave while it is asked."""

    base_url = "http://provider.invalid"

    def __init__(self) -> None:
        self.release, self.asked = threading.Event(), threading.Event()
        self.calls = 0

    def get_task(self, task_id: str) -> TaskInfo:
        self.calls += 1
        if self.calls == 1:
            self.asked.set()
            self.release.wait(10)
        return TaskInfo(task_id=task_id, status=TaskStatus.PROCESSING, raw_status="processing")


def test_watching_again_after_leaving_mid_check_still_gets_checks_and_its_deadline():
    """Stop, then look the same task up at once: the new wait must not be orphaned."""
    provider = GatedProvider()
    scheduler = PollScheduler(pacing=Pacing(first_s=0.1, floor_s=0.1, cap_s=0.2))
    first = TaskInfo(task_id="t1", status=TaskStatus.SUBMITTED, raw_status="submitted")

    async def run() -> list[TaskInfo]:
        async def watch(deadline_s: float, seen: list[TaskInfo]) -> None:
            async for snapshot in scheduler.watch(provider, first, deadline_s=deadline_s):
                seen.append(snapshot)

        leaving = asyncio.create_task(watch(60, []))
        while not provider.asked.is_set():
            await asyncio.sleep(0.01)
        leaving.cancel()  # the person pressed Stop while the check was on its way
        with contextlib.suppress(asyncio.CancelledError):
            await leaving
        seen: list[TaskInfo] = []
        again = asyncio.create_task(watch(1.0, seen))
        await asyncio.sleep(0.05)
        provider.release.set()
        with pytest.raises(TaskStillRunningError):
            await asyncio.wait_for(again, 20)
        return seen

    try:
        seen = asyncio.run(run())
    finally:
        scheduler.close()
    assert seen and all(s.status is TaskStatus.PROCESSING for s in seen)
