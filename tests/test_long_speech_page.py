"""The page's long voices, through its handlers (no browser): a voice file longer than one
task takes is checked as a long speech (its parts, the silence left out, its seconds for
the estimate: the sum of the parts') and made into one video by the one Generate press,
the parts' progress shown. A studio on the simulator over HTTP, real media made here.

The studio speaks to a gateway whose part limit is PART_S (the provider profile's
`max_part_seconds`, and the simulator's `max_audio_seconds`, so a longer part would be
refused): a 50 s voice goes in three parts of at most 20 s through the same check, split,
parts, preview and join as 150 s in three parts of 60 s, at a third of the media. The
page's long speeches at the real limit of 60 s: tests/test_long_speech_browser.py's
three-minute voice, and tests/test_join.py's."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace

import pytest
from app_harness import make_studio
from speech_media import speech_like, write_wav

from avatar_core.jobs.pricing import format_money
from avatar_core.jobs.steps import video_stored
from avatar_core.media.probe import probe_video
from avatar_core.storage.journal import Stage
from ui import formatting as fmt
from ui import handlers as h
from ui.sessions import Sessions
from ui.texts import translate

PART_S = 20.0  # the tests' gateway's part limit (the CometAPI profile's is 60 s)
SENT_S = 47.9  # the voice as sent: 50 s less 2.5 s of silent edges, 0.4 s of them kept


def _gateway_studio(simulator, fake_time, data_dir, **settings):
    """A studio on `simulator` as a gateway taking at most PART_S of audio a task."""
    simulator.options.render_max_side = 48  # the join does not care how large
    simulator.options.max_audio_seconds = PART_S  # a part over the limit would be refused
    studio = make_studio(simulator, fake_time, data_dir, **settings)
    studio.client.profile = replace(studio.client.profile, max_part_seconds=PART_S)
    return studio


@pytest.fixture
def sessions(simulator, fake_time, tmp_path) -> Sessions:
    studio = _gateway_studio(simulator, fake_time, tmp_path / "data")
    studio.inputs.web_only = True  # as the page has it (build_app): strangers type there
    return Sessions(studio)


@pytest.fixture(scope="module")
def long_voice(tmp_path_factory):
    """50 s: 1 s of silence before the speech and 1.5 s after it."""
    folder = tmp_path_factory.mktemp("voice")
    return write_wav(folder / "long.wav", speech_like(50.0, lead=1.0, tail=1.5, seed=31))


def test_a_long_voice_is_checked_as_parts_and_priced_as_their_sum(sessions, long_voice):
    studio = sessions.default
    verdict, seconds = h.voice_verdict(studio, long_voice, False)
    assert verdict.startswith("✅ The voice speaks for")
    # a tester's words: "longer than one task takes (60.0 s)" read as an engineer's (the
    # limit is this gateway's PART_S, 60 s at CometAPI)
    assert "longer than 20 s, so it will be made in 3 parts and joined into one video" in verdict
    assert "20.0" not in verdict and "one task" not in verdict
    assert "Not sending the 2.1 s of silence saves" in verdict  # its edges (0.4 s kept)
    assert seconds == pytest.approx(SENT_S, abs=0.3)  # 2.5 s of edges, 0.4 s of them kept
    cost = translate(h.show_cost(sessions, "file", seconds, None, "pro"), "en")
    assert format_money(seconds * studio.settings.prices["pro"]) in cost
    zh, _ = h.voice_verdict(studio, long_voice, False, "zh")
    assert "超过 20 秒，所以会分成 3 段制作，再拼接成一个视频" in zh


def test_one_press_makes_one_video_of_a_long_voice_with_its_parts_progress(
    sessions, simulator, portrait_path, long_voice
):
    async def press() -> list:
        flow = h.run_make(sessions, str(portrait_path), "", "file", str(long_voice), "", "",
                          "", "", None, None, None, "Speak.", "std", False, None, None)  # fmt: skip
        return [update async for update in flow]

    updates = asyncio.run(press())
    status, video = updates[-1][:2]
    assert status.startswith("✅"), status
    assert simulator.stats.creates == 3  # one task a part
    said = [translate(update[0], "en") for update in updates]
    assert any("Part 1 of 3 is ready" in line for line in said)
    assert any("3 of 3 ready" in line for line in said)
    joining = re.compile(r"⏳ Joining the 3 parts into one video… \d+:\d\d elapsed\.")
    assert any(joining.fullmatch(line) for line in said), said  # its time, as other stages
    assert probe_video(video).seconds == pytest.approx(SENT_S, abs=0.3)


def test_a_long_voice_at_a_web_address_is_made_in_parts_too(
    simulator, fake_time, tmp_path, portrait_path, long_voice
):
    from file_server import file_server

    from avatar_core.jobs.long_voice import SpeechDone
    from avatar_core.jobs.video_flow import make_video

    studio = _gateway_studio(simulator, fake_time, tmp_path / "data", allow_private_urls=True)

    async def made(url: str) -> list:
        return [event async for event in make_video(studio, portrait_path, url)]

    with file_server(long_voice.read_bytes()) as web:
        events = asyncio.run(made(web.url("/file")))
    assert isinstance(events[-1], SpeechDone) and simulator.stats.creates == 3
    assert probe_video(events[-1].video_path).seconds == pytest.approx(SENT_S, abs=0.3)
    assert not list((tmp_path / "data" / "long_speeches" / "fetched").iterdir())  # let go


def test_a_preview_first_makes_only_its_part_and_the_whole_reuses_it(
    sessions, simulator, portrait_path, long_voice
):
    """ "Try the first 10 s first": the estimate says the preview's price (at most 10 s,
    in std, whatever the mode chosen); Generate makes only the first part; Generate again
    without it, in std, makes the whole and pays for the other parts only."""
    studio = sessions.default
    _, seconds = h.voice_verdict(studio, long_voice, False)
    cost = translate(h.show_cost(sessions, "file", seconds, None, "pro", preview=True), "en")
    assert format_money(10 * studio.settings.prices["std"]) in cost and "a preview" in cost
    whole = translate(h.show_cost(sessions, "file", seconds, None, "pro"), "en")
    assert format_money(seconds * studio.settings.prices["pro"]) in whole

    async def press(preview: bool, mode: str) -> list:
        flow = h.run_make(sessions, str(portrait_path), "", "file", str(long_voice), "", "",
                          "", "", None, None, None, "Speak.", mode, False, None, None,
                          preview=preview)  # fmt: skip
        return [update async for update in flow]

    updates = asyncio.run(press(True, "pro"))  # a preview is std whatever the mode
    status, video = updates[-1][:2]
    said = [translate(update[0], "en") for update in updates]
    assert status.startswith("✅"), said
    assert simulator.stats.creates == 1
    assert any("A preview first: only the first part" in line for line in said), said
    assert 2.0 <= probe_video(video).seconds <= 10.0
    updates = asyncio.run(press(False, "std"))
    status, video = updates[-1][:2]
    assert status.startswith("✅"), status
    said = " ".join(translate(update[0], "en") for update in updates)
    (count,) = {int(n) for n in re.findall(r"Joining the (\d+) parts", said)}
    assert count == 4  # the preview's 10 s, then the rest in three parts of at most PART_S
    assert simulator.stats.creates == count  # the preview's part is not made again
    assert probe_video(video).seconds == pytest.approx(SENT_S, abs=0.3)


def test_a_speech_stopped_after_its_parts_were_sent_is_joined_by_the_history_once(
    sessions, simulator, fake_time, portrait_path, long_voice, monkeypatch
):
    """Stop (the page's flow closed) once every part is sent: the History's refresh asks
    the provider about the parts, brings their videos home and joins them, once (two
    refreshes at the same time join once), sending nothing more; the one entry is finished
    and plays the joined video."""
    from avatar_core.jobs import speech_join
    from avatar_core.jobs.long_voice import part_key
    from avatar_core.jobs.speech_history import SpeechEntry

    studio = sessions.default
    joins = []
    real_join = speech_join.join_parts

    def counted(*args, **kwargs):
        joins.append(args)
        return real_join(*args, **kwargs)

    monkeypatch.setattr(speech_join, "join_parts", counted)
    data = studio.settings.data_dir

    def every_part_sent() -> bool:
        folders = [f for f in (data / "long_speeches").glob("*") if (f / "plan.json").is_file()]
        if len(folders) != 1:
            return False
        parts = [studio.journal.batch_job(part_key(folders[0].name, n), owner=studio.owner)
                 for n in (1, 2, 3)]  # fmt: skip
        return all(job is not None and job.task_id for job in parts)

    async def press_then_stop() -> None:
        flow = h.run_make(sessions, str(portrait_path), "", "file", str(long_voice), "", "",
                          "", "", None, None, None, "Speak.", "std", False, None, None)  # fmt: skip
        async for _ in flow:
            if every_part_sent():
                break
        await flow.aclose()  # Stop: the parts go on at the provider

    asyncio.run(press_then_stop())
    (entry,) = studio.history()
    assert isinstance(entry, SpeechEntry) and entry.stage is not Stage.DONE, entry
    assert not video_stored(entry) and simulator.stats.creates == 3
    fake_time.advance(60.0)  # the simulator's tasks (20 s) end meanwhile

    async def two_refreshes() -> list:
        return await asyncio.gather(h.history_gallery(sessions), h.history_gallery(sessions))

    shown = asyncio.run(two_refreshes())
    assert all(ids == [entry.job_id] for _, ids in shown), shown  # one entry
    assert len(joins) == 1 and simulator.stats.creates == 3  # joined once, nothing sent
    (entry,) = studio.history()
    assert entry.stage is Stage.DONE and video_stored(entry), entry
    video, note = h.pick_history(sessions, None, [entry.job_id])
    assert video is not None, note
    assert probe_video(video).seconds == pytest.approx(SENT_S, abs=0.3)
    asyncio.run(h.history_gallery(sessions))
    assert len(joins) == 1  # a finished speech is not joined again


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_long_texts_history_picture_says_its_first_words_in_both_languages(
    simulator, fake_time, tmp_path, portrait_path, language
):
    # a cold tester's stopped Chinese long text was captioned with its voice's length
    from test_long_text import CHINESE, ENGLISH, _studio

    simulator.options.render_max_side = 48
    sessions = Sessions(_studio(simulator, fake_time, tmp_path / "data"))
    text = ENGLISH if language == "en" else CHINESE

    async def press() -> list:
        flow = h.run_make(sessions, str(portrait_path), "", "tts", None, "", "", "", text,
                          "genshin_vindi2", language, 1.0, "Speak.", "std", False, None,
                          None)  # fmt: skip
        return [update async for update in flow]

    updates = asyncio.run(press())
    assert translate(updates[-1][0], "en").startswith("✅"), updates[-1][0]
    assert simulator.stats.creates >= 2  # made in parts: a long text
    ((_, caption),) = asyncio.run(h.history_gallery(sessions))[0]
    assert f"“{fmt.first_words(text)}”" in caption, caption
