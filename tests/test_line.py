"""The fair line in front of creates: a crowd on an account that runs three tasks at once.

Against the simulator with `max_running_tasks=3`, in real time with tasks of 0.2 s: every
visitor gets a video, with or without AVATAR_MAX_RUNNING_TASKS; visitors take turns; Stop
while in line sends and charges nothing; a restart sends the jobs left in line, in order,
once; a create refused with 1302 goes back in line.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from avatar_core.config import Secret, Settings
from avatar_core.errors import TaskStillRunningError
from avatar_core.jobs.events import Done, InLine, Progress, Submitted, Submitting, final_progress
from avatar_core.jobs.line import FairLine, Place, place_message
from avatar_core.words import say
from avatar_core.jobs.studio import Studio
from avatar_core.provider.client import KlingClient
from avatar_core.simulator import Simulator
from avatar_core.storage.journal import Stage
from avatar_core.storage.kept_inputs import kept_path
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
        client=KlingClient(config.base_url, KEY),
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
            assert studio.line.capacity(studio._account) == LIMIT  # and learnt
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
        line.leave(ticket)

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
            assert job.error == say("line.left")
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
            before._open_job(inputs, before.visitor(f"v{n}"), None, None, None)[0] for n in range(3)
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
        left, _ = before._open_job(inputs, before.visitor("v"), None, None, None)
    with closing(line_studio(fresh, data)) as after:
        done = asyncio.run(final_progress(after.follow(left.job_id)))
        again = asyncio.run(final_progress(after.follow(left.job_id)))  # home: nothing sent
    assert isinstance(done, Done) and done.job and done.job.job_id == left.job_id
    assert isinstance(again, Done)
    assert fresh.stats.creates == 1
