"""A typed text longer than one speech a task takes, made into one video in one call: the
text spoken group by group by the simulator's text to speech (a request a group), a part
a group, joined with the groups' speech laid over the whole. The part limit is lowered to
6 s (the provider's profile), so a few short paragraphs make several parts."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re

import numpy as np
import pytest
from flows import final
from media import image_bytes
from speech_media import decode

from avatar_core import errors as e
from avatar_core.config import Secret, Settings
from avatar_core.jobs.events import Preparing
from avatar_core.jobs.long_text import LongTextRun, TextSpeech, text_groups
from avatar_core.jobs.long_voice import SpeechDone, part_key
from avatar_core.jobs.speech_history import SpeechEntry
from avatar_core.jobs.studio import Studio
from avatar_core.jobs.video_flow import make_video
from avatar_core.media.probe import probe_video
from avatar_core.provider.client import ProviderClient
from avatar_core.provider.cometapi import cometapi_profile
from avatar_core.storage.journal import Stage
from avatar_core.storage.visitors import OPERATOR
from avatar_core.waiting.scheduler import PollScheduler

PART_S = 6.0
RATE = 16_000
ENGLISH = (
    "The harbour wakes before the town does. Boats knock against the pier.\n\n"
    "By eight the market is full. Children weave between the stalls.\n\n"
    "In the evening the wind turns. The lights come on along the water."
)
CHINESE = (
    "清晨的港口比小镇醒得更早。渔船轻轻碰着码头。\n\n"
    "到了八点，市场已经挤满了人。孩子们在摊位之间穿来穿去。\n\n"
    "傍晚时分，风向变了。岸边的灯一盏接一盏亮起来。"
)


def _studio(simulator, fake_time, data_dir, **limits) -> Studio:
    settings = Settings(
        api_key=Secret("test-key"), base_url=simulator.base_url, data_dir=data_dir, **limits
    )
    profile = dataclasses.replace(
        cometapi_profile(simulator.base_url, "test-key"), max_part_seconds=PART_S
    )
    return Studio(
        settings,
        client=ProviderClient(simulator.base_url, "test-key", profile=profile, clock=fake_time),
        scheduler=PollScheduler(clock=fake_time),
        clock=fake_time,
    )


@pytest.fixture
def small_videos(simulator):
    simulator.options.render_max_side = 48  # the join does not care how large
    return simulator


def _made_whole(studio: Studio, portrait, speech: TextSpeech, simulator, into) -> SpeechDone:
    """The text made in one call; checks one speech request and one create a group, and
    the joined video's sound against the groups' speech (kept before the join)."""
    kept: dict[str, object] = {}

    async def going():
        last = None
        async for last in make_video(studio, portrait, text=speech, prompt="Speak."):  # noqa: B007
            folder = next((studio.settings.data_dir / "long_speeches").glob("[0-9a-f]*"), None)
            plan = folder / "plan.json" if folder is not None else None
            if plan and plan.is_file() and "plan" not in kept:
                written = json.loads(plan.read_text())
                if written["speech"]:  # every group spoken: the speech as sent is there
                    kept["plan"] = written
                    kept["speech"] = decode(folder / written["speech"], rate=RATE)
        return last

    done = asyncio.run(going())
    groups = text_groups(studio, speech)
    assert isinstance(done, SpeechDone) and done.video_path.is_file()
    assert len(groups) >= 3
    assert simulator.stats.tts == len(groups) == simulator.stats.creates  # one of each a group
    plan = kept["plan"]
    assert [part["text"] for part in plan["parts"]] == groups  # the parts follow the groups
    key = plan["request"] and done.video_path.stem.removeprefix("speech-")
    for number, part in enumerate(plan["parts"], start=1):
        job = studio.journal.batch_job(part_key(key, number))
        assert job is not None and job.stage is Stage.DONE and job.audio_kind == "audio_id"
        assert job.audio_seconds == pytest.approx(part["end"] - part["start"], abs=0.1)
        assert job.audio_seconds <= PART_S
    sent = kept["speech"]
    heard = decode(done.video_path, rate=RATE)
    assert abs(probe_video(done.video_path).seconds - len(sent) / RATE) <= 1 / 25
    n = min(len(heard), len(sent))
    assert np.corrcoef(heard[:n], sent[:n])[0, 1] > 0.99  # the groups' speech, whole
    return done


def test_an_english_text_of_several_paragraphs_becomes_one_video_in_one_call(
    small_videos, fake_time, tmp_path, portrait_path
):
    studio = _studio(small_videos, fake_time, tmp_path / "data")
    speech = TextSpeech(ENGLISH, "genshin_vindi2", "en")
    done = _made_whole(studio, portrait_path, speech, small_videos, tmp_path)
    groups = text_groups(studio, speech)
    assert all(group.rstrip().endswith(".") for group in groups)  # cut between sentences
    assert "seams are at" in done.message
    again = final(make_video(studio, portrait_path, text=speech, prompt="Speak."))
    assert again.video_path == done.video_path  # made before: nothing paid again
    assert small_videos.stats.tts == small_videos.stats.creates == len(groups)
    (entry,) = studio.history()  # one entry for the speech, not one a part
    assert isinstance(entry, SpeechEntry) and entry.stage is Stage.DONE
    assert entry.video_path == str(done.video_path) and entry.count == len(groups)
    assert entry.note.in_language("zh") == f"由 {len(groups)} 段组成的一个视频"
    assert studio.job_of(OPERATOR, entry.job_id) == entry


def test_a_chinese_text_of_several_paragraphs_becomes_one_video_in_one_call(
    small_videos, fake_time, tmp_path, portrait_path
):
    studio = _studio(small_videos, fake_time, tmp_path / "data")
    speech = TextSpeech(CHINESE, "genshin_vindi2", "zh")
    _made_whole(studio, portrait_path, speech, small_videos, tmp_path)
    groups = text_groups(studio, speech)
    assert all(group.rstrip()[-1] in "。！？" for group in groups)


def test_a_short_text_is_still_one_speech_and_one_job(
    small_videos, fake_time, tmp_path, portrait_path
):
    studio = _studio(small_videos, fake_time, tmp_path / "data")
    speech = TextSpeech("Hello there, this is a short text for one video.", "genshin_vindi2")
    done = final(make_video(studio, portrait_path, text=speech))
    assert not isinstance(done, SpeechDone) and done.video_path.is_file()
    assert small_videos.stats.tts == small_videos.stats.creates == 1
    assert done.job.audio_kind == "audio_id" and done.job.batch_key is None


def test_a_text_past_a_visitors_cap_is_refused_before_any_paid_speech(
    small_videos, fake_time, tmp_path, portrait_path
):
    studio = _studio(small_videos, fake_time, tmp_path / "data", max_daily_per_visitor=4)
    visitor = studio.visitor("browser-id-of-visitor-t")
    speech = TextSpeech(ENGLISH, "genshin_vindi2", "en")
    with pytest.raises(e.LimitReachedError) as refused:
        final(make_video(studio, portrait_path, text=speech, visitor=visitor))
    said = str(refused.value)
    assert "spoken in 3 parts" in said and "4 are left today" in said, said
    assert "nothing was sent or charged" in said
    assert small_videos.stats.tts == 0 and small_videos.stats.creates == 0
    assert studio.allowance(visitor).left == 4

    small = tmp_path / "small.png"
    small.write_bytes(image_bytes(200, 200))
    with pytest.raises(e.InputError, match="200×200"):  # a portrait that would be refused
        final(make_video(studio, small, text=speech, visitor=visitor))
    assert small_videos.stats.tts == 0 and small_videos.stats.creates == 0

    seconds = _studio(small_videos, fake_time, tmp_path / "data2", max_daily_video_seconds=10)
    with pytest.raises(e.LimitReachedError, match="voice lasts"):
        final(make_video(seconds, portrait_path, text=speech, visitor=seconds.visitor("b" * 24)))
    assert small_videos.stats.tts == 0 and small_videos.stats.creates == 0


def test_a_rerun_after_a_crash_between_groups_pays_for_no_group_twice(
    small_videos, fake_time, tmp_path, portrait_path
):
    """A visitor's text, stopped once two groups were spoken: the rerun pays for the third
    only, and the day counts each speech and each part once (3 + 3 of 6)."""
    limits = {"max_daily_per_visitor": 6, "max_daily_video_seconds": 60}
    studio = _studio(small_videos, fake_time, tmp_path / "data", **limits)
    visitor = studio.visitor("browser-id-of-visitor-r")
    speech = TextSpeech(ENGLISH, "genshin_vindi2", "en")

    async def until_two_spoken() -> None:
        flow = LongTextRun(studio, portrait_path, speech, visitor=visitor).run()
        async for event in flow:
            if isinstance(event, Preparing) and "Speaking part 3" in str(event.message):
                break  # as a process stopped there: two groups spoken and kept
        await flow.aclose()

    asyncio.run(until_two_spoken())
    assert small_videos.stats.tts == 2 and small_videos.stats.creates == 0
    assert studio.allowance(visitor).left == 4
    again = _studio(small_videos, fake_time, tmp_path / "data", **limits)
    done = final(make_video(again, portrait_path, text=speech, visitor=visitor))
    groups = text_groups(again, speech)
    assert isinstance(done, SpeechDone) and len(groups) == 3
    assert small_videos.stats.tts == len(groups) == small_videos.stats.creates  # none twice
    assert again.allowance(visitor).left == 0


def test_the_history_shows_a_speech_whose_part_failed_as_one_entry_saying_which(
    small_videos, fake_time, tmp_path, portrait_path
):
    studio = _studio(small_videos, fake_time, tmp_path / "data")
    visitor = studio.visitor("browser-id-of-visitor-h")
    small_videos.plan_task("fail", times=1)  # the first part's task fails
    speech = TextSpeech(ENGLISH, "genshin_vindi2", "en")
    with pytest.raises(e.AvatarError, match="did not give a video"):
        final(make_video(studio, portrait_path, text=speech, visitor=visitor))
    (entry,) = studio.history(visitor)
    assert entry.stage is Stage.FAILED and entry.video_path is None
    said = str(entry.error)
    assert re.match(r"part [123] of 3 failed: .*simulated failure", said), said
    assert entry.ready == 2 and entry.count == 3
    assert studio.history(studio.visitor("browser-id-of-another")) == []
    assert studio.job_of(studio.visitor("browser-id-of-another"), entry.job_id) is None
    assert small_videos.stats.creates == 3
    assert len(studio.journal.recent(10)) == 3  # the journal keeps each part's job


def test_resume_finishes_a_text_stopped_after_two_parts_and_prints_each_part_and_the_whole(
    small_videos, fake_time, tmp_path, portrait_path, monkeypatch
):
    import argparse
    import io

    from avatar_core.cli import jobs as cli_jobs
    from avatar_core.jobs.events import Submitted
    from avatar_core.jobs.speech_resume import speech_status

    studio = _studio(small_videos, fake_time, tmp_path / "data")
    run = LongTextRun(studio, portrait_path, TextSpeech(ENGLISH, "genshin_vindi2", "en"))

    async def until_two_sent() -> None:
        flow = run.run()
        sent = 0
        async for event in flow:
            sent += isinstance(event, Submitted)
            if sent == 2:
                break
        await flow.aclose()  # as a process stopped there

    asyncio.run(until_two_sent())
    assert small_videos.stats.tts == 3 and small_videos.stats.creates >= 2
    said = [str(line) for line in speech_status(studio, run.key)]
    assert re.fullmatch(rf"Speech {run.key}: [012] of 3 parts ready\.", said[0]), said

    def again(err, language="en"):
        return _studio(small_videos, fake_time, tmp_path / "data")

    monkeypatch.setattr(cli_jobs, "cli_studio", again)
    out, err = io.StringIO(), io.StringIO()
    code = cli_jobs.run_resume(argparse.Namespace(timeout=None, language="en"), out, err)
    assert code == 0, err.getvalue()
    printed = out.getvalue().split()
    assert len(printed) == 4 and len(set(printed)) == 4, printed  # 3 parts, then the whole
    assert printed[-1] == str(run.out) and run.out.is_file()
    assert all(path.endswith(".mp4") for path in printed)
    assert small_videos.stats.tts == 3 and small_videos.stats.creates == 3  # none twice


def test_generate_tts_text_makes_a_long_text_into_one_video(
    small_videos, fake_time, tmp_path, portrait_path, monkeypatch
):
    import io

    from avatar_core.cli import jobs as cli_jobs
    from avatar_core.cli.main import main

    def studio(err, language="en"):
        return _studio(small_videos, fake_time, tmp_path / "data")

    monkeypatch.setattr(cli_jobs, "cli_studio", studio)
    out, err = io.StringIO(), io.StringIO()
    asked = ["generate", "--image", str(portrait_path), "--tts-text", CHINESE,
             "--voice-id", "genshin_vindi2", "--voice-language", "zh"]  # fmt: skip
    code = main(asked, out=out, err=err)
    assert code == 0, err.getvalue()
    video = out.getvalue().strip()
    assert video.endswith(".mp4") and "/speech-" in video
    said = err.getvalue()
    assert "parts that follow its sentences" in said and "Speaking part 2 of" in said
    assert small_videos.stats.tts == small_videos.stats.creates >= 3


def test_a_group_whose_speech_is_longer_than_a_part_is_refused_and_not_paid_again(
    small_videos, fake_time, tmp_path, portrait_path
):
    """The estimate counts letters; the simulator's voice also takes its time over commas
    and spaces: a group of 40 one-letter words is expected to speak for 3 s and speaks
    for 8.6 s, longer than a part. It is refused in one sentence before any part is sent,
    and kept: the rerun refuses it again without asking for it again; the text edited
    without it is made of the groups already spoken."""
    studio = _studio(small_videos, fake_time, tmp_path / "data")
    text = ENGLISH + "\n\n" + "a, " * 40 + "end."
    speech = TextSpeech(text, "genshin_vindi2", "en")
    count = len(text_groups(studio, speech))
    with pytest.raises(e.InputError) as refused:
        final(make_video(studio, portrait_path, text=speech))
    said = str(refused.value)
    assert f"Part {count} of {count} of the text speaks for" in said, said
    assert "a part must last 2.0 s to 6.0 s" in said and "not paid again" in said
    assert small_videos.stats.tts == count and small_videos.stats.creates == 0
    with pytest.raises(e.InputError, match=f"Part {count} of {count} of the text"):
        final(make_video(_studio(small_videos, fake_time, tmp_path / "data"), portrait_path,
                         text=speech))  # fmt: skip
    assert small_videos.stats.tts == count and small_videos.stats.creates == 0
    edited = TextSpeech(ENGLISH, "genshin_vindi2", "en")  # the long group left out
    done = final(make_video(studio, portrait_path, text=edited))
    assert isinstance(done, SpeechDone) and small_videos.stats.creates == count - 1
    assert small_videos.stats.tts == count  # the groups it kept were spoken already


def test_the_same_words_twice_in_a_text_are_spoken_once(
    small_videos, fake_time, tmp_path, portrait_path
):
    studio = _studio(small_videos, fake_time, tmp_path / "data")
    chorus = "The harbour wakes before the town does. Boats knock against the pier."
    text = (
        f"{chorus}\n\nBy eight the market is full. Children weave between the stalls.\n\n{chorus}"
    )
    run = LongTextRun(studio, portrait_path, TextSpeech(text, "genshin_vindi2", "en"))
    assert run.groups[0] == run.groups[2] != run.groups[1]

    async def until_the_parts() -> None:
        flow = run.run()
        async for event in flow:
            if not isinstance(event, Preparing):
                break  # every group spoken: the parts begin
        await flow.aclose()

    asyncio.run(until_the_parts())
    assert small_videos.stats.tts == 2
    assert run.spoken[1].audio_id == run.spoken[3].audio_id != run.spoken[2].audio_id


def _spoken_then_stopped(run: LongTextRun) -> None:
    """`run` until every group is spoken and its parts begin, then stopped (unfinished)."""

    async def until_the_parts() -> None:
        flow = run.run()
        async for event in flow:
            if not isinstance(event, Preparing):
                break
        await flow.aclose()

    asyncio.run(until_the_parts())


def test_the_retention_sweep_deletes_old_text_speech_but_not_what_an_unfinished_one_needs(
    small_videos, fake_time, tmp_path, portrait_path
):
    """The speech files and the texts' group records follow AVATAR_KEEP_DAYS' age rule;
    an unfinished speech's records and audio (its plan lists them) stay whatever their age,
    and a plan that does not list them keeps every text's files."""
    import shutil
    import time

    from avatar_core.storage.retention import DAY_S, delete_old_speech_files

    data = tmp_path / "data"
    studio = _studio(small_videos, fake_time, data)

    def files():
        return {
            p for folder in ("speech", "long_speeches/texts") for p in (data / folder).iterdir()
        }

    unfinished = LongTextRun(studio, portrait_path, TextSpeech(ENGLISH, "genshin_vindi2", "en"))
    _spoken_then_stopped(unfinished)
    needed = files()
    assert len(needed) == 2 * len(unfinished.groups)  # a record and an audio a group
    finished = LongTextRun(studio, portrait_path, TextSpeech(CHINESE, "genshin_vindi2", "zh"))
    _spoken_then_stopped(finished)
    shutil.rmtree(finished.folder)  # as its join leaves it: the video home, its plan gone
    others = files() - needed
    assert len(others) == 2 * len(finished.groups)

    def sweep(days_on: float) -> set:
        return set(delete_old_speech_files(data, 7, now=lambda: time.time() + days_on * DAY_S))

    assert sweep(6) == set() and files() == needed | others  # younger than 7 days
    plan = unfinished.folder / "plan.json"
    written = json.loads(plan.read_text())
    plan.write_text(json.dumps({k: v for k, v in written.items() if k != "keeps"}))
    assert sweep(8) == set()  # a plan that does not say what it needs keeps them all
    plan.write_text(json.dumps(written))
    assert sweep(8) == others and files() == needed  # the unfinished one's stay
    assert delete_old_speech_files(data, 0, now=lambda: time.time() + 1e9) == []  # for ever
    shutil.rmtree(unfinished.folder)
    assert sweep(8) == needed and files() == set()
