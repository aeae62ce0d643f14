"""The poll scheduler: one query per task for any number of watchers, paced, rate-capped,
woken by callbacks, and never holding a thread per watcher. Time is a fake clock."""

from __future__ import annotations

import asyncio
import base64
import itertools
import threading

import pytest

from avatar_core import errors as e
from avatar_core.provider.client import AvatarRequest, ProviderClient
from avatar_core.provider.models import TaskInfo, TaskStatus
from avatar_core.waiting.callbacks import CallbackRegistry
from avatar_core.waiting.durations import DurationModel, LinearDuration
from avatar_core.waiting.pacing import Pacing
from avatar_core.waiting.scheduler import PollScheduler
from bench.bench_crowd_polling import Crowd, run_crowd


class RecordingClient(ProviderClient):
    """The real client, noting when (on the fake clock) each query was made, and of what."""

    def __init__(self, *args, clock, **kwargs) -> None:
        super().__init__(*args, clock=clock, **kwargs)
        self.fake_clock = clock
        self.query_times: list[float] = []
        self.queried: list[str] = []

    def get_task(self, task_id: str) -> TaskInfo:
        self.query_times.append(self.fake_clock.now())
        self.queried.append(task_id)
        return super().get_task(task_id)


@pytest.fixture
def recording_client(simulator, fake_time):
    with RecordingClient(simulator.base_url, "k", clock=fake_time) as client:
        yield client


def _create(client, portrait_path, speech_path) -> TaskInfo:
    return client.create_task(
        AvatarRequest(
            image=base64.b64encode(portrait_path.read_bytes()).decode(),
            sound_file=base64.b64encode(speech_path.read_bytes()).decode(),
            prompt="hi",
        )
    )


def _scheduler(fake_time, **kwargs) -> PollScheduler:
    return PollScheduler(clock=fake_time, **kwargs)


async def _follow(scheduler, client, first, deadline_s=600.0, **kwargs) -> list[TaskInfo]:
    return [s async for s in scheduler.watch(client, first, deadline_s=deadline_s, **kwargs)]


def test_many_watchers_share_one_query_per_check(
    recording_client, simulator, fake_time, portrait_path, speech_path
):
    first = _create(recording_client, portrait_path, speech_path)
    scheduler = _scheduler(fake_time)

    async def main():
        return await asyncio.gather(
            *(_follow(scheduler, recording_client, first) for _ in range(25))
        )

    results = asyncio.run(main())
    assert all(r[-1].status is TaskStatus.SUCCEED for r in results)
    queries = len(recording_client.query_times)
    assert queries <= 12, "25 watchers must not mean 25 times the queries"
    assert simulator.stats.count("query") == queries


def test_once_durations_are_known_checks_land_just_after_the_end(
    recording_client, simulator, fake_time, portrait_path, speech_path
):
    model = DurationModel()
    for _ in range(10):
        model.learn("std", 300.0, audio_s=5.0)  # ten 5 s clips took five minutes each
    simulator.plan_task(task_seconds=300.0)
    scheduler = _scheduler(fake_time, model=model)
    first = _create(recording_client, portrait_path, speech_path)
    created = fake_time.now()
    seen = asyncio.run(_follow(scheduler, recording_client, first, audio_s=5.0))
    assert seen[-1].status is TaskStatus.SUCCEED
    times = [t - created for t in recording_client.query_times]
    assert times[0] <= Pacing().first_s + 0.01  # an early check catches quick failures
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert gaps[:3] == pytest.approx([2.0, 4.0, 8.0])  # brisk at first, the gap doubling
    assert len(times) <= 25, times  # then about one check per 30 s, closer at the end
    assert times[-1] - 300.0 <= 6.0, times  # seen within seconds of the end


def test_a_fresh_install_expects_minutes_and_waits_out_a_short_clip_in_few_checks(
    recording_client, simulator, fake_time, portrait_path, speech_path
):
    """The prior (a guess from public reports) places the checks of a four-minute task."""
    simulator.plan_task(task_seconds=240.0)
    scheduler = _scheduler(fake_time)  # nothing learnt: the prior only
    first = _create(recording_client, portrait_path, speech_path)
    created = fake_time.now()
    asyncio.run(_follow(scheduler, recording_client, first, audio_s=5.0))
    times = [t - created for t in recording_client.query_times]
    assert len(times) <= 16, times
    assert 0 < times[-1] - 240.0 <= Pacing().cap_s + 0.01, times
    assert not scheduler.model.expectation("std", 5.0).guess  # it learnt once it finished


def test_a_quick_failure_is_caught_by_the_early_check(
    recording_client, simulator, fake_time, portrait_path, speech_path
):
    simulator.plan_task(outcome="fail", reason="bad face", task_seconds=1.0)
    scheduler = _scheduler(fake_time)  # nothing learnt: only the early check is quick
    first = _create(recording_client, portrait_path, speech_path)
    created = fake_time.now()
    seen = asyncio.run(_follow(scheduler, recording_client, first))
    assert seen[-1].status is TaskStatus.FAILED
    assert recording_client.query_times[-1] - created <= Pacing().first_s + 0.01


def test_the_global_rate_cap_holds_across_tasks(
    recording_client, fake_time, portrait_path, speech_path
):
    firsts = [_create(recording_client, portrait_path, speech_path) for _ in range(12)]
    scheduler = _scheduler(fake_time, rate_per_s=2.0)

    async def main():
        await asyncio.gather(*(_follow(scheduler, recording_client, f) for f in firsts))

    asyncio.run(main())
    times = sorted(recording_client.query_times)
    for i, start in enumerate(times):
        in_one_second = [t for t in times[i:] if t < start + 1.0]
        assert len(in_one_second) <= 2, times


def test_a_watcher_past_its_deadline_is_told_and_the_task_goes_on(
    recording_client, simulator, fake_time, portrait_path, speech_path
):
    simulator.plan_task(outcome="stuck")
    scheduler = _scheduler(fake_time)
    first = _create(recording_client, portrait_path, speech_path)
    with pytest.raises(e.TaskStillRunningError) as caught:
        asyncio.run(_follow(scheduler, recording_client, first, deadline_s=30))
    assert caught.value.task_id == first.task_id
    asked = recording_client.queried.count(first.task_id)
    other = _create(recording_client, portrait_path, speech_path)  # 20 s, followed to its end
    assert asyncio.run(_follow(scheduler, recording_client, other))[-1].is_terminal
    assert recording_client.queried.count(first.task_id) == asked  # nobody waits: not asked


def test_an_error_ends_polling_for_every_watcher(simulator, fake_time):
    scheduler = _scheduler(fake_time)
    ghost = TaskInfo(task_id="123123123", status=TaskStatus.SUBMITTED)
    with ProviderClient(simulator.base_url, "k", clock=fake_time) as client:

        async def main():
            return await asyncio.gather(
                _follow(scheduler, client, ghost), _follow(scheduler, client, ghost),
                return_exceptions=True,
            )  # fmt: skip

        results = asyncio.run(main())
    assert all(isinstance(r, e.NotFoundError) for r in results)


def test_a_callback_makes_the_scheduler_check_at_once(
    recording_client, simulator, fake_time, portrait_path, speech_path
):
    scheduler = PollScheduler()  # the real clock: the nudge must beat a 10 s fallback
    registry = CallbackRegistry(scheduler)
    first = _create(recording_client, portrait_path, speech_path)
    secret, url = registry.new_url("https://example.org/app")
    assert url == f"https://example.org/app/kling/callback/{secret}"
    registry.bind(secret, recording_client.base_url, first.task_id)
    seen: list[TaskInfo] = []

    async def main():
        async for snapshot in scheduler.watch(
            recording_client, first, deadline_s=120, callbacks=True
        ):
            seen.append(snapshot)
            if len(seen) == 1:
                return

    def poke_soon():
        fake_time.sleep(60)  # the task is done at the provider
        assert registry.receive(secret)

    threading.Timer(0.2, poke_soon).start()
    asyncio.run(main())
    assert seen[0].status is TaskStatus.SUCCEED
    assert not registry.receive("not-a-secret")
    registry.retire(secret)
    assert not registry.receive(secret)


@pytest.mark.parametrize(
    ("polls", "elapsed", "expected", "low", "high"),
    [
        (0, 0.0, 60.0, 2.0, 2.0),  # the early check
        (1, 2.0, 600.0, 2.0, 2.0),  # brisk checks in the first seconds, the gap doubling
        (3, 8.0, 600.0, 8.0, 8.0),
        (1, 2.0, 5.0, 2.0, 2.0),  # ... unless the end is due sooner
        (4, 16.0, 20.0, 3.0, 3.0),  # then one jump to just before the expected end
        (4, 16.0, 600.0, 30.0, 30.0),  # a long task: jumps, capped
        (5, 19.5, 20.0, 1.0, 1.0),  # brisk at the end
        (5, 598.0, 600.0, 8.0, 8.0),  # around the end of a long task, `close_s` apart
        (9, 60.0, 20.0, 2.0, 30.0),  # slower once it overruns a lot
        (2, 4.0, None, 4.0, 4.0),  # no model at all: the gap doubles
        (6, 64.0, None, 30.0, 30.0),  # ... up to the cap
    ],
)
def test_pacing_places_checks_where_answers_change(polls, elapsed, expected, low, high):
    delay = Pacing().delay(polls=polls, elapsed_s=elapsed, expected_s=expected)
    assert low <= delay <= high


def test_the_less_certain_the_expectation_the_sooner_close_checks_start_and_the_later_end():
    pacing = Pacing()
    sure = pacing.delay(polls=5, elapsed_s=250.0, expected_s=300.0, spread_s=5.0)
    unsure = pacing.delay(polls=5, elapsed_s=250.0, expected_s=300.0, spread_s=30.0)
    assert sure == pacing.cap_s and unsure < sure
    late_sure = pacing.delay(polls=9, elapsed_s=360.0, expected_s=300.0, spread_s=5.0)
    late_unsure = pacing.delay(polls=9, elapsed_s=360.0, expected_s=300.0, spread_s=40.0)
    assert late_unsure == pacing.close_s < late_sure <= pacing.cap_s


def test_a_guess_opens_close_checks_nearer_its_end_than_a_measured_expectation():
    """The prior's spread is how far off the guess may be for every task at once: close
    checks over all of it would cost a crowd dozens of queries a task."""
    pacing = Pacing()
    guessed = pacing.delay(polls=5, elapsed_s=200.0, expected_s=300.0, spread_s=90.0, guess=True)
    measured = pacing.delay(polls=5, elapsed_s=200.0, expected_s=300.0, spread_s=90.0)
    assert guessed == pacing.cap_s and measured == pacing.close_s


def test_close_checks_go_on_as_long_as_tasks_of_its_kind_recently_took():
    """A crowd's quickest tasks finish first: the line learnt from them runs short of the
    others, which still end as late as the longest seen so far."""
    pacing = Pacing()
    alone = pacing.delay(polls=12, elapsed_s=300.0, expected_s=220.0, spread_s=5.0)
    crowd = pacing.delay(polls=12, elapsed_s=300.0, expected_s=220.0, spread_s=5.0, longest_s=300.0)
    assert crowd <= pacing.close_s < alone


def test_the_model_tells_the_longest_of_its_recent_tasks_scaled_to_the_audio():
    model = DurationModel()
    assert model.expectation("std", 5.0).longest_s is None  # nothing finished yet
    for seconds in (200.0, 210.0, 260.0):
        model.learn("std", seconds, 5.0)
    found = model.expectation("std", 5.0)
    assert found.seconds < 260.0 == pytest.approx(found.longest_s)
    assert model.expectation("std", 60.0).longest_s > 260.0  # longer audio, later still


def test_a_crowd_of_real_length_tasks_is_seen_within_seconds_and_the_budget(tmp_path):
    """Sixty visitors at once, tasks of 150-240 s + 9 s per audio second, a cold start,
    a budget of 10 requests a second; on the simulator's clock (bench/bench_crowd_polling)."""
    figures = run_crowd(Crowd(visitors=60), tmp_path, rate=10.0)
    assert len(figures.latencies) == 60
    assert figures.p50 <= 4.5 and figures.p95 <= 10.0, figures.table()
    assert figures.queries_per_task <= 15.0, figures.table()
    assert figures.busiest_second <= 10, figures.table()


def test_without_a_prior_the_duration_model_learns_a_weighted_mean():
    model = DurationModel(priors={})
    assert model.expected("std") is None
    model.learn("std", 20)
    model.learn("std", 30)
    assert 20 < model.expected("std") < 30
    model.learn("std", -5)  # nonsense is ignored
    assert 20 < model.expected("std") < 30


def test_the_prior_is_a_guess_of_minutes_growing_with_the_audio():
    model = DurationModel()
    short, long = model.expectation("std", 5.0), model.expectation("std", 60.0)
    assert short.guess and long.guess
    assert 180 <= short.seconds <= 300  # "about 4 minutes for a short clip"
    assert 600 <= long.seconds <= 900  # "ten-odd minutes for 60 s of audio"
    assert model.expected("pro", 5.0) > short.seconds


def test_the_model_fits_a_line_through_finished_tasks_of_varied_lengths():
    model = DurationModel()
    for audio in (3.0, 10.0, 20.0, 40.0, 60.0) * 2:
        model.learn("std", 60.0 + 5.0 * audio, audio)  # this provider: 60 s + 5 s per second
    found = model.expectation("std", 30.0)
    assert not found.guess
    assert found.seconds == pytest.approx(210.0, rel=0.02)
    assert model.expected("std", 60.0) == pytest.approx(360.0, rel=0.02)
    assert found.spread_s < model.expectation("std", 30.0).seconds * 0.15  # it grew sure


def test_one_finished_task_scales_the_prior_and_keeps_its_shape():
    model = DurationModel()
    model.learn("std", 120.0, 5.0)  # twice as fast as the guess for a 5 s clip
    assert model.expected("std", 5.0) == pytest.approx(120.0)
    guess = DurationModel().expected("std", 60.0) / DurationModel().expected("std", 5.0)
    assert model.expected("std", 60.0) / 120.0 == pytest.approx(guess)


def test_a_known_prior_is_no_guess_and_each_kind_learns_apart():
    model = DurationModel()
    model.assume("demo-std", LinearDuration(8.0, 0.0))
    demo = model.expectation("demo-std", 30.0)
    assert demo.seconds == 8.0 and not demo.guess and demo.spread_s == 0.0
    model.learn("std", 400.0, 10.0)
    assert model.expected("demo-std", 30.0) == 8.0


def test_a_crowd_the_budget_cannot_check_early_skips_the_early_check():
    pacing = Pacing()
    early = pacing.delay(polls=0, elapsed_s=0.0, expected_s=20.0)
    skipped = pacing.delay(polls=0, elapsed_s=0.0, expected_s=20.0, early_check=False)
    assert early == pacing.first_s
    assert skipped == min(20.0 - pacing.margin_s, pacing.cap_s)  # straight to the long jump


def test_only_a_callback_that_may_mean_the_end_checks_at_once(
    recording_client, fake_time, portrait_path, speech_path
):
    scheduler = _scheduler(fake_time)
    registry = CallbackRegistry(scheduler)
    first = _create(recording_client, portrait_path, speech_path)
    secret, _ = registry.new_url("https://example.org")
    registry.bind(secret, recording_client.base_url, first.task_id)
    nudged = []
    scheduler.nudge = lambda base_url, task_id: nudged.append(task_id) or True
    assert registry.receive(secret, b'{"task_status": "processing"}')
    assert nudged == []
    assert registry.receive(secret, b'{"task_status": "succeed"}')
    assert registry.receive(secret, b"<not json>")
    assert nudged == [first.task_id, first.task_id]
