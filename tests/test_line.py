"""The fair line in front of creates: a crowd on an account that runs three tasks at once.

Against the simulator with `max_running_tasks=3`, in real time with tasks of 0.2 s: every
visitor gets a video, with or without AVATAR_MAX_RUNNING_TASKS; visitors take turns; Stop
while in line sends and charges nothing; a restart sends the jobs left in line, in order,
once, all of them at once; a create refused with 1302 goes back in line; jobs a container
that restarted under a new hostname left in line are sent; the line has a bound; kept
inputs no line will send are deleted when a studio opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from fake_clock import FakeClock
from held_tasks import hold_tasks

from avatar_core.catalogue import sentence_for
from avatar_core.config import Secret, Settings
from avatar_core.errors import LimitReachedError, TaskStillRunningError
from avatar_core.jobs import steps
from avatar_core.jobs.events import (
    Done,
    Downloading,
    Failed,
    InLine,
    Progress,
    Submitted,
    Submitting,
    Unclear,
    final_progress,
)
from avatar_core.jobs.kept_inputs import KEPT_MAX_AGE_S, keep_request, kept_path
from avatar_core.jobs.line import PROBE_AFTER_S, FairLine, Place, place_message
from avatar_core.jobs.studio import Studio, open_studio
from avatar_core.provider.client import ProviderClient
from avatar_core.simulator import Simulator
from avatar_core.storage.journal import Job, Stage
from avatar_core.storage.visitors import Visitor
from avatar_core.waiting.pacing import Pacing
from avatar_core.waiting.scheduler import PollScheduler

KEY = "line-key"
NO_LIMITS = {"max_active_per_visitor": 0, "max_daily_per_visitor": 0}
LIMIT = 3


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Iterator[Simulator]:
    """One simulator for the module: an account runs three tasks at once, each 0.2 s."""
    with Simulator(
        task_seconds=0.2,
        submit_seconds=0.05,
        max_running_tasks=LIMIT,
        work_dir=tmp_path_factory.mktemp("sim"),
    ) as simulator:
        yield simulator


@pytest.fixture
def fresh(sim) -> Simulator:
    sim.reset()
    sim.options.max_running_tasks = LIMIT
    return sim


def line_studio(sim: Simulator, data_dir: Path, **settings: object) -> Studio:
    """A studio on `sim` in real time, checking often (tasks take 0.2 s)."""
    config = Settings(
        api_key=Secret(KEY),
        base_url=sim.base_url or "",
        data_dir=data_dir,
        **{**NO_LIMITS, **settings},  # type: ignore[arg-type]
    )
    pacing = Pacing(first_s=0.1, brisk_s=1.0, floor_s=0.05, cap_s=0.2, margin_s=0.05)
    return Studio(
        config,
        client=ProviderClient(config.base_url, KEY),
        scheduler=PollScheduler(rate_per_s=100, pacing=pacing),
    )


def crowd(studio: Studio, image: Path, voice: Path, visitors: list[Visitor]) -> list[Progress]:
    """Every visitor asks for one video at once; each flow's last event."""

    async def everyone() -> list[Progress]:
        flows = [final_progress(studio.generate(image, voice, visitor=v)) for v in visitors]
        return list(await asyncio.gather(*flows, return_exceptions=True))

    return asyncio.run(everyone())


def visitors_of(studio: Studio, count: int) -> list[Visitor]:
    return [studio.visitor(f"browser-{number}") for number in range(count)]


@pytest.mark.parametrize("told", [True, False], ids=["limit-set", "limit-learnt"])
def test_twelve_visitors_at_once_all_get_their_video(
    fresh, tmp_path, portrait_path, speech_path, told
):
    settings = {"max_running_tasks": LIMIT} if told else {}
    if not told:  # the first three run while the others are refused: the limit shows
        fresh.plan_task("succeed", task_seconds=1.0, times=LIMIT)
    with closing(line_studio(fresh, tmp_path / "data", **settings)) as studio:
        ends = crowd(studio, portrait_path, speech_path, visitors_of(studio, 12))
        assert all(isinstance(end, Done) for end in ends), ends
        assert all(end.video_path and end.video_path.is_file() for end in ends)
        assert {job.stage for job in studio.journal.recent(50)} == {Stage.DONE}
        assert fresh.stats.creates == 12
        if told:
            assert fresh.stats.busy_refusals == 0  # the provider never had to refuse
        else:
            assert fresh.stats.busy_refusals > 0  # absorbed: no visitor saw one
            assert studio.line.capacity(studio.session.account) == LIMIT  # and learnt
        assert not list((tmp_path / "data" / "line").glob("*"))  # kept inputs deleted


def test_one_visitors_many_jobs_do_not_starve_anothers_first():
    line = FairLine()
    many = [line.join("account", "many", f"many-{n}", limit=1) for n in range(6)]
    first = line.join("account", "other", "other-0", limit=1)
    served: list[str] = []

    async def flow(ticket) -> None:
        async for _ in line.wait(ticket):
            pass
        served.append(ticket.job_id)
        line.started(ticket)
        await asyncio.sleep(0)  # the task runs
        line.leave(ticket, ended=True)  # and its follow sees it end

    async def everyone() -> None:
        await asyncio.gather(*(flow(ticket) for ticket in [*many, first]))

    asyncio.run(everyone())
    assert served.index("other-0") <= 1, served  # within the first round of two visitors
    assert [job for job in served if job.startswith("many")] == [t.job_id for t in many]


def test_a_place_in_line_reads_as_people_say_it():
    places = [str(place_message(Place(n, 30))) for n in (1, 2, 3, 4, 11, 12, 13, 21, 102)]
    assert [place.split(" ")[0] for place in places] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "102nd"
    ]  # fmt: skip
    assert place_message(Place(3, 30)).in_language("zh") == "排队第 3 位，不到 1 分钟。"
    assert place_message(Place(3, 90)).in_language("zh") == "排队第 3 位，约 2 分钟。"
    line = FairLine()
    for number in range(4):
        line.join("account", f"visitor-{number}", f"job-{number}", limit=1, task_s=50)

    async def place_of_last() -> str:
        ticket = line.join("account", "late", "late-job", limit=1, task_s=50)
        async for place in line.wait(ticket):
            return place_message(place)
        return ""

    # the first is sent at once; three wait before the late one, one task at a time
    assert asyncio.run(place_of_last()) == "4th in line, about 4 min."


async def until(events: AsyncIterator[Progress], kind: type) -> Progress:
    async for progress in events:
        if isinstance(progress, kind):
            return progress
    raise AssertionError(f"the flow ended before {kind.__name__}")


def test_stop_while_in_line_sends_and_charges_nothing_and_frees_the_allowance(
    fresh, tmp_path, portrait_path, speech_path
):
    fresh.plan_task("succeed", task_seconds=30)  # the one task at once runs long
    with closing(
        line_studio(fresh, tmp_path / "data", max_running_tasks=1, max_active_per_visitor=1)
    ) as studio:
        visitor = studio.visitor("patient")

        async def scenario() -> None:
            running = studio.generate(portrait_path, speech_path)
            await until(running, Submitted)
            waiting = studio.generate(portrait_path, speech_path, visitor=visitor)
            place = await until(waiting, InLine)
            assert place.position == 1 and place.job is not None
            assert kept_path(studio.settings.data_dir, place.job.job_id).is_file()
            with pytest.raises(TaskStillRunningError, match="still waiting in line: nothing"):
                await final_progress(studio.follow(place.job.job_id))  # a lookup meanwhile
            await waiting.aclose()  # what Stop does to the page's flow
            job = studio.journal.get(place.job.job_id)
            assert job is not None and job.stage is Stage.NOT_CREATED
            assert job.error == sentence_for("line.left")
            assert not kept_path(studio.settings.data_dir, job.job_id).exists()
            studio.limits.check(visitor)  # its one job at once is free again
            await running.aclose()

        asyncio.run(scenario())
        assert fresh.stats.creates == 1
        assert studio.journal.spent_at(visitor.tag or "", 0) == []  # nothing counted today


def test_a_restart_sends_the_jobs_left_in_line_in_order_once(
    fresh, tmp_path, portrait_path, speech_path
):
    data = tmp_path / "data"
    with closing(line_studio(fresh, data, max_running_tasks=1)) as before:
        inputs = before.inputs.prepare(portrait_path, speech_path)
        left = [  # what a process that ends while its jobs wait leaves behind
            before.flow.open_job(inputs, before.visitor(f"v{n}"), None, None, None)[0]
            for n in range(3)
        ]
    assert all(kept_path(data, job.job_id).is_file() for job in left)
    with closing(line_studio(fresh, data, max_running_tasks=1)) as after:

        async def resume() -> list[Progress]:
            return [p async for p in after.resume() if isinstance(p, Done)]

        done = asyncio.run(resume())
        again = asyncio.run(resume())  # a second resume finds nothing to send
    assert [p.job.job_id for p in done if p.job] == [job.job_id for job in left]
    assert again == []
    made = fresh.stats.tasks_by_external_id
    assert list(made) == [job.job_id for job in left]  # sent in order, each once
    assert fresh.stats.creates == 3
    assert not any(kept_path(data, job.job_id).exists() for job in left)


def test_a_create_refused_with_1302_goes_back_in_line_and_is_sent_after_the_wait(
    fresh, tmp_path, portrait_path, speech_path
):
    fresh.inject("create", "error", code=1302, retry_after=1)
    with closing(line_studio(fresh, tmp_path / "data")) as studio:

        async def run() -> list[Progress]:
            return [p async for p in studio.generate(portrait_path, speech_path)]

        events = asyncio.run(run())
    steps = [type(p) for p in events]
    assert steps[-1] is Done
    assert steps.count(Submitting) == 2  # refused, then sent again
    refused_at = steps.index(Submitting)
    assert InLine in steps[refused_at:]  # back in line while the provider asked to wait
    assert (fresh.stats.count("create", 429), fresh.stats.creates) == (1, 1)
    job = events[-1].job
    assert job is not None and job.stage is Stage.DONE and job.error is None


def test_a_lookup_of_a_job_a_stopped_process_left_in_line_sends_it_once(
    fresh, tmp_path, portrait_path, speech_path
):
    data = tmp_path / "data"
    with closing(line_studio(fresh, data)) as before:
        inputs = before.inputs.prepare(portrait_path, speech_path)
        left, _ = before.flow.open_job(inputs, before.visitor("v"), None, None, None)
    with closing(line_studio(fresh, data)) as after:
        done = asyncio.run(final_progress(after.follow(left.job_id)))
        again = asyncio.run(final_progress(after.follow(left.job_id)))  # home: nothing sent
    assert isinstance(done, Done) and done.job and done.job.job_id == left.job_id
    assert isinstance(again, Done)
    assert fresh.stats.creates == 1


# --- Stop at any point before the create is on its way -----------------------------------


def left_jobs(studio: Studio, image: Path, voice: Path, count: int, visitor: str) -> list[Job]:
    """Jobs as a process that ended while they waited leaves them: journaled, kept."""
    inputs = studio.inputs.prepare(image, voice)
    return [
        studio.flow.open_job(inputs, studio.visitor(f"{visitor}{n}"), None, None, None)[0]
        for n in range(count)
    ]


async def stop_after_the_slot_is_handed(studio: Studio, flow: AsyncIterator[Progress]) -> None:
    """The one slot frees while the flow waits at its place: the line hands it the slot,
    and Stop comes before the flow takes it up."""
    running = studio.generate(*studio._test_inputs)  # type: ignore[attr-defined]
    await until(running, Submitted)
    await until(flow, InLine)
    await until(running, Downloading)  # its task ended: the waiter is handed the slot
    await running.aclose()
    await flow.aclose()


async def stop_at_submitting(studio: Studio, flow: AsyncIterator[Progress]) -> None:
    await until(flow, Submitting)
    await flow.aclose()


async def stop_in_the_request_budget_wait(studio: Studio, flow: AsyncIterator[Progress]) -> None:
    entered = asyncio.Event()

    async def a_long_wait(*args: object, **kwargs: object) -> float:  # the budget is busy
        entered.set()
        await asyncio.Event().wait()
        return 0.0

    studio.scheduler.budget.take_async = a_long_wait  # type: ignore[method-assign]
    task = asyncio.ensure_future(final_progress(flow))
    await entered.wait()
    task.cancel()  # e.g. the page's heartbeat cancelling the flow, or Ctrl-C
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def stop_while_the_job_is_journaled(studio: Studio, flow: AsyncIterator[Progress]) -> None:
    journaled, release = threading.Event(), threading.Event()
    real = studio.flow.open_job

    def slow_open(*args: object) -> object:
        opened = real(*args)  # type: ignore[arg-type]
        journaled.set()
        release.wait(30)
        return opened

    studio.flow.open_job = slow_open  # type: ignore[method-assign]
    task = asyncio.ensure_future(final_progress(flow))
    await asyncio.to_thread(journaled.wait, 30)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    release.set()  # the thread ends after the flow has stopped (asyncio.run waits for it)


@pytest.mark.parametrize(
    "stop",
    [
        stop_after_the_slot_is_handed,
        stop_at_submitting,
        stop_in_the_request_budget_wait,
        stop_while_the_job_is_journaled,
    ],
    ids=["slot-handed", "submitting", "budget-wait", "journaling"],
)
def test_stop_before_the_create_is_on_its_way_withdraws_the_job(
    fresh, tmp_path, portrait_path, speech_path, stop
):
    data = tmp_path / "data"
    with closing(line_studio(fresh, data, max_running_tasks=1, max_active_per_visitor=1)) as studio:
        studio._test_inputs = (portrait_path, speech_path)  # type: ignore[attr-defined]
        visitor = studio.visitor("stopper")
        asyncio.run(stop(studio, studio.generate(portrait_path, speech_path, visitor=visitor)))
        mine = [job for job in studio.journal.recent(10) if job.visitor == visitor.tag]
        assert [job.stage for job in mine] == [Stage.NOT_CREATED]
        assert mine[0].error == sentence_for("line.left")
        assert not list((data / "line").glob("*"))  # its kept inputs are deleted
        studio.limits.check(visitor)  # its one job at once is free again
        creates = fresh.stats.creates
        resumed = asyncio.run(collect(studio.resume(deadline_s=0.5)))
        assert not [p for p in resumed if p.job and p.job.job_id == mine[0].job_id]
        assert fresh.stats.creates == creates  # a later resume sends nothing of it
        assert studio.journal.spent_at(visitor.tag or "", 0) == []  # nothing counted


async def collect(events: AsyncIterator[Progress]) -> list[Progress]:
    return [progress async for progress in events]


# --- jobs left in line by another machine --------------------------------------------------


def untouched_since(studio: Studio, job: Job, seconds_ago: float) -> None:
    """The job's row as a line on a machine that went away last left it."""
    with studio.journal._connection() as db:
        db.execute(
            "UPDATE jobs SET creator = ?, updated_at = ? WHERE job_id = ?",
            ("old-container-hostname:1", time.time() - seconds_ago, job.job_id),
        )


def test_jobs_a_restarted_container_left_in_line_are_sent_once_their_grace_is_over(
    fresh, tmp_path, portrait_path, speech_path, monkeypatch
):
    data = tmp_path / "data"
    with closing(line_studio(fresh, data)) as before:
        old, recent, looked_up = left_jobs(before, portrait_path, speech_path, 3, "v")
        untouched_since(before, old, 3600)  # the Space restarted an hour ago
        untouched_since(before, looked_up, 3600)
        untouched_since(before, recent, 0)  # its line may still live on that machine
    with closing(line_studio(fresh, data)) as after:
        with pytest.raises(TaskStillRunningError, match="still waiting in line"):
            asyncio.run(final_progress(after.follow(recent.job_id)))  # within its grace
        done = asyncio.run(final_progress(after.follow(looked_up.job_id)))
        assert isinstance(done, Done)
        monkeypatch.setattr(steps, "QUEUED_GRACE_S", 0.2)  # a resume waits out the grace
        ends = asyncio.run(collect(after.resume()))
        assert {p.job.job_id for p in ends if isinstance(p, Done) and p.job} == {
            old.job_id,
            recent.job_id,
        }
        assert {job.stage for job in after.journal.recent(10)} == {Stage.DONE}
    assert fresh.stats.creates == 3


def test_a_resume_waits_while_an_old_container_still_touches_a_job_then_sends_it(
    fresh, tmp_path, portrait_path, speech_path, monkeypatch
):
    data = tmp_path / "data"
    with closing(line_studio(fresh, data)) as before:
        [job] = left_jobs(before, portrait_path, speech_path, 1, "v")
        untouched_since(before, job, 0)  # a rolling restart: the old container still runs
    monkeypatch.setattr(steps, "QUEUED_GRACE_S", 0.6)
    with closing(line_studio(fresh, data)) as after:

        async def old_container_touches_once_then_stops() -> list[Progress]:
            resumed = asyncio.ensure_future(collect(after.resume()))
            await asyncio.sleep(0.2)
            after.journal.advance(after.journal.get(job.job_id), Stage.QUEUED)  # its last touch
            return await resumed

        ends = asyncio.run(old_container_touches_once_then_stops())
        assert [p.job.job_id for p in ends if isinstance(p, Done) and p.job] == [job.job_id]
        assert after.journal.get(job.job_id).stage is Stage.DONE
    assert fresh.stats.creates == 1


# --- a resume sends every job left in line as the line allows --------------------------------


def test_a_resume_joins_every_job_left_in_line_first_and_runs_them_at_once(
    fresh, tmp_path, portrait_path, speech_path, monkeypatch
):
    data = tmp_path / "data"
    with closing(line_studio(fresh, data, max_running_tasks=LIMIT)) as before:
        left = left_jobs(before, portrait_path, speech_path, LIMIT, "v")
    # the tasks stand still until all three are made: a first task of 0.2 s could end
    # before a loaded machine sent the third (a resume that waits for a task to end before
    # it sends the next still fails: the hold gives up after two minutes)
    hold = hold_tasks(fresh, time.monotonic, monkeypatch, creates=LIMIT)
    with closing(line_studio(fresh, data, max_running_tasks=LIMIT)) as after:
        events = asyncio.run(collect(after.resume()))
    kinds = [type(p) for p in events]
    assert kinds.count(Submitted) == LIMIT
    # all sent before the first video is home: each is told as sent (`Submitting`) before
    # its create leaves, so before the tasks may end (its answer, `Submitted`, may come
    # after the first task's end on a loaded machine)
    last_sent = max(i for i, kind in enumerate(kinds) if kind is Submitting)
    assert kinds.count(Submitting) == LIMIT and last_sent < kinds.index(Done)
    ends = [p for p in events if isinstance(p, (Done, Failed, Unclear))]
    assert sorted(p.job.job_id for p in ends if p.job) == sorted(job.job_id for job in left)
    assert all(isinstance(p, Done) for p in ends)  # one end per job
    for progress in events:  # interleaved steps say whose they are
        if not isinstance(progress, Done) and progress.job:
            assert progress.message.startswith(f"Job {progress.job.job_id}: ")
    assert fresh.stats.creates == LIMIT and fresh.stats.busy_refusals == 0
    assert not hold.gave_up  # all three were sent while the tasks stood still


# --- the line's bound, and the kept inputs no line will send ---------------------------------


def test_a_full_line_refuses_in_one_sentence_before_anything_is_kept(
    fresh, tmp_path, portrait_path, speech_path
):
    data = tmp_path / "data"
    with closing(line_studio(fresh, data, max_in_line=2)) as studio:
        left_jobs(studio, portrait_path, speech_path, 2, "v")
        with pytest.raises(LimitReachedError) as refused:
            asyncio.run(final_progress(studio.generate(portrait_path, speech_path)))
        assert len(studio.journal.recent(10)) == 2  # nothing journaled
    assert len(list((data / "line").glob("*"))) == 2  # nothing kept
    assert fresh.stats.creates == 0
    sentence = str(refused.value)
    assert "2 jobs are waiting" in sentence and "AVATAR_MAX_IN_LINE" in sentence
    assert "AVATAR_MAX_IN_LINE" in refused.value.message.in_language("zh")
    assert Settings.from_env({"AVATAR_MAX_IN_LINE": "7"}).max_in_line == 7
    assert Settings.from_env({}).max_in_line == 100


def test_opening_a_studio_deletes_kept_inputs_no_line_will_send(
    fresh, tmp_path, portrait_path, speech_path
):
    data = tmp_path / "data"
    with closing(line_studio(fresh, data)) as before:
        ended, stale, waiting = left_jobs(before, portrait_path, speech_path, 3, "v")
        before.steps.leave_line(ended)
        keep_request(data, ended.job_id, before.steps.kept(waiting))  # a crash left it
        keep_request(data, "a-job-the-journal-never-had", before.steps.kept(waiting))
        keep_request(data, "a-job-another-process-journals", before.steps.kept(waiting))
        sending = left_jobs(before, portrait_path, speech_path, 1, "w")[0]
        before.journal.advance(sending, Stage.QUEUED, stage=Stage.CREATING)  # another's create
    week_ago, hours_ago = time.time() - KEPT_MAX_AGE_S - 60, time.time() - 2 * 3600
    os.utime(kept_path(data, stale.job_id), (week_ago, week_ago))
    os.utime(kept_path(data, "a-job-the-journal-never-had"), (hours_ago, hours_ago))
    settings = Settings(api_key=Secret(KEY), base_url=fresh.base_url or "", data_dir=data)
    with closing(open_studio(settings)) as after:
        assert sorted((data / "line").glob("*")) == sorted(
            kept_path(data, job_id)
            for job_id in (waiting.job_id, sending.job_id, "a-job-another-process-journals")
        )  # a create on its way may be refused as busy and go back in line
        gone = after.journal.get(stale.job_id)
        assert gone is not None and gone.stage is Stage.NOT_CREATED
        assert gone.error == sentence_for("line.waited_too_long", days=7)
        assert after.journal.get(waiting.job_id).stage is Stage.QUEUED  # type: ignore[union-attr]


def test_kept_inputs_are_readable_by_their_owner_only(fresh, tmp_path, portrait_path, speech_path):
    with closing(line_studio(fresh, tmp_path / "data")) as studio:
        (job,) = left_jobs(studio, portrait_path, speech_path, 1, "v")
    assert kept_path(tmp_path / "data", job.job_id).stat().st_mode & 0o777 == 0o600


# --- the line's bookkeeping ---------------------------------------------------------------------


def test_two_tickets_for_one_job_leave_one_at_a_time():
    line = FairLine()
    first = line.join("account", "visitor", "job", limit=1)
    second = line.join("account", "visitor", "job", limit=1)  # e.g. a resume meanwhile
    line.leave(first)
    assert line.knows("job")  # the other ticket still waits
    line.leave(second)
    assert not line.knows("job")


def test_reading_the_lines_capacity_does_not_raise_its_learnt_limit():
    clock = FakeClock(0.0)
    line = FairLine(clock=clock)
    ticket = line.join("account", "visitor", "job")

    async def refused_once() -> None:
        async for _ in line.wait(ticket):
            pass
        line.refused(ticket, busy=True, wait_s=0)

    asyncio.run(refused_once())
    readings = []
    for _ in range(3):
        clock.advance(PROBE_AFTER_S + 1)
        readings.append(line.capacity("account"))
    assert readings == [1, 1, 1]  # only handing out slots tries one more


def test_a_task_no_flow_follows_holds_its_slot_until_its_expected_end():
    clock = FakeClock(0.0)
    line = FairLine(clock=clock)
    abandoned = line.join("account", "closed-tab", "job-1", limit=1, task_s=100)
    asyncio.run(collect(line.wait(abandoned)))
    line.started(abandoned)
    waiting = line.join("account", "next", "job-2", limit=1, task_s=100)
    clock.advance(10.0)
    line.leave(abandoned)  # the tab closed: its task still runs at the provider
    assert waiting.state == "waiting"  # a create now would be refused (1303)
    clock.advance(91.0)  # the task's expected end, 101 s after it started
    assert asyncio.run(collect(line.wait(waiting))) == []  # sent at once
    assert waiting.state == "sending"


def test_a_job_waiting_in_line_keeps_its_row_fresh_so_no_one_takes_it_for_an_orphan(
    fresh, tmp_path, portrait_path, speech_path, monkeypatch
):
    monkeypatch.setattr("avatar_core.jobs.flow.QUEUED_TOUCH_S", 0.0)  # at every place told
    fresh.plan_task("succeed", task_seconds=30)  # the one task at once runs long
    with closing(line_studio(fresh, tmp_path / "data", max_running_tasks=1)) as studio:

        async def scenario() -> tuple[Job, Job]:
            running = studio.generate(portrait_path, speech_path)
            await until(running, Submitted)
            waiting = studio.generate(portrait_path, speech_path)
            place = await until(waiting, InLine)
            row = await asyncio.to_thread(studio.journal.get, place.job.job_id)  # type: ignore[union-attr]
            await waiting.aclose()
            await running.aclose()
            return place.job, row  # type: ignore[return-value]

        journaled, row = asyncio.run(scenario())
    assert row.stage is Stage.QUEUED and row.updated_at > journaled.updated_at
