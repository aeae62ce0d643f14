"""The whole flow against the simulator: prepare, journal, submit, follow, store, resume."""

from __future__ import annotations

import asyncio
import socket
import subprocess

import pytest
from flows import events, final

from avatar_core import errors as e
from avatar_core.config import Secret, Settings
from avatar_core.inputs.ffmpeg import ffmpeg_exe
from avatar_core.jobs.events import Step
from avatar_core.jobs.studio import Studio, open_studio
from avatar_core.provider.client import ProviderClient
from avatar_core.storage.journal import Stage
from avatar_core.waiting.scheduler import PollScheduler


def make_studio(simulator, fake_time, data_dir, key: str | None = "test-key") -> Studio:
    """A studio on the simulator with `key` (None: demo mode, on this simulator)."""
    secret = Secret(key) if key else None
    settings = Settings(api_key=secret, base_url=simulator.base_url, data_dir=data_dir)
    client = ProviderClient(simulator.base_url, key or "demo-key", clock=fake_time)
    scheduler = PollScheduler(clock=fake_time)
    return Studio(settings, client=client, scheduler=scheduler, clock=fake_time)


@pytest.fixture
def studio(simulator, fake_time, tmp_path):
    return make_studio(simulator, fake_time, tmp_path / "data")


def _short_clip(tmp_path, seconds: float) -> str:
    path = tmp_path / f"clip-{seconds}.wav"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
         f"sine=frequency=300:duration={seconds}", str(path)],
        check=True,
    )  # fmt: skip
    return str(path)


def test_generate_reports_each_step_and_stores_a_playable_video(
    studio, simulator, portrait_path, speech_path
):
    seen = events(studio.generate(portrait_path, speech_path, prompt="Say hello", mode="pro"))
    steps = [ev.step for ev in seen]
    assert steps[:3] == [Step.PREPARING, Step.SUBMITTING, Step.SUBMITTED]
    assert Step.RUNNING in steps
    assert steps[-2:] == [Step.DOWNLOADING, Step.DONE]
    done = seen[-1]
    assert done.video_path.is_file() and done.video_path.stat().st_size > 1000
    job = studio.journal.get(done.job.job_id)
    assert job.stage is Stage.DONE and job.task_id == done.job.task_id
    assert job.mode == "pro" and job.prompt == "Say hello"
    assert job.units_charged and job.video_seconds == pytest.approx(7.3, abs=0.3)
    assert simulator.stats.creates == 1
    assert simulator.stats.tasks_by_external_id[job.job_id] == job.task_id


def test_a_demo_video_says_nothing_was_charged(simulator, fake_time, tmp_path, portrait_path,
                                               speech_path):  # fmt: skip
    demo = make_studio(simulator, fake_time, tmp_path / "data", key=None)
    done = final(demo.generate(portrait_path, speech_path))
    assert done.job.demo and done.job.units_charged  # the simulator still reports units
    assert "simulated: nothing charged" in done.message and "units charged" not in done.message
    assert "未扣费" in done.message.in_language("zh")


def test_bad_input_is_refused_before_anything_is_sent_or_journaled(
    studio, simulator, portrait_path, tmp_path
):
    with pytest.raises(e.InputError) as caught:
        events(studio.generate(portrait_path, _short_clip(tmp_path, 1.0)))
    assert "at least 2 s" in str(caught.value)
    assert simulator.stats.creates == 0
    assert studio.journal.recent() == []


def test_a_failed_task_gives_the_providers_reason(studio, simulator, portrait_path, speech_path):
    simulator.plan_task(outcome="fail", reason="Face not detected in the image")
    with pytest.raises(e.TaskFailedError) as caught:
        events(studio.generate(portrait_path, speech_path))
    assert "Face not detected in the image" in str(caught.value)
    [job] = studio.journal.recent()
    assert job.stage is Stage.FAILED and "Face not detected" in job.error


def test_the_gateways_own_kling_balance_is_not_called_yours_and_nothing_is_created(
    simulator, fake_time, tmp_path, portrait_path, speech_path
):
    simulator.set_key_state("poor-key", "no_credit")  # Kling's 1102, through the gateway
    studio = make_studio(simulator, fake_time, tmp_path / "data", key="poor-key")
    with pytest.raises(e.UpstreamUnavailableError) as caught:
        events(studio.generate(portrait_path, speech_path))
    assert "not your CometAPI balance" in str(caught.value)
    assert "top up" not in str(caught.value)
    [job] = studio.journal.recent()
    assert job.stage is Stage.NOT_CREATED
    assert simulator.stats.creates == 0


def test_a_lost_create_answer_is_recovered_by_external_id_without_a_second_create(
    studio, simulator, portrait_path, speech_path
):
    simulator.inject("create", "reset", after_create=True)
    done = final(studio.generate(portrait_path, speech_path))
    assert done.step is Step.DONE and done.video_path.is_file()
    assert simulator.stats.creates == 1
    assert simulator.stats.count("create") == 1


def test_a_broken_create_is_unclear_looked_for_and_never_called_not_charged(
    studio, simulator, portrait_path, speech_path
):
    """The connection broke before the provider made anything - but nothing proves that:
    the job stays unclear, is looked for by its external id for ten minutes, and the person
    is told it may exist and how to look it up; the create is never sent again."""
    simulator.inject("create", "reset", after_create=False)
    with pytest.raises(e.UnclearError) as caught:
        events(studio.generate(portrait_path, speech_path))
    [job] = studio.journal.recent()
    assert job.stage is Stage.OUTCOME_UNKNOWN and job.task_id is None
    said = str(caught.value)
    assert "nothing was charged" not in said and "may cost twice" in said
    assert f"status {job.job_id}" in said
    assert simulator.stats.creates == 0
    assert simulator.stats.count("create") == 1
    assert simulator.stats.count("query") >= 10  # looked for again and again, never resent


def test_the_unclear_create_is_announced_in_one_sentence_before_the_lookups(
    studio, simulator, portrait_path, speech_path
):
    simulator.inject("create", "reset", after_create=False)
    flow = studio.generate(portrait_path, speech_path)
    unclear = asyncio.run(_first_unclear(flow))
    assert unclear.step is Step.UNCLEAR
    assert "may exist" in unclear.message and "being looked for" in unclear.message
    assert unclear.job is not None and unclear.job.stage is Stage.OUTCOME_UNKNOWN
    assert unclear.job.job_id in unclear.message


async def _first_unclear(flow):
    async for event in flow:
        if event.step is Step.UNCLEAR:
            await flow.aclose()
            return event
    raise AssertionError("no Unclear event")


def test_an_unclear_create_found_by_a_later_lookup_goes_on_to_its_video(
    studio, simulator, portrait_path, speech_path
):
    simulator.inject("create", "reset", after_create=True)
    simulator.inject("query", "error", code=5000, times=5)  # the first lookup cannot tell
    seen = events(studio.generate(portrait_path, speech_path))
    assert [ev.step for ev in seen].count(Step.UNCLEAR) == 1
    assert seen[-1].step is Step.DONE and seen[-1].video_path.is_file()
    assert simulator.stats.creates == 1 and simulator.stats.count("create") == 1


def test_a_refused_connection_is_proof_that_nothing_was_charged(
    fake_time, tmp_path, portrait_path, speech_path
):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: the connection is refused
    settings = Settings(api_key=Secret("k"), base_url=f"http://127.0.0.1:{port}", data_dir=tmp_path)
    client = ProviderClient(settings.base_url, "k", clock=fake_time)
    studio = Studio(settings, client=client, clock=fake_time)
    with pytest.raises(e.ProviderConnectionError) as caught:
        events(studio.generate(portrait_path, speech_path))
    assert "never left this machine, so nothing was charged" in str(caught.value)
    [job] = studio.journal.recent()
    assert job.stage is Stage.NOT_CREATED


def test_past_the_deadline_the_job_waits_in_the_journal_and_a_restart_finishes_it(
    simulator, fake_time, tmp_path, portrait_path, speech_path
):
    first = make_studio(simulator, fake_time, tmp_path / "data")
    with pytest.raises(e.TaskStillRunningError):
        events(first.generate(portrait_path, speech_path, deadline_s=5))
    [job] = first.journal.unfinished()
    assert job.stage is Stage.RUNNING and job.task_id

    restarted = make_studio(simulator, fake_time, tmp_path / "data")
    seen = events(restarted.resume())
    assert seen[-1].step is Step.DONE and seen[-1].video_path.is_file()
    assert restarted.journal.unfinished() == []
    assert simulator.stats.creates == 1


def test_following_a_task_id_stores_its_video_and_adds_it_to_history(
    studio, simulator, fake_time, tmp_path, portrait_path, speech_path
):
    other = make_studio(simulator, fake_time, tmp_path / "elsewhere")
    with pytest.raises(e.TaskStillRunningError) as caught:
        events(other.generate(portrait_path, speech_path, deadline_s=1))
    task_id = caught.value.task_id

    done = final(studio.follow(task_id))
    assert done.video_path.is_file()
    [job] = studio.journal.recent()
    assert job.task_id == task_id and job.stage is Stage.DONE
    again = final(studio.follow(task_id))  # already home: no new download
    assert again.video_path == done.video_path


def test_speech_then_avatar_with_the_audio_id(studio, simulator, portrait_path):
    speech = studio.speak("Hello, this is my synthetic voice speaking.", "oversea_male1")
    done = final(
        studio.generate(portrait_path, audio_id=speech.audio_id, prior_task_id=speech.task_id)
    )
    assert done.video_path.is_file()
    [job] = studio.journal.recent()
    assert job.audio_kind == "audio_id"


def test_speech_requests_are_checked_before_they_are_paid_for(studio, simulator):
    with pytest.raises(e.InputError) as caught:
        studio.speak("x" * 1001, "oversea_male1", "zh", 5.0)
    assert len(caught.value.problems) == 3
    assert "'oversea_male1' speaks English only, not Chinese" in str(caught.value)
    assert simulator.stats.tts == 0


def test_chinese_speech_with_a_voice_that_speaks_both_drives_an_avatar(
    studio, simulator, portrait_path
):
    speech = studio.speak("你好，这是一段用中文说的测试语音。", "genshin_vindi2", "zh")
    assert speech.duration_s is not None and 2 <= speech.duration_s <= 60
    done = final(
        studio.generate(portrait_path, audio_id=speech.audio_id, prior_task_id=speech.task_id)
    )
    assert done.video_path.is_file()


def test_without_a_language_a_voice_speaks_its_first_one(studio, simulator):
    studio.speak("这个音色只说中文，所以不用选语言。", "tiyuxi_xuedi")  # listed in Chinese only
    studio.speak("This voice speaks English first.", "genshin_vindi2")
    assert simulator.stats.tts == 2


@pytest.mark.parametrize(
    ("text", "measured", "fix"),
    [("Hi.", "1.0 s", "say a little more"), ("Long. " * 150, "64.2 s", "shorten the text")],
)
def test_a_speech_too_short_or_too_long_for_an_avatar_is_refused_before_any_task(
    studio, simulator, text, measured, fix
):
    with pytest.raises(e.InputError) as caught:
        studio.speak(text, "oversea_male1")
    [problem] = caught.value.problems
    assert str(problem) == (
        f"The speech lasts {measured}; the video maker takes 2 to 60 s of speech here: {fix} "
        "and make the speech again."
    )
    assert simulator.stats.tts == 1 and simulator.stats.creates == 0


CANARY = "sk-CANARY-31c0ffee"


def test_the_key_is_in_no_journal_row_file_or_error(
    simulator, fake_time, tmp_path, portrait_path, speech_path
):
    data = tmp_path / "data"
    studio = make_studio(simulator, fake_time, data, key=CANARY)
    final(studio.generate(portrait_path, speech_path))
    simulator.plan_task(outcome="fail", reason="blocked")
    with pytest.raises(e.TaskFailedError) as failed:
        events(studio.generate(portrait_path, speech_path))
    simulator.inject("create", "error", code=1002, shape="gateway", message=f"bad {CANARY}")
    with pytest.raises(e.AuthenticationError) as refused:
        events(studio.generate(portrait_path, speech_path))
    studio.journal.close()
    for error in (failed.value, refused.value):
        assert CANARY not in f"{error} {error!r} {error.args}"
    for path in data.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
    assert CANARY not in repr(studio.settings) and CANARY not in repr(studio.client)


def test_resume_reports_a_failed_task_as_failed_never_done(
    simulator, fake_time, tmp_path, portrait_path, speech_path
):
    simulator.plan_task(outcome="fail", reason="Face not detected in the image")
    first = make_studio(simulator, fake_time, tmp_path / "data")
    with pytest.raises(e.TaskStillRunningError):
        events(first.generate(portrait_path, speech_path, deadline_s=5))

    restarted = make_studio(simulator, fake_time, tmp_path / "data")
    [*_, last] = events(restarted.resume())
    assert last.step is Step.FAILED and last.video_path is None
    assert isinstance(last.error, e.TaskFailedError)
    assert "Face not detected" in last.message
    assert last.job.stage is Stage.FAILED


def test_pasted_keys_do_not_move_the_expected_task_time(
    simulator, fake_time, tmp_path, portrait_path, speech_path
):
    """Only a finished task teaches the duration model; a new session with a key does not,
    nor does a task that failed."""
    data = tmp_path / "data"
    final(make_studio(simulator, fake_time, data).generate(portrait_path, speech_path))
    final(make_studio(simulator, fake_time, data).generate(portrait_path, speech_path))
    studio = make_studio(simulator, fake_time, data)
    studio.scheduler.model.learn("std", 100.0)  # the app has learnt from a slow task since
    expected = studio.scheduler.model.expectation("std", 7.3)
    for number in range(5):
        assert studio.with_key(f"sk-visitor-{number}").scheduler is studio.scheduler
    simulator.plan_task(outcome="fail", reason="blocked", task_seconds=500.0)
    with pytest.raises(e.TaskFailedError):
        events(studio.generate(portrait_path, speech_path))
    assert studio.scheduler.model.expectation("std", 7.3) == expected


def test_resume_past_its_deadline_leaves_the_job_unclear_not_failed(
    simulator, fake_time, tmp_path, portrait_path, speech_path
):
    simulator.plan_task(outcome="stuck")
    first = make_studio(simulator, fake_time, tmp_path / "data")
    with pytest.raises(e.TaskStillRunningError):
        events(first.generate(portrait_path, speech_path, deadline_s=5))

    restarted = make_studio(simulator, fake_time, tmp_path / "data")
    [*_, last] = events(restarted.resume(deadline_s=5))
    assert last.step is Step.UNCLEAR and "still" in last.message
    assert last.job.stage is Stage.RUNNING  # the next resume or lookup goes on


def test_a_new_process_expects_what_the_journals_finished_tasks_took(
    simulator, fake_time, tmp_path, portrait_path, speech_path
):
    """The app and the command line share the data folder, so they learn from each other."""
    data = tmp_path / "data"
    first = make_studio(simulator, fake_time, data)
    assert first.scheduler.model.expectation("std", 7.3).guess  # a fresh install: the prior
    final(first.generate(portrait_path, speech_path))
    [job] = first.journal.recent()
    assert job.task_seconds == pytest.approx(20.0) and job.audio_seconds == pytest.approx(
        7.3, abs=0.3
    )

    restarted = _restarted(simulator, data)  # the CLI, or the app after a restart
    expected = restarted.scheduler.model.expectation("std", job.audio_seconds)
    assert not expected.guess and expected.seconds == pytest.approx(20.0, abs=0.01)
    assert restarted.scheduler.model.expectation("pro", 7.3).guess  # each mode apart
    restarted.close()


def _restarted(simulator, data) -> Studio:
    """A studio as a new process makes it: its own scheduler, taught by the journal."""
    settings = Settings(api_key=Secret("test-key"), base_url=simulator.base_url, data_dir=data)
    return Studio(settings, client=ProviderClient(simulator.base_url, "test-key"))


def test_demo_tasks_teach_nothing_about_the_real_provider(
    simulator, fake_time, tmp_path, portrait_path, speech_path
):
    data = tmp_path / "data"
    final(make_studio(simulator, fake_time, data, key=None).generate(portrait_path, speech_path))
    keyed = _restarted(simulator, data)
    assert keyed.scheduler.model.expectation("std", 7.3).guess
    assert keyed.scheduler.model.expected("demo-std", 7.3) == pytest.approx(20.0)
    keyed.close()


def test_in_demo_mode_the_simulators_task_time_is_known_from_the_start(tmp_path):
    studio = open_studio(Settings(data_dir=tmp_path / "data", demo_task_seconds=5.0))
    try:
        model = studio.scheduler.model
        for audio in (3.0, 60.0):
            demo = model.expectation("demo-std", audio)
            assert demo.seconds == 5.0 and not demo.guess
        assert model.expectation("std", 5.0).guess  # a pasted key's tasks: the prior
    finally:
        studio.close()


# --- visitors and the operator --------------------------------------------------------------


def _limited_studio(simulator, fake_time, data_dir, **limits) -> Studio:
    settings = Settings(
        api_key=Secret("test-key"), base_url=simulator.base_url, data_dir=data_dir, **limits
    )
    client = ProviderClient(simulator.base_url, "test-key", clock=fake_time)
    scheduler = PollScheduler(clock=fake_time)
    return Studio(settings, client=client, scheduler=scheduler, clock=fake_time)


def test_a_visitor_sees_its_own_jobs_and_the_operator_sees_all_without_limits(
    simulator, fake_time, tmp_path, portrait_path, speech_path
):
    studio = _limited_studio(simulator, fake_time, tmp_path / "data", max_daily_per_visitor=1)
    mine, theirs = studio.visitor("browser:mine"), studio.visitor("browser:theirs")
    made = final(studio.generate(portrait_path, speech_path, visitor=mine)).job
    with pytest.raises(e.LimitReachedError, match="You have used 1 of this app's 1 videos"):
        final(studio.generate(portrait_path, speech_path, visitor=mine))
    for _ in range(2):  # the operator (the command line): no limits
        final(studio.generate(portrait_path, speech_path))
    assert simulator.stats.creates == 3

    assert [job.job_id for job in studio.history(mine)] == [made.job_id]
    assert studio.history(theirs) == []
    assert len(studio.history()) == 3  # the operator sees every job
    with pytest.raises(e.NotYoursError, match=f"Task {made.task_id} is not one of your jobs"):
        final(studio.follow(made.task_id, visitor=theirs))
    assert studio.job_of(theirs, made.job_id) is None
    assert final(studio.follow(made.job_id, visitor=mine)).job.job_id == made.job_id
    assert final(studio.follow(made.task_id)).job.job_id == made.job_id  # the operator


def test_the_journal_keeps_a_keyed_tag_of_the_visitor_not_its_id(
    studio, portrait_path, speech_path
):
    visitor = studio.visitor("browser:a-visitor-id-of-some-length")
    job = final(studio.generate(portrait_path, speech_path, visitor=visitor)).job
    stored = studio.journal.get(job.job_id)
    assert stored.visitor == visitor.tag and "a-visitor-id" not in stored.visitor
    for path in studio.settings.data_dir.rglob("*"):  # the journal, its WAL, the salt...
        if path.is_file():
            assert b"a-visitor-id-of-some-length" not in path.read_bytes(), path


def test_a_shared_history_shows_every_visitor_every_job(
    simulator, fake_time, tmp_path, portrait_path, speech_path
):
    studio = _limited_studio(simulator, fake_time, tmp_path / "data", shared_history=True)
    made = final(studio.generate(portrait_path, speech_path, visitor=studio.visitor("a"))).job
    other = studio.visitor("b")
    assert [job.job_id for job in studio.history(other)] == [made.job_id]
    assert final(studio.follow(made.task_id, visitor=other)).job.job_id == made.job_id
