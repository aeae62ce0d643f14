"""A voice longer than a task takes, made into one video through the studio: its parts are
ordinary jobs (journaled, through the line, followed) tagged with the speech, made by the
simulator, and joined with the speech laid over them. Real media made here."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from flows import final
from live import sigkill
from media import PORTRAIT, REPO_ROOT
from speech_media import decode, speech_like, write_wav

from avatar_core import errors as e
from avatar_core.config import Secret, Settings
from avatar_core.jobs.events import Submitted
from avatar_core.jobs.long_voice import LongVoiceRun, SpeechDone, part_key
from avatar_core.jobs.studio import Studio
from avatar_core.media.probe import probe_video
from avatar_core.provider.client import ProviderClient
from avatar_core.simulator import Simulator
from avatar_core.storage.journal import Stage
from avatar_core.waiting.scheduler import PollScheduler

RATE = 16_000


def _studio(simulator, fake_time, data_dir) -> Studio:
    settings = Settings(api_key=Secret("test-key"), base_url=simulator.base_url, data_dir=data_dir)
    return Studio(
        settings,
        client=ProviderClient(simulator.base_url, "test-key", sleep=fake_time.sleep),
        scheduler=PollScheduler(clock=fake_time),
        clock=fake_time.now,
        sleep=fake_time.sleep,
    )


@pytest.fixture
def small_videos(simulator):
    simulator.options.render_max_side = 128  # the join does not care how large
    return simulator


@pytest.fixture(scope="module")
def three_minutes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("voice")
    speech = speech_like(180.0, lead=1.0, tail=1.5, rate=44_100, seed=21)
    return speech, write_wav(folder / "speech.wav", speech)


def test_a_three_minute_voice_becomes_one_video_of_its_parts(
    small_videos, fake_time, tmp_path, portrait_path, three_minutes
):
    _, voice = three_minutes
    studio = _studio(small_videos, fake_time, tmp_path / "data")
    run = LongVoiceRun(studio, portrait_path, voice, prompt="Speak.")
    done = final(run.run())

    assert isinstance(done, SpeechDone) and done.video_path.is_file()
    plan = (tmp_path / "data" / "long_speeches" / run.key / "plan.json").read_text()
    count = plan.count('"path"')
    assert count >= 3 and small_videos.stats.creates == count  # one task a part, no more
    for number in range(1, count + 1):
        job = studio.journal.batch_job(part_key(run.key, number))
        assert job is not None and job.stage is Stage.DONE and job.video_seconds <= 60.0
    speech = tmp_path / "data" / "long_speeches" / run.key / "speech.flac"
    heard, sent = decode(done.video_path, rate=RATE), decode(speech, rate=RATE)
    assert abs(probe_video(done.video_path).seconds - len(sent) / RATE) <= 1 / 25
    n = min(len(heard), len(sent))
    assert np.corrcoef(heard[:n], sent[:n])[0, 1] > 0.999  # the speech, not the parts' sound
    assert "seams are at" in done.message
    assert not (tmp_path / "data" / "long_speeches" / run.key / "join").exists()  # cleaned up


def test_a_run_stopped_after_two_parts_were_sent_finishes_with_one_create_a_part(
    small_videos, fake_time, tmp_path, portrait_path, three_minutes
):
    _, voice = three_minutes
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

    count = (tmp_path / "data" / "long_speeches").glob("*/parts/part-*.mp3")
    assert isinstance(done, SpeechDone)
    assert small_videos.stats.creates == len(list(count))  # no part sent twice
    creates = small_videos.stats.creates
    final(
        LongVoiceRun(
            _studio(small_videos, fake_time, tmp_path / "data"), portrait_path, voice
        ).run()
    )
    assert small_videos.stats.creates == creates  # made: running it again only joins


def test_a_failed_part_keeps_the_others_and_is_the_only_one_paid_again(
    small_videos, fake_time, tmp_path, portrait_path, three_minutes
):
    _, voice = three_minutes
    studio = _studio(small_videos, fake_time, tmp_path / "data")
    small_videos.plan_task("fail", times=1)  # the first task made fails
    with pytest.raises(e.AvatarError) as failed:
        final(LongVoiceRun(studio, portrait_path, voice).run())
    assert "did not give a video" in str(failed.value)
    assert "run the same command again" in str(failed.value)
    parts = small_videos.stats.creates

    done = final(
        LongVoiceRun(
            _studio(small_videos, fake_time, tmp_path / "data"), portrait_path, voice
        ).run()
    )
    assert isinstance(done, SpeechDone)
    assert small_videos.stats.creates == parts + 1  # only the failed part again


def test_a_voice_past_the_speech_limit_is_refused_before_any_create(
    small_videos, fake_time, tmp_path, portrait_path, three_minutes
):
    _, voice = three_minutes
    studio = _studio(small_videos, fake_time, tmp_path / "data")
    with pytest.raises(e.InputError, match=r"at most 120\.0 s of speech"):
        final(LongVoiceRun(studio, portrait_path, voice, max_speech_s=120.0).run())
    assert small_videos.stats.creates == 0


def test_the_command_line_makes_one_video_of_a_long_voice_in_demo_mode(tmp_path):
    speech = speech_like(75.0, lead=1.0, tail=1.0, seed=22)
    voice = write_wav(tmp_path / "voice.wav", speech)
    done = subprocess.run(
        [sys.executable, "-m", "avatar_core", "generate", "--image", str(PORTRAIT),
         "--audio", str(voice), "--out", str(tmp_path / "out.mp4")],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=600, check=False,
        env={"PATH": "/usr/bin:/bin", "AVATAR_DATA_DIR": str(tmp_path / "data"),
             "HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(tmp_path / "out.mp4")
    assert "made in 2 parts, cut in pauses at" in done.stderr
    assert "Part 2 of 2 is ready" in done.stderr or "Part 1 of 2 is ready" in done.stderr
    seconds = probe_video(tmp_path / "out.mp4").seconds
    assert seconds == pytest.approx(73.4, abs=0.1)  # without 2 s of silent edges (0.2 s kept)


def test_a_command_killed_after_two_creates_finishes_with_one_create_a_part(tmp_path):
    """The process is SIGKILLed once the provider has seen two creates (creates answer a
    second late, so others may be on their way); the same command again makes the video
    and the provider has seen exactly one create a part."""
    speech = speech_like(250.0, lead=0.5, tail=0.5, seed=23)
    voice = write_wav(tmp_path / "voice.wav", speech)
    command = [sys.executable, "-m", "avatar_core", "generate", "--image", str(PORTRAIT),
               "--audio", str(voice)]  # fmt: skip
    with Simulator(
        task_seconds=4.0, submit_seconds=0.5, create_delay_s=1.0, render_max_side=128,
        work_dir=tmp_path / "sim",
    ) as sim:  # fmt: skip
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COMETAPI_KEY": "test-key",
               "COMETAPI_BASE_URL": sim.base_url,
               "AVATAR_DATA_DIR": str(tmp_path / "data")}  # fmt: skip
        first = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            while sim.stats.creates < 2 and first.poll() is None:
                time.sleep(0.005)
        finally:
            sigkill(first)
        assert sim.stats.creates >= 2
        again = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                               timeout=600, check=False)  # fmt: skip
        assert again.returncode == 0, again.stderr[-3000:]
        parts = list((tmp_path / "data" / "long_speeches").glob("*/parts/part-*.mp3"))
        assert len(parts) >= 5
        assert sim.stats.creates == len(parts)
        assert Path(again.stdout.strip()).is_file()


def test_each_part_is_sent_whole_even_where_it_was_cut_in_a_long_pause(
    small_videos, fake_time, tmp_path, portrait_path
):
    """Parts are cut in the middle of pauses: a part's silent edge is where the speech was
    cut, and leaving it out again would set the part's lips ahead of the speech laid over
    the join. Each part is sent as long as its span."""
    import json

    speech = speech_like(150.0, lead=0.5, tail=0.5, pause=(1.8, 2.6), rate=16_000, seed=5)
    voice = write_wav(tmp_path / "long-pauses.wav", speech)
    studio = _studio(small_videos, fake_time, tmp_path / "data")
    run = LongVoiceRun(studio, portrait_path, voice, prompt="Speak.")
    assert isinstance(final(run.run()), SpeechDone)
    plan = json.loads((tmp_path / "data" / "long_speeches" / run.key / "plan.json").read_text())
    parts = plan["parts"] if isinstance(plan, dict) else plan
    assert len(parts) >= 3
    for number, part in enumerate(parts, start=1):
        job = studio.journal.batch_job(part_key(run.key, number))
        assert job is not None and job.audio_seconds is not None
        assert abs(job.audio_seconds - (part["end"] - part["start"])) < 0.05, number
