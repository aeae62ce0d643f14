"""Following a task: polls until the end, on a schedule, within a deadline; no real sleep."""

from __future__ import annotations

import pytest

from avatar_core.errors import TaskStillRunningError
from avatar_core.provider.models import TaskInfo, TaskStatus
from avatar_core.waiting.following import PollSchedule, follow_task


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _provider(statuses_by_time: list[tuple[float, str]], fake: FakeTime):
    """A get_task whose answer depends on the fake time, like a real task would."""

    def get_task(task_id: str) -> TaskInfo:
        status = "submitted"
        for at, value in statuses_by_time:
            if fake.now >= at:
                status = value
        return TaskInfo(task_id=task_id, status=TaskStatus.parse(status), raw_status=status)

    return get_task


def test_it_yields_each_snapshot_and_stops_at_success():
    fake = FakeTime()
    get_task = _provider([(3, "processing"), (20, "succeed")], fake)
    seen = list(follow_task(get_task, "t1", clock=fake.clock, sleep=fake.sleep))
    assert seen[0].status is TaskStatus.SUBMITTED
    assert seen[-1].status is TaskStatus.SUCCEED
    assert TaskStatus.PROCESSING in {s.status for s in seen}
    assert all(not s.is_terminal for s in seen[:-1])


def test_intervals_start_quick_then_grow_to_the_cap():
    fake = FakeTime()
    get_task = _provider([(100, "succeed")], fake)
    list(
        follow_task(
            get_task,
            "t1",
            schedule=PollSchedule(first_s=1, growth=2, cap_s=8),
            clock=fake.clock,
            sleep=fake.sleep,
        )
    )
    assert fake.sleeps[:5] == [1, 2, 4, 8, 8]
    assert max(fake.sleeps) == 8


def test_a_failed_task_ends_the_following():
    fake = FakeTime()
    seen = list(
        follow_task(_provider([(5, "failed")], fake), "t", clock=fake.clock, sleep=fake.sleep)
    )
    assert seen[-1].status is TaskStatus.FAILED


def test_unknown_statuses_count_as_still_running():
    fake = FakeTime()
    get_task = _provider([(2, "queueing_upstream"), (9, "succeed")], fake)
    seen = list(follow_task(get_task, "t", clock=fake.clock, sleep=fake.sleep))
    assert TaskStatus.UNKNOWN in {s.status for s in seen}
    assert seen[-1].status is TaskStatus.SUCCEED


def test_the_deadline_raises_with_how_to_pick_it_up_later():
    fake = FakeTime()
    get_task = _provider([(1, "processing")], fake)
    with pytest.raises(TaskStillRunningError) as caught:
        list(follow_task(get_task, "t9", deadline_s=30, clock=fake.clock, sleep=fake.sleep))
    assert caught.value.task_id == "t9"
    assert "status t9 --wait" in str(caught.value)
    assert fake.now == pytest.approx(30)  # it never sleeps past the deadline
