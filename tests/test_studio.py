"""The whole flow against the simulator: prepare, journal, submit, follow, store, resume."""

from __future__ import annotations

import subprocess

import pytest
from flows import events, final

from avatar_core import errors as e
from avatar_core.config import Secret, Settings
from avatar_core.inputs.ffmpeg import ffmpeg_exe
from avatar_core.jobs.events import Step
from avatar_core.jobs.studio import Studio
from avatar_core.provider.client import KlingClient
from avatar_core.storage.journal import Stage
from avatar_core.waiting.scheduler import PollScheduler


def make_studio(simulator, fake_time, data_dir, key="test-key") -> Studio:
    settings = Settings(api_key=Secret(key), base_url=simulator.base_url, data_dir=data_dir)
    client = KlingClient(simulator.base_url, key, sleep=fake_time.sleep)
    scheduler = PollScheduler(clock=fake_time.clock, sleep=fake_time.asleep)
    return Studio(
        settings, client=client, scheduler=scheduler, clock=fake_time.clock, sleep=fake_time.sleep
    )


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


def test_bad_input_is_refused_before_anything_is_sent_or_journaled(
    studio, simulator, portrait_path, tmp_path
):
    with pytest.raises(e.InputError) as caught:
        events(studio.generate(portrait_path, _short_clip(tmp_path, 1.0)))
    assert "2 to 60 s" in str(caught.value)
    assert simulator.stats.creates == 0
    assert studio.journal.recent() == []


def test_a_failed_task_gives_the_providers_reason(studio, simulator, portrait_path, speech_path):
    simulator.plan_task(outcome="fail", reason="Face not detected in the image")
    with pytest.raises(e.TaskFailedError) as caught:
        events(studio.generate(portrait_path, speech_path))
    assert "Face not detected in the image" in str(caught.value)
    [job] = studio.journal.recent()
    assert job.stage is Stage.FAILED and "Face not detected" in job.error


def test_no_credit_is_explained_and_nothing_is_created(
    simulator, fake_time, tmp_path, portrait_path, speech_path
):
    simulator.set_key_state("poor-key", "no_credit")
    studio = make_studio(simulator, fake_time, tmp_path / "data", key="poor-key")
    with pytest.raises(e.QuotaError) as caught:
        events(studio.generate(portrait_path, speech_path))
    assert "top up" in str(caught.value)
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


def test_a_create_that_did_not_happen_says_nothing_was_charged(
    studio, simulator, portrait_path, speech_path
):
    simulator.inject("create", "reset", after_create=False)
    with pytest.raises(e.ProviderConnectionError) as caught:
        events(studio.generate(portrait_path, speech_path))
    assert "nothing was charged" in str(caught.value)
    [job] = studio.journal.recent()
    assert job.stage is Stage.NOT_CREATED
    assert simulator.stats.creates == 0


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
    assert simulator.stats.tts == 0


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
    """Only a finished task teaches the duration model; a new session with a key does not."""
    data = tmp_path / "data"
    final(make_studio(simulator, fake_time, data).generate(portrait_path, speech_path))
    final(make_studio(simulator, fake_time, data).generate(portrait_path, speech_path))
    studio = make_studio(simulator, fake_time, data)
    studio.scheduler.model.learn("std", 100.0)  # the app has learnt from a slow task since
    expected = studio.scheduler.model.expected("std")
    for number in range(5):
        studio.with_key(f"sk-visitor-{number}")
    assert studio.scheduler.model.expected("std") == expected


# --- visitors and the operator --------------------------------------------------------------


def _limited_studio(simulator, fake_time, data_dir, **limits) -> Studio:
    settings = Settings(
        api_key=Secret("test-key"), base_url=simulator.base_url, data_dir=data_dir, **limits
    )
    client = KlingClient(simulator.base_url, "test-key", sleep=fake_time.sleep)
    scheduler = PollScheduler(clock=fake_time.clock, sleep=fake_time.asleep)
    return Studio(
        settings, client=client, scheduler=scheduler, clock=fake_time.clock, sleep=fake_time.sleep
    )


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
