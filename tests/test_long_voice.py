"""A voice longer than a task takes, made into one video through the studio: its parts are
ordinary jobs (journaled, through the line, followed) tagged with the speech, made by the
simulator, and joined with the speech laid over them. Real media made here.

The studio's tests speak to a gateway whose part limit is PART_S (the provider profile's
`max_part_seconds`, and the simulator's `max_audio_seconds`, so a longer part would be
refused): a 40 s voice in parts of at most 12 s goes through the same split, parts,
journal, limits and join as three minutes in parts of 60 s, at a fifth of the media. The
three-minute speech at the real limit is tests/test_join.py's; the command-line tests
keep the real 60 s limit."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cli_children import run_cli_child
from flows import final
from live import sigkill
from media import PORTRAIT, REPO_ROOT
from speech_media import decode, speech_like, write_wav

from avatar_core import errors as e
from avatar_core.config import Secret, Settings
from avatar_core.jobs.events import Failed, Submitted
from avatar_core.jobs.long_voice import LongVoiceRun, SpeechDone, part_key
from avatar_core.jobs.studio import Studio
from avatar_core.media.probe import probe_video
from avatar_core.provider.client import ProviderClient
from avatar_core.provider.cometapi import cometapi_profile
from avatar_core.simulator import Simulator
from avatar_core.storage.journal import Journal, Stage
from avatar_core.waiting.scheduler import PollScheduler

RATE = 16_000
PART_S = 12.0  # the tests' gateway's part limit (the CometAPI profile's is 60 s)


def _client(simulator, fake_time, key: str) -> ProviderClient:
    """A client of a gateway that takes at most PART_S of audio a task."""
    profile = replace(cometapi_profile(simulator.base_url, key), max_part_seconds=PART_S)
    return ProviderClient(simulator.base_url, key, profile=profile, clock=fake_time)


def _studio(simulator, fake_time, data_dir) -> Studio:
    settings = Settings(api_key=Secret("test-key"), base_url=simulator.base_url, data_dir=data_dir)
    return Studio(
        settings,
        client=_client(simulator, fake_time, "test-key"),
        scheduler=PollScheduler(clock=fake_time),
        clock=fake_time,
    )


@pytest.fixture
def small_videos(simulator):
    simulator.options.render_max_side = 128  # the join does not care how large
    simulator.options.max_audio_seconds = PART_S  # a part over the limit would be refused
    return simulator


@pytest.fixture(scope="module")
def long_voice(tmp_path_factory):
    """40 s with 1 s and 1.5 s of silent edges: about 38 s sent, four parts of PART_S."""
    folder = tmp_path_factory.mktemp("voice")
    speech = speech_like(40.0, lead=1.0, tail=1.5, rate=44_100, phrase=(2.0, 5.0), seed=21)
    return speech, write_wav(folder / "speech.wav", speech)


def _parts_made(studio: Studio, key: str, most: int = 20) -> int:
    """How many parts of the speech `key` the journal holds (of its first `most`)."""
    found = (studio.journal.batch_job(part_key(key, n)) for n in range(1, most + 1))
    return sum(job is not None for job in found)


def _keeping_its_work(run: LongVoiceRun, into: Path):
    """Run a speech to its end, keeping a copy of its plan and speech as sent (its folder
    is deleted once it is joined); its last event."""

    async def going() -> object:
        last = None
        async for last in run.run():  # noqa: B007 - the last one is returned
            for name in ("plan.json", "speech.flac"):
                if (run.folder / name).is_file() and not (into / name).is_file():
                    into.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(run.folder / name, into / name)
        return last

    return asyncio.run(going())


def test_a_long_voice_becomes_one_video_of_its_parts(
    small_videos, fake_time, tmp_path, portrait_path, long_voice
):
    _, voice = long_voice
    studio = _studio(small_videos, fake_time, tmp_path / "data")
    run = LongVoiceRun(studio, portrait_path, voice, prompt="Speak.")
    done = _keeping_its_work(run, tmp_path / "kept")

    assert isinstance(done, SpeechDone) and done.video_path.is_file()
    plan = (tmp_path / "kept" / "plan.json").read_text()
    count = plan.count('"path"')
    assert count >= 3 and small_videos.stats.creates == count  # one task a part, no more
    for number in range(1, count + 1):
        job = studio.journal.batch_job(part_key(run.key, number))
        assert job is not None and job.stage is Stage.DONE and job.video_seconds <= PART_S
    heard = decode(done.video_path, rate=RATE)
    sent = decode(tmp_path / "kept" / "speech.flac", rate=RATE)
    assert abs(probe_video(done.video_path).seconds - len(sent) / RATE) <= 1 / 25
    n = min(len(heard), len(sent))
    assert np.corrcoef(heard[:n], sent[:n])[0, 1] > 0.999  # the speech, not the parts' sound
    assert "seams are at" in done.message
    assert not run.folder.exists()  # its work is deleted once joined; the video is kept
    again = final(LongVoiceRun(studio, portrait_path, voice, prompt="Speak.").run())
    assert again.video_path == done.video_path and small_videos.stats.creates == count


def test_a_run_stopped_after_two_parts_were_sent_finishes_with_one_create_a_part(
    small_videos, fake_time, tmp_path, portrait_path, long_voice
):
    _, voice = long_voice
    studio = _studio(small_videos, fake_time, tmp_path / "data")

    async def until_two_sent() -> None:
        flow = LongVoiceRun(studio, portrait_path, voice).run()
        sent = 0
        async for event in flow:
            sent += isinstance(event, Submitted)
            if sent == 2:
                break
        await flow.aclose()  # as a process stopped there: the rest is in the journal

    asyncio.run(until_two_sent())
    assert small_videos.stats.creates >= 2
    again = _studio(small_videos, fake_time, tmp_path / "data")
    done = final(LongVoiceRun(again, portrait_path, voice).run())

    assert isinstance(done, SpeechDone)
    key = LongVoiceRun(studio, portrait_path, voice).key
    assert small_videos.stats.creates == _parts_made(again, key) >= 3  # none sent twice
    creates = small_videos.stats.creates
    final(
        LongVoiceRun(
            _studio(small_videos, fake_time, tmp_path / "data"), portrait_path, voice
        ).run()
    )
    assert small_videos.stats.creates == creates  # made: running it again only joins


def test_a_voice_past_the_speech_limit_is_refused_before_any_create(
    small_videos, fake_time, tmp_path, portrait_path, long_voice
):
    _, voice = long_voice
    studio = _studio(small_videos, fake_time, tmp_path / "data")
    with pytest.raises(e.InputError, match=r"at most 30\.0 s of speech"):
        final(LongVoiceRun(studio, portrait_path, voice, max_speech_s=30.0).run())
    assert small_videos.stats.creates == 0


def _small_portrait(folder: Path) -> Path:
    """The portrait at 320 px (the rules' least is 300): demo mode renders the picture at
    its own size up to 512 px, and the length of the video is the point here, not its
    size."""
    from PIL import Image

    path = folder / "portrait-320.jpg"
    with Image.open(PORTRAIT) as image:
        image.resize((320, 320), Image.Resampling.LANCZOS).save(path, quality=90)
    return path


def test_the_command_line_makes_one_video_of_a_long_voice_in_demo_mode(tmp_path):
    speech = speech_like(64.0, lead=1.0, tail=1.0, seed=22)
    voice = write_wav(tmp_path / "voice.wav", speech)
    done = run_cli_child(
        "generate", "--image", str(_small_portrait(tmp_path)), "--audio", str(voice),
        "--out", str(tmp_path / "out.mp4"), timeout=600, quick=True,
        env={"PATH": "/usr/bin:/bin", "AVATAR_DATA_DIR": str(tmp_path / "data"),
             "HOME": str(tmp_path), "AVATAR_DEMO_TASK_SECONDS": "2"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(tmp_path / "out.mp4")
    assert "made in 2 parts, cut in pauses at" in done.stderr
    assert "Estimate: 2 parts, 62.4 s of video in std at $0.056/s: about $3.49" in done.stderr
    assert "Expected about 1 min in all (2 parts at once, then the join)." in done.stderr
    assert "Part 2 of 2 is ready" in done.stderr or "Part 1 of 2 is ready" in done.stderr
    seconds = probe_video(tmp_path / "out.mp4").seconds
    assert seconds == pytest.approx(62.4, abs=0.1)  # without 2 s of silent edges (0.2 s kept)


def test_a_command_killed_after_two_creates_is_finished_by_resume_with_one_create_a_part(
    tmp_path,
):
    """The process (`python -m avatar_core`), which sends two tasks at once
    (AVATAR_MAX_RUNNING_TASKS=2), is SIGKILLed once the provider has seen two creates
    (creates answer a second late, so the process knows no task id yet); `resume` makes
    the video and the provider has seen exactly one create a part. The voice makes three
    parts at the real 60 s limit: two in flight at the kill, one never sent. (Killed while a create
    may be on its way, a part is unclear, as any create: looked up, never sent again.)
    `resume` makes the missing parts and joins; `status KEY` then says the speech is made.
    `resume` and `status` run as forked children (processes of their own started from a
    warm interpreter, checking and retrying sooner: cli_children.QUICK_WAITS); the killed
    run is a real start."""
    speech = speech_like(130.0, lead=0.5, tail=0.5, rate=16_000, seed=23)
    voice = write_wav(tmp_path / "voice.wav", speech)
    command = [sys.executable, "-m", "avatar_core", "generate", "--image", str(PORTRAIT),
               "--audio", str(voice)]  # fmt: skip
    with Simulator(
        task_seconds=1.0, submit_seconds=0.5, create_delay_s=1.0, render_max_side=48,
        work_dir=tmp_path / "sim",
    ) as sim:  # fmt: skip
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COMETAPI_KEY": "test-key",
               "COMETAPI_BASE_URL": sim.base_url,
               "AVATAR_DATA_DIR": str(tmp_path / "data")}  # fmt: skip
        first = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                                 env={**env, "AVATAR_MAX_RUNNING_TASKS": "2"},
                                 stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            while sim.stats.creates < 2 and first.poll() is None:
                time.sleep(0.005)
        finally:
            sigkill(first)
        assert sim.stats.creates >= 2
        again = run_cli_child("resume", env=env, timeout=600, quick=True)
        assert again.returncode == 0, again.stderr[-3000:]
        joined = Path(again.stdout.strip().splitlines()[-1])
        assert joined.name.startswith("speech-") and joined.is_file()
        key = joined.stem.removeprefix("speech-")
        status = run_cli_child("status", key, env=env, timeout=120, quick=True)
        assert status.returncode == 0 and f"Speech {key} is made" in status.stderr
        assert status.stdout.strip() == str(joined)
        journal = Journal(tmp_path / "data")
        parts = [job for job in journal.recent(50) if job.batch_key]
        journal.close()
        assert len(parts) >= 3 and all(job.stage is Stage.DONE for job in parts)
        assert sim.stats.creates == len(parts)
        assert not list((tmp_path / "data" / "long_speeches").iterdir())  # cleaned up


def test_each_part_is_sent_whole_even_where_it_was_cut_in_a_long_pause(
    small_videos, fake_time, tmp_path, portrait_path
):
    """Parts are cut in the middle of pauses: a part's silent edge is where the speech was
    cut, and leaving it out again would set the part's lips ahead of the speech laid over
    the join. Each part is sent as long as its span."""
    import json

    speech = speech_like(
        50.0, lead=0.5, tail=0.5, pause=(1.8, 2.6), phrase=(2.5, 6.0), rate=16_000, seed=5
    )
    voice = write_wav(tmp_path / "long-pauses.wav", speech)
    studio = _studio(small_videos, fake_time, tmp_path / "data")
    run = LongVoiceRun(studio, portrait_path, voice, prompt="Speak.")
    assert isinstance(_keeping_its_work(run, tmp_path / "kept"), SpeechDone)
    plan = json.loads((tmp_path / "kept" / "plan.json").read_text())
    parts = plan["parts"] if isinstance(plan, dict) else plan
    assert len(parts) >= 3
    for number, part in enumerate(parts, start=1):
        job = studio.journal.batch_job(part_key(run.key, number))
        assert job is not None and job.audio_seconds is not None
        assert abs(job.audio_seconds - (part["end"] - part["start"])) < 0.05, number


# --- the visitors' limits count the whole speech before any part is sent -----------------


def _visitor_studio(simulator, fake_time, data_dir, **limits) -> Studio:
    """The app's own key, whose visitors spend within `limits` (Settings' max_* fields)."""
    settings = Settings(
        api_key=Secret("app-key"), base_url=simulator.base_url, data_dir=data_dir,
        **{"max_active_per_visitor": 0, "max_daily_per_visitor": 0,
           "max_daily_per_address": 0, "max_daily_video_seconds": 0, **limits},
    )  # fmt: skip
    return Studio(
        settings,
        client=_client(simulator, fake_time, "app-key"),
        scheduler=PollScheduler(clock=fake_time),
        clock=fake_time,
    )


def _parts_of(run: LongVoiceRun) -> int:
    import json

    return len(json.loads((run.folder / "plan.json").read_text())["parts"])


def test_a_speech_of_more_parts_than_the_days_videos_left_is_refused_whole(
    small_videos, fake_time, tmp_path, portrait_path, long_voice
):
    _, voice = long_voice
    studio = _visitor_studio(small_videos, fake_time, tmp_path / "data", max_daily_per_visitor=2)
    visitor = studio.visitor("browser-id-of-visitor-a")
    run = LongVoiceRun(studio, portrait_path, voice, visitor=visitor)
    with pytest.raises(e.LimitReachedError) as refused:
        final(run.run())
    parts = _parts_of(run)
    assert parts >= 3
    said = str(refused.value)
    assert f"made in {parts} parts" in said and "2 are left today" in said
    assert "nothing was sent or charged" in said
    assert small_videos.stats.creates == 0 and studio.journal.recent(10) == []
    assert studio.allowance(visitor).left == 2  # nothing of the day was used


def test_a_speech_longer_than_the_days_seconds_left_is_refused_whole(
    small_videos, fake_time, tmp_path, portrait_path, long_voice
):
    _, voice = long_voice
    studio = _visitor_studio(small_videos, fake_time, tmp_path / "data", max_daily_video_seconds=30)
    run = LongVoiceRun(studio, portrait_path, voice, visitor=studio.visitor("browser-id-b" * 2))
    with pytest.raises(e.LimitReachedError, match=r"this voice lasts 3\d\.\d s"):
        final(run.run())
    assert small_videos.stats.creates == 0 and studio.journal.recent(10) == []


def test_a_speechs_parts_count_as_one_job_at_once_and_each_as_one_of_the_day(
    small_videos, fake_time, tmp_path, portrait_path, long_voice
):
    """At most one job at once: the speech's parts (sent at once) are made whole; the
    day's videos count each part, and the seconds held are the whole speech's."""
    _, voice = long_voice
    studio = _visitor_studio(
        small_videos, fake_time, tmp_path / "data", max_active_per_visitor=1,
        max_daily_per_visitor=5, max_daily_video_seconds=45,
    )  # fmt: skip
    visitor = studio.visitor("browser-id-of-visitor-c")
    run = LongVoiceRun(studio, portrait_path, voice, visitor=visitor)
    done = final(run.run())
    parts = _parts_made(studio, run.key)
    assert isinstance(done, SpeechDone) and small_videos.stats.creates == parts >= 3
    assert studio.allowance(visitor).left == 5 - parts
    jobs = studio.journal.recent(50, visitor=visitor.tag)  # each part a job of the visitor's
    assert len(jobs) == parts and all(job.visitor == visitor.tag for job in jobs)
    (entry,) = studio.history(visitor)  # the History shows the speech as one entry
    assert entry.video_path == str(done.video_path) and entry.count == parts
    whole = sum(job.audio_seconds for job in jobs)  # its length is the whole speech's
    assert entry.audio_seconds == pytest.approx(whole) and whole > 2 * max(
        job.audio_seconds for job in jobs
    )
    with (
        pytest.raises(e.LimitReachedError, match="voice lasts"),  # 45 s a day, most used
        studio.limits.admit(visitor, video_seconds=30.0),
    ):
        pass


def test_what_a_speech_holds_counts_for_other_requests_until_its_parts_are_journaled(
    tmp_path,
):
    from avatar_core.jobs.limits import SpendingLimits
    from avatar_core.storage.journal import Journal
    from avatar_core.storage.visitors import Visitor

    settings = Settings(data_dir=tmp_path, max_active_per_visitor=1, max_daily_per_visitor=4,
                        max_daily_video_seconds=200)  # fmt: skip
    limits = SpendingLimits(settings, Journal(tmp_path))

    a, b = Visitor("visitor-a"), Visitor("visitor-b")
    with limits.hold_speech(a, "k" * 20, parts=3, seconds=150.0, part_s=60.0):
        with pytest.raises(e.LimitReachedError, match="already have 1 videos"):
            limits.check(a)  # the speech is its one job at once
        with (
            pytest.raises(e.LimitReachedError, match=r"voice lasts 60\.0 s"),
            limits.admit(b, video_seconds=60.0),  # 150 s held of 200
        ):
            pass
        with (
            pytest.raises(e.LimitReachedError, match="being made already"),
            limits.hold_speech(a, "k" * 20, parts=3, seconds=150.0, part_s=60.0),
        ):
            pass
        part = Visitor("visitor-a", speech="k" * 20)
        limits.check(part)  # its own parts pass: counted whole already
    limits.check(a)  # let go: nothing journaled, nothing counted


def test_resume_and_status_know_a_speech_stopped_after_two_parts_were_sent(
    small_videos, fake_time, tmp_path, portrait_path, long_voice
):
    from avatar_core.jobs.speech_resume import resume_speeches, speech_status

    _, voice = long_voice
    studio = _studio(small_videos, fake_time, tmp_path / "data")
    run = LongVoiceRun(studio, portrait_path, voice)

    async def until_two_sent() -> None:
        flow = run.run()
        sent = 0
        async for event in flow:
            sent += isinstance(event, Submitted)
            if sent == 2:
                break
        await flow.aclose()

    asyncio.run(until_two_sent())
    said = [str(line) for line in speech_status(studio, run.key)]
    count = _parts_of(run)
    assert re.fullmatch(rf"Speech {run.key}: \d of {count} parts ready\.", said[0]), said[0]
    assert sum("not sent yet" in line for line in said) == count - _parts_made(studio, run.key)

    async def resumed() -> list:
        made = [event async for event in studio.resume()]
        return made + [event async for event in resume_speeches(studio)]

    done = asyncio.run(resumed())[-1]
    assert isinstance(done, SpeechDone) and done.video_path.is_file()
    assert small_videos.stats.creates == count == _parts_made(studio, run.key)
    assert not run.folder.exists()
    assert str(speech_status(studio, run.key)[0]).startswith(f"Speech {run.key} is made")


def test_a_failed_part_keeps_the_others_resume_reports_it_and_only_it_is_paid_again(
    small_videos, fake_time, tmp_path, portrait_path, long_voice
):
    """The first task made fails: the speech stops saying so, its other parts are kept;
    `resume` reports the failed part and pays for nothing; the same command again (a new
    studio on the same data folder) pays for the failed part only."""
    from avatar_core.jobs.speech_resume import resume_speeches, speech_status

    _, voice = long_voice
    studio = _studio(small_videos, fake_time, tmp_path / "data")
    small_videos.plan_task("fail", times=1)  # the first task made fails
    run = LongVoiceRun(studio, portrait_path, voice)
    with pytest.raises(e.AvatarError) as failed:
        final(run.run())
    assert "did not give a video" in str(failed.value)
    assert "run the same command again" in str(failed.value)
    made = small_videos.stats.creates
    said = " ".join(str(line) for line in speech_status(studio, run.key))
    assert said.count("failed: ") == 1 and said.count(": ready.") == made - 1

    async def resumed() -> list:
        return [event async for event in resume_speeches(studio)]

    ended = asyncio.run(resumed())[-1]
    assert isinstance(ended, Failed) and f"Speech {run.key}: Part " in str(ended.message)
    assert small_videos.stats.creates == made  # resume pays for nothing again
    again = _studio(small_videos, fake_time, tmp_path / "data")
    done = final(LongVoiceRun(again, portrait_path, voice).run())
    assert isinstance(done, SpeechDone)
    assert small_videos.stats.creates == made + 1  # only the failed part again


def test_a_preview_makes_the_first_ten_seconds_in_std_and_the_whole_reuses_it(
    small_videos, fake_time, tmp_path, portrait_path, long_voice
):
    _, voice = long_voice
    studio = _studio(small_videos, fake_time, tmp_path / "data")
    preview = final(LongVoiceRun(studio, portrait_path, voice, mode="pro", preview=True).run())
    assert isinstance(preview, SpeechDone) and "The preview is ready" in preview.message
    assert small_videos.stats.creates == 1
    seconds = probe_video(preview.video_path).seconds
    assert 2.0 <= seconds <= 10.0 + 1 / 25
    whole = LongVoiceRun(studio, portrait_path, voice)  # std: the preview's mode
    assert whole.key == LongVoiceRun(studio, portrait_path, voice, preview=True).key
    done = _keeping_its_work(whole, tmp_path / "kept")
    assert isinstance(done, SpeechDone)
    parts = _parts_made(studio, whole.key)
    assert small_videos.stats.creates == parts >= 4  # the preview's part was not sent again
    first = studio.journal.batch_job(part_key(whole.key, 1))
    assert first.mode == "std" and first.video_seconds == pytest.approx(seconds, abs=0.1)
    heard = decode(done.video_path, rate=RATE)
    sent = decode(tmp_path / "kept" / "speech.flac", rate=RATE)
    assert abs(probe_video(done.video_path).seconds - len(sent) / RATE) <= 1 / 25
    n = min(len(heard), len(sent))
    assert np.corrcoef(heard[:n], sent[:n])[0, 1] > 0.999  # the whole speech over the parts


def test_a_voice_one_task_takes_has_no_preview_and_nothing_is_sent(
    small_videos, fake_time, tmp_path, portrait_path
):
    from avatar_core.jobs.video_flow import make_video

    voice = write_wav(tmp_path / "short.wav", speech_like(11.0, seed=3))  # > 10 s, one task
    studio = _studio(small_videos, fake_time, tmp_path / "data")
    said = "only of a voice longer than 12 s; this one is made whole: leave the preview out"
    with pytest.raises(e.InputError, match=said):  # the part limit as "12 s", not "12.0 s"
        final(make_video(studio, portrait_path, voice, preview=True))
    assert small_videos.stats.creates == 0
