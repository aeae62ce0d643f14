"""The page's handlers, called directly: no running app, a studio on the simulator over
HTTP (a fake clock, so tasks finish without anyone waiting), real media.

What a handler returns may carry one translated text (`page_text(key)`); `translate` turns it into
what an English (or Chinese) browser shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
from app_harness import make_studio
from fake_clock import FakeClock
from media import audio_bytes, image_bytes

from avatar_core.errors import InputError
from avatar_core.jobs.pricing import PRICE_PER_SECOND, format_money
from avatar_core.provider.voices import DEFAULT_VOICE
from avatar_core.simulator import Simulator
from ui import build_app
from ui import formatting as fmt
from ui import handlers as h
from ui.history_watch import settled, still_running
from ui.sessions import Sessions
from ui.texts import EN, ZH, page_text, translate

SKIP = gr.skip()
SPEECH_TEXT = "Hello from a unit test. This sentence lasts a few seconds when spoken."


def english(text: str) -> str:
    return translate(text, "en")


def updates_of(stream: AsyncIterator[tuple[str, object, str]]) -> list[tuple[str, object, str]]:
    """Every (status, video, details) update a streaming handler yields."""

    async def collect() -> list[tuple[str, object, str]]:
        return [update async for update in stream]

    return asyncio.run(collect())


@pytest.fixture
def sessions(simulator, fake_time, tmp_path) -> Sessions:
    """The app's sessions around a studio with its own key, on the test simulator."""
    return Sessions(make_studio(simulator, fake_time, tmp_path / "data"))


@pytest.fixture
def demo_sessions(simulator, fake_time, tmp_path) -> Sessions:
    """Demo mode (no key), on the test simulator instead of the built-in one."""
    return Sessions(make_studio(simulator, fake_time, tmp_path / "demo", key=None))


@pytest.fixture
def short_clip(tmp_path) -> Path:
    clip = tmp_path / "short.wav"
    clip.write_bytes(audio_bytes(1.2))
    return clip


def page_generate(
    sessions: Sessions,
    image: str | None,
    image_url: str,
    source: str,
    audio: str | None,
    audio_url: str,
    audio_id: str,
    prior_task_id: str,
    prompt: str,
    mode: str,
    trim: bool,
    key: str | None,
    browser: str | None = None,
) -> AsyncIterator[tuple[str, object, str]]:
    """The page's Generate (`run_make`) with no typed text: its (status, video, details)."""

    async def steps() -> AsyncIterator[tuple[str, object, str]]:
        made = h.run_make(sessions, image, image_url, source, audio, audio_url, audio_id,
                          prior_task_id, "", None, None, None, prompt, mode, trim, None, key,
                          browser)  # fmt: skip
        async with contextlib.aclosing(made):
            async for status, video, details, *_ in made:
                yield status, video, details

    return steps()


def _generate(sessions: Sessions, portrait: Path, voice: Path, *, key=None, mode="std"):
    return updates_of(
        page_generate(
            sessions, str(portrait), "", "file", str(voice), "", "", "", "", mode, False, key
        )
    )


# --- verdicts ------------------------------------------------------------------------------


def test_an_acceptable_portrait_gets_a_verdict_in_plain_words(sessions, portrait_path):
    verdict = h.check_portrait(sessions, str(portrait_path), "", None)
    assert verdict == "✅ Face ready (512×512 px).", verdict  # not "JPEG …; sent as it is"


def test_a_too_small_portrait_is_refused_with_its_size_and_the_rule(sessions, tmp_path):
    small = tmp_path / "small.png"
    small.write_bytes(image_bytes(200, 400))
    verdict = h.check_portrait(sessions, str(small), "", None)
    assert verdict.startswith("❌"), verdict
    assert "200×400" in verdict and "at least 300 px" in verdict


def test_no_portrait_no_verdict(sessions):
    assert h.check_portrait(sessions, None, "   ", None) == ""


def test_a_voice_gets_its_verdict_and_its_length(sessions, speech_path):
    verdict, seconds = h.check_voice(sessions, str(speech_path), "", False, None)
    assert verdict == "✅ Voice ready (7.3 s).", verdict  # not "MP3 …, 44.1 kHz mono, …"
    assert seconds == pytest.approx(7.3, abs=0.2)


def test_a_too_short_voice_is_refused_with_its_length_and_the_rule(sessions, short_clip):
    verdict, seconds = h.check_voice(sessions, str(short_clip), "", False, None)
    assert verdict.startswith("❌"), verdict
    assert "1.2 s" in verdict and "needs at least 2 s" in verdict and "Kling" not in verdict
    assert seconds is None


CHINESE = SimpleNamespace(headers={"accept-language": "zh-CN,zh;q=0.9"}, session_hash=None)
LATIN_SECONDS = re.compile(r"\d s\b")  # "6.6 s": a Chinese page says "6.6 秒"


def test_a_chinese_page_says_seconds_in_chinese_in_the_voice_check_and_the_status(
    sessions, short_clip, portrait_path, speech_path
):
    too_short, _ = h.check_voice(sessions, str(short_clip), "", False, None, CHINESE)
    assert "1.2 秒" in too_short and "至少需要 2 秒" in too_short, too_short
    ready, _ = h.check_voice(sessions, str(speech_path), "", False, None, CHINESE)
    updates = updates_of(
        h.run_make(sessions, str(portrait_path), "", "file", str(speech_path), "", "", "", "",
                   None, None, None, "", "std", False, None, None, None, CHINESE)
    )  # fmt: skip
    shown = [ready, too_short] + [translate(str(text), "zh") for u in updates for text in u[:3:2]]
    assert any("秒" in text for text in shown[2:])  # the video's length, in Chinese
    assert not [text for text in shown if LATIN_SECONDS.search(text)]


def test_trimming_turns_a_too_long_voice_into_a_fix(sessions, tmp_path):
    long_clip = tmp_path / "long.wav"
    long_clip.write_bytes(audio_bytes(65.0, sample_rate=8000))
    in_parts, _ = h.check_voice(sessions, str(long_clip), "", False, None)
    assert in_parts.startswith("✅") and "made in 2 parts" in in_parts, in_parts  # untrimmed
    verdict, seconds = h.check_voice(sessions, str(long_clip), "", True, None)
    assert verdict.startswith("✅"), verdict
    assert "\n- 🔧 " in verdict  # the trim is listed as a change
    assert seconds is not None and seconds <= 60.0


def test_every_problem_of_an_input_gets_its_own_paragraph():
    error = InputError("both", problems=["The photo is too small.", "The clip is too short."])
    assert fmt.verdict_error(error) == "❌ The photo is too small.\n\n❌ The clip is too short."


# --- the cost estimate ---------------------------------------------------------------------


def test_the_cost_follows_the_checked_voice_and_the_mode(sessions, speech_path):
    _, seconds = h.check_voice(sessions, str(speech_path), "", False, None)
    assert seconds is not None
    std = english(h.show_cost(sessions, "file", seconds, None, "std"))
    assert std.startswith("💰 Estimated cost, at assumed prices:"), std
    assert format_money(seconds * PRICE_PER_SECOND["std"]) in std
    assert f"({seconds:.1f} s × " in std and std.endswith(", std)")
    pro = english(h.show_cost(sessions, "file", seconds, None, "pro"))
    assert format_money(seconds * PRICE_PER_SECOND["pro"]) in pro


def test_the_operators_prices_set_the_estimate(simulator, fake_time, tmp_path):
    studio = make_studio(simulator, fake_time, tmp_path / "data", price_std=0.5, price_pro=0.9)
    priced = Sessions(studio)
    std = english(h.show_cost(priced, "file", 10.0, None, "std"))
    assert "**≈ $5.00**" in std and "$0.50/s" in std
    assert std.startswith("💰 Estimated cost, at assumed prices:"), std
    assert "**≈ $9.00**" in english(h.show_cost(priced, "file", 10.0, None, "pro"))


def test_a_spoken_voice_is_priced_by_the_speechs_length(sessions):
    for spoken in ("tts", "audio_id"):
        assert "(3.0 s × " in h.show_cost(sessions, spoken, 7.3, 3.0, "std")
    for recorded in ("file", "url"):
        assert "(7.3 s × " in h.show_cost(sessions, recorded, 7.3, 3.0, "std")


def test_without_a_voice_the_cost_says_when_it_will_show(sessions):
    text = h.show_cost(sessions, "file", None, 3.0, "std")
    assert english(text) == EN["cost_unknown"]
    assert translate(text, "zh") == ZH["cost_unknown"]


def test_in_demo_mode_without_a_voice_the_cost_says_it_is_free(demo_sessions):
    """A tester must never read a price as a charge in demo mode, even before a voice."""
    text = h.show_cost(demo_sessions, "file", None, 3.0, "std")
    assert english(text) == EN["cost_demo_free"] and "$" not in english(text)
    assert translate(text, "zh") == ZH["cost_demo_free"]


# --- the voice source ----------------------------------------------------------------------


def test_choosing_a_voice_source_shows_its_group_only():
    for chosen in h.VOICE_SOURCES:
        shown = [update["visible"] for update in h.show_voice_source(chosen)]
        assert shown[: len(h.VOICE_SOURCES)] == [source == chosen for source in h.VOICE_SOURCES]


def test_the_voice_files_verdict_shows_only_while_a_file_is_the_voice():
    assert h.show_file_verdict("file")["visible"] is True
    assert h.show_file_verdict("tts")["visible"] is False


@pytest.fixture(scope="module")
def default_page(tmp_path_factory) -> dict:
    """The page's config as build_app makes it for a studio with its own key and default
    settings (built once for the tests that read it)."""
    root, fake = tmp_path_factory.mktemp("page"), FakeClock()
    with Simulator(task_seconds=20, clock=fake.now, work_dir=root / "sim") as sim:
        studio = make_studio(sim, fake, root / "data")
        try:
            return build_app(studio).get_config_file()
        finally:
            studio.close()


def test_the_prompt_counter_counts_the_prompt_the_page_opens_with(default_page):
    page = default_page
    props = {c["props"].get("elem_id"): c["props"] for c in page["components"]}
    prompt = props["prompt"]["value"]
    assert prompt and props["prompt_count"]["value"].startswith(f"{len(prompt)} / ")


def test_the_voice_source_radio_has_stable_values_and_translated_labels(default_page):
    page = default_page
    radio = next(c for c in page["components"] if c["props"].get("elem_id") == "voice_source")
    choices = radio["props"]["choices"]
    assert [value for _, value in choices] == ["file", "tts"]  # one choice: record or type
    assert radio["props"]["value"] == "file"
    labels = [translate(str(label), "en") for label, _ in choices]
    assert labels == ["Record or upload", "Type a text"]
    assert translate(str(choices[1][0]), "zh") == "输入文字"


def test_only_the_chosen_sources_boxes_count():
    boxes = ("voice.mp3", " https://example.org/v.mp3 ", " audio-1 ", " task-9 ")
    assert h.voice_choice("file", *boxes) == (Path("voice.mp3"), None, None)  # a received file
    assert h.voice_choice("url", *boxes) == ("https://example.org/v.mp3", None, None)
    for spoken in ("tts", "audio_id"):
        assert h.voice_choice(spoken, *boxes) == (None, "audio-1", "task-9")


def test_a_file_left_behind_is_not_sent_when_the_source_is_an_audio_id(
    sessions, simulator, portrait_path, speech_path
):
    updates = updates_of(
        page_generate(sessions, str(portrait_path), "", "tts", str(speech_path), "",
                       "  ", "", "", "std", False, None)
    )  # fmt: skip
    assert english(updates[-1][0]) == "❌ " + EN["need_text"], updates[-1]
    assert simulator.stats.creates == 0


def test_speech_fills_in_its_audio_id_and_a_preview_then_drives_the_avatar(
    sessions, simulator, portrait_path, speech_path
):
    audio_id, task_id, preview, verdict, seconds = h.make_speech(
        sessions, SPEECH_TEXT, DEFAULT_VOICE, 1.0, None
    )
    assert audio_id and task_id
    assert preview is not None and Path(preview).is_file()
    assert seconds is not None and seconds > 0
    assert english(verdict) == f"{EN['speech_made']} ({seconds:.1f} s)"
    assert "__i18n__" not in verdict  # /tts hands this note to programs as well: plain words

    updates = updates_of(
        page_generate(sessions, str(portrait_path), "", "tts", str(speech_path), "",
                       audio_id, task_id, "", "std", False, None)
    )  # fmt: skip
    assert updates[-1][0].startswith("✅ Done"), updates[-1]
    assert simulator.stats.creates == 1


def test_the_voice_list_shows_the_chosen_languages_voices(sessions):
    chinese = h.show_voices("zh", "oversea_male1")  # an English-only voice gives way
    assert chinese["value"] == "genshin_vindi2"
    assert ("阳光少年", "genshin_vindi2") in chinese["choices"]  # named in the language
    assert ("运动少年", "tiyuxi_xuedi") in chinese["choices"]
    assert ("元气少女 2", "guanxiaofang-v2") in chinese["choices"]  # a name given twice
    assert all(voice != "oversea_male1" for _, voice in chinese["choices"])
    assert h.show_voices("en", "genshin_vindi2")["value"] == "genshin_vindi2"  # speaks both
    english = h.show_voices("en", "tiyuxi_xuedi")
    assert english["value"] == DEFAULT_VOICE
    assert ("Anchor", "oversea_male1") in english["choices"]


def test_speech_in_chinese_is_made_with_the_chosen_language(sessions, simulator):
    audio_id, task_id, _, verdict, seconds = h.make_speech(
        sessions, "你好，这是一段用中文说的测试语音。", "genshin_vindi2", 1.0, None, "zh"
    )
    assert audio_id and task_id and seconds is not None and seconds >= 2
    assert english(verdict).startswith(EN["speech_made"])


def test_a_speech_too_long_for_an_avatar_gets_its_sentence_and_no_audio_id(sessions, simulator):
    audio_id, task_id, preview, verdict, seconds = h.make_speech(
        sessions, "Long. " * 150, DEFAULT_VOICE, 1.0, None, "en"
    )
    assert (audio_id, task_id, preview, seconds) == (SKIP, SKIP, None, None)
    assert verdict.startswith("❌ The speech lasts 64.2 s; the video maker takes 2 to 60 s"), (
        verdict
    )


def test_speech_the_provider_would_refuse_gets_its_sentence(sessions, simulator):
    audio_id, task_id, preview, verdict, seconds = h.make_speech(
        sessions, "   ", DEFAULT_VOICE, 1.0, None
    )
    assert (audio_id, task_id, preview, seconds) == (SKIP, SKIP, None, None)
    assert verdict.startswith("❌"), verdict


# --- generating, looking up, stopping -----------------------------------------------------


def test_generate_streams_its_steps_and_ends_with_the_video(
    sessions, simulator, portrait_path, speech_path
):
    updates = _generate(sessions, portrait_path, speech_path)
    statuses = [status for status, _, _ in updates]
    assert statuses[0].startswith("⏳"), statuses
    assert statuses[-1].startswith("✅ Done"), statuses
    _, video, details = updates[-1]
    assert Path(str(video)).suffix == ".mp4" and Path(str(video)).is_file()
    assert "**Reference number:**" in details and "this app's own" not in details  # unsent only
    waits = [english(status) for status in statuses if "elapsed" in english(status)]
    assert waits and all(re.search(r"(waiting for its turn|Making your video)…", w) for w in waits)
    assert not any("Queued at the provider" in english(status) for status in statuses)
    assert all(video == SKIP for _, video, _ in updates[:-1])
    assert simulator.stats.creates == 1


def test_a_job_waiting_in_line_shows_its_place_and_the_wait_in_both_languages(
    simulator, fake_time, tmp_path, portrait_path, speech_path
):
    studio = make_studio(simulator, fake_time, tmp_path / "data", max_running_tasks=1)
    sessions = Sessions(studio)

    async def scenario() -> str:
        first = studio.generate(portrait_path, speech_path)  # takes the one task at once
        async for progress in first:
            if progress.task is not None:
                break
        page = page_generate(
            sessions, str(portrait_path), "", "file", str(speech_path), "", "", "", "", "std",
            False, None,
        )  # fmt: skip
        try:
            async for status, video, _ in page:
                if "in_line" in status:
                    assert video == SKIP
                    return status
        finally:
            await page.aclose()  # Stop
            await first.aclose()
        raise AssertionError("the second job never showed its place in line")

    status = asyncio.run(scenario())
    assert re.fullmatch(
        r"⏳ In line for the provider .*, place \*\*1\*\* · ≈ \d+ min", english(status)
    )
    assert f"{ZH['in_line']} **1** · ≈" in translate(status, "zh")
    assert simulator.stats.creates == 1  # the one in line was never sent


def test_generate_without_a_portrait_says_what_to_add(sessions, speech_path):
    updates = updates_of(
        page_generate(sessions, None, " ", "file", str(speech_path), "", "", "", "", "std",
                       False, None)
    )  # fmt: skip
    assert updates == [(updates[0][0], None, "")]
    assert english(updates[0][0]) == "❌ " + EN["need_portrait"]


def test_a_failed_task_shows_the_providers_reason(sessions, simulator, portrait_path, speech_path):
    simulator.plan_task(outcome="fail", reason="The face is covered")
    status, _, _ = _generate(sessions, portrait_path, speech_path)[-1]
    assert status.startswith("❌") and "The face is covered" in status


HOSTILE_REASON = (
    "Refused <img src=x onerror=alert(1)> \x1b[31mred\x1b[0m\x1b]0;title\x07 "
    "![seen](http://tracker.example/p.png) \u202eevil"
)


def test_the_providers_failure_text_is_shown_as_text(
    sessions, simulator, portrait_path, speech_path
):
    simulator.plan_task(outcome="fail", reason=HOSTILE_REASON)
    status, _, _ = _generate(sessions, portrait_path, speech_path)[-1]
    (row,) = h.refresh_history(sessions)
    _, picked = h.pick_history(sessions, None, row)
    for shown in (status, picked):
        assert "&lt;img src=x onerror=alert(1)&gt;" in shown and "<img" not in shown, shown
        assert "!\\[seen\\](http://tracker.example/p.png)" in shown, shown
        assert "red" in shown and "\x1b" not in shown and "title" not in shown
        assert "\u202e" not in shown


def test_lookup_needs_a_task_id_and_explains_an_unknown_one(sessions):
    assert updates_of(h.run_lookup(sessions, "  ", None)) == [
        ("❌ " + str(page_text("need_task_id")), None, "")
    ]
    status, _, _ = updates_of(h.run_lookup(sessions, "123456789", None))[-1]
    assert status.startswith("❌") and "123456789" in status


def test_stopping_says_the_task_goes_on():
    assert english(h.stopped()) == "⏹️ " + EN["stopped"]


def test_the_api_refuses_missing_or_bad_inputs_with_one_sentence(
    sessions, simulator, portrait_path, short_clip
):
    with pytest.raises(gr.Error, match="Both a portrait image and a voice recording"):
        asyncio.run(h.api_generate(sessions, str(portrait_path), None, "", "std", None))
    with pytest.raises(gr.Error, match=re.escape("1.2 s")):
        asyncio.run(h.api_generate(sessions, str(portrait_path), str(short_clip), "", "std", None))
    assert simulator.stats.creates == 0


# --- a person's own key --------------------------------------------------------------------


def test_a_pasted_key_is_used_and_said_so_in_both_languages(
    sessions, simulator, portrait_path, speech_path
):
    key, box, banner, note = h.use_key(sessions, "  sk-mine  ")
    assert (key, box, banner["visible"]) == ("sk-mine", "", False)
    assert english(note) == EN["key_used"] == "🔑 This browser session now uses your key."
    assert translate(note, "zh") == ZH["key_used"]
    simulator.set_key_state("sk-mine", "no_credit")  # the session's jobs now go to this key
    status, _, _ = _generate(sessions, portrait_path, speech_path, key="sk-mine")[-1]
    assert "balance is used up" in status and "sk-mine" not in status


def test_forgetting_the_key_brings_back_the_apps_own_or_the_demo(sessions, demo_sessions):
    key, box, banner, note = h.forget_key(sessions)
    assert (key, box, banner["visible"]) == (None, "", False)
    assert english(note) == EN["key_forgotten"] == "Key forgotten."
    assert translate(note, "zh") == ZH["key_forgotten"]
    assert h.forget_key(demo_sessions)[2]["visible"] is True  # the demo banner again
    assert h.use_key(demo_sessions, "")[:3] == (None, "", banner | {"visible": True})


def test_a_key_the_provider_refuses_is_not_taken(sessions, simulator):
    simulator.set_key_state("sk-forbidden", "no_permission")
    key, box, banner, note = h.use_key(sessions, "sk-forbidden")
    assert (key, box, banner) == (SKIP, "", SKIP)
    assert note.startswith("❌") and "sk-forbidden" not in note
    assert h.api_use_key(sessions, "sk-forbidden") == SKIP


def test_a_key_that_cannot_be_checked_just_now_is_taken_saying_so(sessions, simulator):
    simulator.inject("query", "http", times=50, status=500)  # the provider is down a while
    key, _, banner, note = h.use_key(sessions, "sk-unchecked")
    assert (key, banner["visible"]) == ("sk-unchecked", False)
    assert english(note).startswith(EN["key_used_unchecked"] + " ") and note.endswith(")")
    assert "sk-unchecked" not in note


def test_the_use_key_endpoint_gives_the_key_to_the_sessions_state_only(sessions):
    assert h.api_use_key(sessions, " sk-api ") == "sk-api"
    assert h.api_use_key(sessions, "") is None


# --- history -------------------------------------------------------------------------------


def test_history_rows_show_this_sessions_jobs_and_a_pick_brings_the_video(
    sessions, portrait_path, speech_path
):
    _generate(sessions, portrait_path, speech_path, mode="pro")
    (row,) = h.refresh_history(sessions)
    created, stage, task_id, mode, seconds, note, job_id = row
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", created)
    assert (stage, mode, note) == ("done", "pro", "")
    assert task_id and job_id and float(seconds) > 0
    video, picked = h.pick_history(sessions, None, row)
    assert video is not None and Path(video).name == f"{task_id}.mp4"
    assert re.fullmatch(r"\d\d-\d\d \d\d:\d\d · voice \d+\.\d s · done", picked), picked
    assert task_id not in picked and job_id not in picked  # no ids where a person reads


def test_another_keys_session_neither_lists_nor_picks_the_job(sessions, portrait_path, speech_path):
    _generate(sessions, portrait_path, speech_path)
    (row,) = h.refresh_history(sessions)
    assert h.refresh_history(sessions, "sk-someone-else") == []
    assert h.pick_history(sessions, "sk-someone-else", row) == (None, "")
    assert h.pick_history(sessions, None, None) == (None, "")


def test_a_failed_job_shows_its_reason_in_history(sessions, simulator, portrait_path, speech_path):
    simulator.plan_task(outcome="fail", reason="The face is covered")
    _generate(sessions, portrait_path, speech_path)
    (row,) = h.refresh_history(sessions)
    assert row[1] == "failed" and "The face is covered" in row[5]
    video, picked = h.pick_history(sessions, None, row)
    assert video is None
    assert "· failed: " in picked and "The face is covered" in picked and row[2] not in picked


def test_demo_jobs_are_marked_as_such(demo_sessions, portrait_path, speech_path):
    updates = _generate(demo_sessions, portrait_path, speech_path)
    assert "**Simulated** (demo mode)" in updates[-1][2]
    (row,) = h.refresh_history(demo_sessions)
    assert row[1] == "done (demo)"


def test_every_text_has_english_and_chinese():
    assert EN.keys() == ZH.keys()
    for key in EN:
        assert EN[key].strip() and ZH[key].strip(), key
    assert "{demo_notice}" not in EN["demo_banner"]


def _banner_visible(studio) -> bool:
    config = build_app(studio).get_config_file()
    [banner] = [c for c in config["components"] if c["props"].get("elem_id") == "storage_banner"]
    return banner["props"]["visible"]


@pytest.mark.parametrize("ephemeral", [True, False])
def test_the_page_warns_when_history_and_videos_will_not_survive_a_restart(
    simulator, fake_time, tmp_path, ephemeral
):
    studio = make_studio(simulator, fake_time, tmp_path / "data")
    studio.settings = dataclasses.replace(studio.settings, data_is_ephemeral=ephemeral)
    assert _banner_visible(studio) is ephemeral
    assert "lost at its next restart" in EN["storage_ephemeral"]
    assert "重启" in ZH["storage_ephemeral"]


# --- visitors -------------------------------------------------------------------------------

VISITOR_A, VISITOR_B = "a" * 32, "b" * 32  # ids as a browser keeps them


def test_each_visitor_lists_and_picks_its_own_jobs_only(sessions, portrait_path, speech_path):
    updates_of(
        page_generate(sessions, str(portrait_path), "", "file", str(speech_path), "", "", "",
                       "", "std", False, None, VISITOR_A)
    )  # fmt: skip
    (row,) = h.refresh_history(sessions, None, VISITOR_A)
    assert h.refresh_history(sessions, None, VISITOR_B) == []
    assert h.pick_history(sessions, None, row, VISITOR_B) == (None, "")
    video, _ = h.pick_history(sessions, None, row, VISITOR_A)
    assert video is not None and Path(video).name == f"{row[2]}.mp4"
    assert Path(video).parent.name.startswith("shown-")  # a copy, not the data folder's file
    status, video, _ = updates_of(h.run_lookup(sessions, row[2], None, VISITOR_B))[-1]
    assert "is not one of your jobs" in status and video == SKIP


def test_the_page_shows_what_is_left_today(
    simulator, fake_time, tmp_path, portrait_path, speech_path
):
    limited = Sessions(make_studio(simulator, fake_time, tmp_path / "d", max_daily_per_visitor=3))
    left = english(h.show_allowance(limited, None, VISITOR_A))
    assert left == f"{EN['allowance_left']} **3 / 3** {EN['allowance_counts']}"  # count first
    chinese = h.show_allowance(limited, None, VISITOR_A, CHINESE)
    assert chinese == f"{ZH['allowance_left']} **3 / 3** {ZH['allowance_counts']}"
    _generate(limited, portrait_path, speech_path)  # another visitor (the local one)
    h.make_speech(limited, SPEECH_TEXT, DEFAULT_VOICE, 1.0, None, browser=VISITOR_A)
    assert "**2 / 3**" in english(h.show_allowance(limited, None, VISITOR_A))
    assert english(h.show_allowance(limited, "sk-own", VISITOR_A)) == EN["allowance_own_key"]


def test_no_allowance_is_shown_without_a_daily_limit_or_in_demo_mode(sessions, demo_sessions):
    assert h.show_allowance(sessions, None, VISITOR_A) == ""  # the tests' studio: no limits
    assert h.show_allowance(demo_sessions, None, VISITOR_A) == ""


def test_a_browser_without_a_plausible_id_gets_a_new_one_on_page_load(sessions):
    browser_id, state, table, _ = h.open_page(sessions, None, None)
    assert browser_id == state and len(browser_id) >= 32 and table["value"] == []
    assert h.open_page(sessions, browser_id, None)[0] == browser_id
    for odd in ("", "short", "<script>alert(1)</script>" * 3, 42, {"id": "x"}):
        assert h.open_page(sessions, odd, None)[0] not in ("", odd)


# --- pasted keys --------------------------------------------------------------------------


def test_a_refused_key_keeps_nothing(sessions, simulator):
    simulator.set_key_state("sk-refused", "no_permission")
    h.use_key(sessions, "sk-refused")
    assert (sessions.kept, sessions.made, sessions.closed) == (0, 1, 1)


def test_the_least_recently_used_key_studio_is_dropped_and_closed_once_unused(sessions):
    sessions.max_keys = 1
    with sessions.using("sk-first") as first:
        assert sessions.try_key("sk-second") is None and sessions.kept == 1
        assert not first.client.closed  # still in use by a flow
    assert first.client.closed
    with sessions.using("sk-second") as second:
        assert not second.client.closed
    assert (sessions.made, sessions.closed) == (2, 1)
    with sessions.using(None) as default, sessions.using("app-key") as same:
        assert default is same is sessions.default  # the app's own key is no pasted key


# --- the page's one press, its estimate, Stop and the History as pictures ------------------


def _make(sessions, portrait, text, *, spoken=None, voice=DEFAULT_VOICE, language="en", key=None):
    """Every update of Generate with "Type a text" (the page's one press)."""
    return updates_of(
        h.run_make(sessions, str(portrait), "", "tts", None, "", "", "", text, voice, language,
                   1.0, "", "std", False, spoken, key)
    )  # fmt: skip


def test_a_typed_text_and_one_press_make_the_speech_and_the_video(
    sessions, simulator, portrait_path
):
    updates = _make(sessions, portrait_path, SPEECH_TEXT)
    status, video, _, _, spoken, phase, _ = updates[-1]
    assert status.startswith("✅ Done") and Path(str(video)).suffix == ".mp4"
    assert (simulator.stats.tts, simulator.stats.creates, phase) == (1, 1, "done")
    made = next(update for update in updates if isinstance(update[4], h.Spoken))
    spoken = made[4]
    assert spoken.audio_id and spoken.seconds and made[3]["visible"] is True  # playable
    assert Path(made[3]["value"]).is_file()
    assert f"{spoken.seconds:.1f} s × " in english(made[6])  # priced by the speech made

    again = _make(sessions, portrait_path, f"  {SPEECH_TEXT} ", spoken=spoken)
    assert again[-1][0].startswith("✅ Done")
    assert (simulator.stats.tts, simulator.stats.creates) == (1, 2)  # the speech reused
    assert any(EN["speech_reused"] in update[0] for update in again)

    _make(sessions, portrait_path, SPEECH_TEXT + " Again.", spoken=spoken)
    assert simulator.stats.tts == 2  # another text: another speech


def test_no_speech_is_paid_for_without_a_face_or_with_a_bad_one(sessions, simulator, tmp_path):
    updates = updates_of(
        h.run_make(sessions, None, "", "tts", None, "", "", "", SPEECH_TEXT, DEFAULT_VOICE,
                   "en", 1.0, "", "std", False, None, None)
    )  # fmt: skip
    assert english(updates[-1][0]) == "❌ " + EN["need_portrait"]
    small = tmp_path / "small.png"
    small.write_bytes(image_bytes(200, 200))
    status = _make(sessions, small, SPEECH_TEXT)[-1][0]
    assert status.startswith("❌") and "200×200" in status
    assert english(_make(sessions, small, "   ")[-1][0]) == "❌ " + EN["need_text"]
    assert (simulator.stats.tts, simulator.stats.creates) == (0, 0)


def test_demo_mode_shows_what_a_key_would_cost_and_charges_nothing(demo_sessions, sessions):
    demo = english(h.show_cost(demo_sessions, "file", 10.0, None, "std"))
    assert demo.startswith(EN["cost_demo"]) and demo.endswith("$0.56)")
    assert "Estimated" not in demo
    assert "Estimated cost" in english(h.show_cost(demo_sessions, "file", 10.0, None, "std",
                                                   key="sk-own"))  # fmt: skip
    guessed = english(h.show_cost(sessions, "tts", None, None, "std", "a" * 140, "en"))
    assert "≈ 10 s" in guessed and EN["cost_speech_extra"] in guessed  # the speech on top


def test_stop_says_what_is_true_at_that_moment(sessions):
    for phase, key in h.STOP_SENTENCES.items():
        status, stop, generate, history = asyncio.run(h.stopped_at(sessions, phase))
        assert english(status) == "⏹️ " + EN[key]
        assert (stop["visible"], generate["interactive"]) == (False, True)
        # where the video will appear in History: History opened, the sentence links to it
        linked = "[History](#history_panel)" in EN[key]
        assert linked is (key in ("stopped", "stopped_sending"))
        assert "[历史记录](#history_panel)" in ZH[key] if linked else "#history" not in ZH[key]
        assert history == ({"__type__": "update", "open": True} if linked else SKIP)
    assert "nothing is charged" in EN["stopped_in_line"]
    assert "will appear in [History](#history_panel)" in EN["stopped"]
    unknown = english(asyncio.run(h.stopped_at(sessions, None))[0])  # true however far it got
    assert unknown == "⏹️ " + EN["stopped_sending"]


def test_after_stop_the_stopped_generate_shows_nothing_but_stops_sentence(
    sessions, simulator, portrait_path, speech_path
):
    """Gradio hands the page a stream's updates in order, and when a stream ends it sends
    its last update once more; Stop's answer is another event's, which can reach the page
    before or after that end (a late "Making your video…" replaced "Stopped waiting" under
    load, both ways). Here the page is played by hand: each update the stream yields is
    "sent", then the stream is asked for the next, as Gradio does; Stop is pressed while an
    update is on its way and Gradio's cancel comes late (the stream is asked again and ends
    by itself). Whatever the page receives after the press says Stop's sentence."""

    async def press_stop_while_an_update_is_on_its_way() -> list[str]:
        shown: list[str] = []
        made = h.run_make(sessions, str(portrait_path), "", "file", str(speech_path), "", "", "",
                          "", None, None, None, "", "std", False, None, None)  # fmt: skip
        async for status, *_ in made:
            shown.append(english(status))
            if "elapsed" in shown[-1]:
                break  # "Making your video… 0:01 elapsed" sent; the stream not asked again yet

        async def stop() -> None:
            status, *_ = await h.stopped_at(sessions, "sent")
            shown.append(english(status))

        pressed = asyncio.create_task(stop())
        await asyncio.sleep(0)  # Stop's handler runs up to its wait
        shown.append("(asked for the next update)")
        last = shown[-2]
        async for status, *_ in made:
            shown.append(last := english(status))
        shown.append(last)  # the stream's end: Gradio sends its last update once more
        await pressed
        return shown

    shown = asyncio.run(press_stop_while_an_update_is_on_its_way())

    asked = shown.index("(asked for the next update)")
    assert "elapsed" in shown[asked - 1]
    assert shown[asked + 1 :] == ["⏹️ " + EN["stopped"]] * 3  # the stream's last word, its
    # end, Stop's own answer: nothing else, in whatever order they reach the page
    assert simulator.stats.creates == 1


def test_a_generate_is_running_in_its_tab_until_its_stream_ends(
    sessions, portrait_path, speech_path
):
    async def run() -> tuple[bool, bool]:
        made = h.run_make(sessions, str(portrait_path), "", "file", str(speech_path), "", "", "",
                          "", None, None, None, "", "std", False, None, None)  # fmt: skip
        await anext(made)
        during = sessions.runs.running(None)
        _ = [update async for update in made]
        return during, sessions.runs.running(None)

    assert asyncio.run(run()) == (True, False)


def test_a_job_stopped_on_the_page_shows_finished_once_the_provider_finished_it(
    sessions, simulator, fake_time, portrait_path, speech_path
):
    async def stop_while_it_runs() -> None:
        page = page_generate(sessions, str(portrait_path), "", "file", str(speech_path), "",
                              "", "", "", "std", False, None)  # fmt: skip
        async for status, _, _ in page:
            if "elapsed" in english(status):
                break
        await page.aclose()  # Stop

    asyncio.run(stop_while_it_runs())
    (row,) = h.refresh_history(sessions)
    assert row[1] == "running"
    fake_time.advance(60)  # the provider finishes meanwhile

    items, jobs = asyncio.run(h.history_gallery(sessions))

    ((picture, caption),) = items
    assert caption.endswith("· done") and Path(picture).suffix == ".jpg"
    assert jobs == [row[-1]]
    video, note = h.pick_history(sessions, None, jobs)
    assert video is not None and "done" in note


def _leave_while_it_runs(sessions: Sessions, portrait_path: Path, speech_path: Path) -> None:
    """Generate on the page, and the page's stream closed once the task runs (a reload,
    a closed tab)."""

    async def leave() -> None:
        page = page_generate(sessions, str(portrait_path), "", "file", str(speech_path), "",
                              "", "", "", "std", False, None)  # fmt: skip
        async for status, _, _ in page:
            if "elapsed" in english(status):
                break
        await page.aclose()

    asyncio.run(leave())


def test_after_a_reload_a_job_still_being_made_is_said_and_the_history_opened(
    sessions, simulator, fake_time, portrait_path, speech_path
):
    assert still_running(sessions) == (SKIP, SKIP)  # nothing made: nothing said

    _leave_while_it_runs(sessions, portrait_path, speech_path)  # a reload closes the stream
    status, panel = still_running(sessions)
    assert english(status) == "⏳ " + EN["still_being_made"] and panel["open"] is True
    assert "History" in EN["still_being_made"] and "历史记录" in ZH["still_being_made"]
    assert settled(sessions, status) == SKIP  # still being made: the sentence is true
    fake_time.advance(60)  # made meanwhile; the History asks
    asyncio.run(h.history_gallery(sessions))
    assert still_running(sessions) == (SKIP, SKIP)
    # the sentence said before gives way, in the reader's language as the browser sent it
    for said in (status, "⏳ " + ZH["still_being_made"]):
        assert english(settled(sessions, said)) == "✅ " + EN["made_in_history"]
    assert settled(sessions, "⏹️ Stopped waiting.") == SKIP  # another status stays


def test_after_a_reload_a_job_said_coming_that_failed_is_not_said_ready(
    sessions, simulator, fake_time, portrait_path, speech_path
):
    # the reload's check reads the journal before the History asks the provider: a job it
    # said was coming may turn out failed
    simulator.plan_task(outcome="fail", reason="The face is covered")

    _leave_while_it_runs(sessions, portrait_path, speech_path)
    status, _ = still_running(sessions)
    fake_time.advance(60)
    asyncio.run(h.history_gallery(sessions))
    for language, words in (("en", EN), ("zh", ZH)):
        said = translate(settled(sessions, status), language)
        assert said == "❌ " + words["failed_in_history"], said


def test_a_failed_job_shows_its_sentence_under_its_picture(
    sessions, simulator, portrait_path, speech_path
):
    simulator.plan_task(outcome="fail", reason="The face is covered")
    _generate(sessions, portrait_path, speech_path)
    ((picture, caption),), _ = asyncio.run(h.history_gallery(sessions))
    assert "failed" in caption and "The face is covered" in caption
    assert Path(picture).suffix == ".png"  # no video: a blank picture


def test_the_examples_speak_both_languages_and_fill_everything_in():
    for language in ("en", "zh"):
        rows = h.example_rows(Path("assets"), language)
        labels = h.example_labels(language)
        assert len(rows) == len(labels) >= 3
        kinds = {row[1] for row in rows}
        assert kinds == {"file", "tts"}  # a recording and a typed text
        assert all(row[4] for row in rows)  # each with its performance
        typed = next(row[3] for row in rows if row[1] == "tts")
        assert bool(re.search("[\u4e00-\u9fff]", typed)) is (language == "zh")
        # the woman astronaut's texts in a woman's voice of the language (a tester heard the
        # Chinese default, a boy's voice, with her)
        names = {voice: name for name, voice in h.voice_choices(language)}
        assert {names[row[5]] for row in rows} == {"Grace" if language == "en" else "职场女青"}


def test_the_default_prompt_asks_for_expressions_and_blinking_in_both_languages():
    assert "blinking" in EN[fmt.style_key(None)] and "眨眼" in ZH[fmt.style_key(None)]
    for style in fmt.PROMPT_STYLES:
        assert EN[f"style_{style}"] and ZH[f"style_{style}"]
        assert h.show_style(style) == EN[fmt.style_key(style)]


def test_generate_clears_the_previous_result_at_once(sessions):
    # a cold tester saw the previous video and its SIMULATED badge stay while a new one was
    # made, and took it for done
    config = build_app(sessions.default).get_config_file()
    ids = {c["props"].get("elem_id"): c["id"] for c in config["components"]}
    cleared = set()
    for event in config["dependencies"]:
        if [ids["generate"], "click"] in [list(t) for t in event["targets"]] and not event["queue"]:
            cleared.update(event["outputs"])
    wanted = {ids[name] for name in ("result", "details", "simulated_badge", "download")}
    assert wanted <= cleared, (wanted, cleared)
    assert not cleared & {ids[name] for name in ("portrait", "voice", "prompt")}
    video, details, badge = h.clear_result()
    assert (video, details, badge["visible"]) == (None, "", False)


def test_make_another_keeps_the_inputs_and_does_not_ask_for_them_again():
    # a cold tester read "Ready: add a face and a voice" beside the face and voice still there
    status, video, details, _, phase = h.make_another()
    assert translate(status) == EN["ready_again"] and "add a face" not in EN["ready_again"]
    assert translate(status, "zh") == ZH["ready_again"]
    assert (video, details, phase) == (None, "", "")


def test_the_status_says_press_generate_once_a_face_and_a_voice_are_in():
    # a cold tester clicked an example and still read "Ready: add a face and a voice"
    def said(*inputs: object) -> object:
        update = h.readiness(*inputs)
        return translate(update) if isinstance(update, str) else update

    assert said("face.jpg", "", "file", "voice.mp3", "", "", None) == EN["ready_to_generate"]
    assert said("", "https://x/face.jpg", "tts", None, "", "Hello", "") == EN["ready_to_generate"]
    assert said("face.jpg", "", "tts", "voice.mp3", "", "  ", None) == EN["ready"]  # no text
    assert said(None, "", "file", "voice.mp3", "", "", None) == EN["ready"]
    assert said("face.jpg", "", "file", "voice.mp3", "", "", "done") == SKIP  # a result stays
    assert "Generate" in EN["ready_to_generate"] and "生成" in ZH["ready_to_generate"]


def test_history_captions_tell_jobs_from_the_same_face_apart(sessions, portrait_path, speech_path):
    # a cold tester saw three tiles of the same portrait and could not tell which was which
    _make(sessions, portrait_path, SPEECH_TEXT)
    _make(sessions, portrait_path, "Good morning, everyone. This is the second video of the day.")
    _generate(sessions, portrait_path, speech_path)

    items, jobs = asyncio.run(h.history_gallery(sessions))

    captions = [caption for _, caption in items]  # newest first
    assert len(set(captions)) == 3, captions
    assert "“Good morning, everyone…”" in captions[1]
    assert "“Hello from a unit test…”" in captions[2]
    assert re.search(r"voice 7\.\d s · done$", captions[0]), captions[0]
    _, note = h.pick_history(sessions, None, [jobs[1]])
    assert "Good morning" in note
    newest = sessions.default.history(sessions.visitor(None, None))[0]
    zh = fmt.history_caption(newest, "zh")
    assert re.search(r"声音 7\.\d 秒 · 完成$", zh), zh


LONG_TEXT = (
    "The harbour wakes before the town does. Boats knock against the pier.\n\n"
    "By eight the market is full. Children weave between the stalls.\n\n"
    "In the evening the wind turns. The lights come on along the water."
)


def test_a_long_typed_text_makes_one_video_in_one_press_and_one_history_entry(
    sessions, simulator, portrait_path
):
    """A part limit of 6 s (the provider's profile): three paragraphs are spoken a group
    at a time and made in parts, joined in one press; its done sentence says its length
    and its charge as a short one's does (with the app's key: units charged); pressed
    again, nothing is paid again; the History shows the speech as one picture, its
    joined video."""
    studio = sessions.default
    studio.client.profile = dataclasses.replace(studio.client.profile, max_part_seconds=6.0)
    simulator.options.render_max_side = 48
    updates = _make(sessions, portrait_path, LONG_TEXT)
    status, video, _, _, _, phase, _ = updates[-1]
    assert [u[5] for u in updates if u[5] == "speech"]  # Stop while spoken: says so
    assert status.startswith("✅") and Path(str(video)).suffix == ".mp4", status
    assert phase == "done" and simulator.stats.tts == simulator.stats.creates == 3
    _assert_long_speech_done(studio, status, demo=False)
    again = _make(sessions, portrait_path, LONG_TEXT)[-1]
    assert again[0].startswith("✅") and simulator.stats.tts == simulator.stats.creates == 3
    items, jobs = asyncio.run(h.history_gallery(sessions))
    ((picture, caption),) = items
    assert Path(picture).suffix == ".jpg"  # the joined video's first frame
    assert jobs[0].startswith("speech-") and "one video of 3 parts" in caption, caption
    video, note = h.pick_history(sessions, None, jobs)
    assert video is not None and Path(video).suffix == ".mp4" and "3 parts" in note
    (row,) = h.refresh_history(sessions)
    assert row[-1] == jobs[0]


def test_a_long_speechs_done_sentence_says_its_length_and_its_charge_as_a_short_ones(
    demo_sessions, simulator, portrait_path
):
    """In demo mode: "simulated: nothing charged" (with a key, "units charged": checked on
    test_a_long_typed_text_makes_one_video_in_one_press_and_one_history_entry's run)."""
    # a cold tester read only "Done: your video is ready." after a long voice, where a short
    # one says "…7.3 s of video, simulated: nothing charged."
    studio = demo_sessions.default
    studio.client.profile = dataclasses.replace(studio.client.profile, max_part_seconds=6.0)
    simulator.options.render_max_side = 48
    status = _make(demo_sessions, portrait_path, LONG_TEXT)[-1][0]
    assert simulator.stats.creates == 3, status  # made in parts
    _assert_long_speech_done(studio, status, demo=True)


def _assert_long_speech_done(studio, status: str, *, demo: bool) -> None:
    """A long speech's done sentence says its length and its charge, in both languages."""
    seconds = sum(part.video_seconds or 0 for part in studio.history()[0].parts)
    facts = ", simulated: nothing charged" if demo else r", \d+ units charged"
    assert re.fullmatch(
        rf"✅ Done: your video is ready, {seconds:.1f} s of video{facts}\.", english(status)
    ), status
    zh = fmt.done_status(h.with_speech_facts(studio, _speech_done(studio)), "zh")
    assert f"视频 {seconds:.1f} 秒" in zh and (("未扣费" in zh) is demo), zh


def _speech_done(studio):
    from avatar_core.jobs.long_voice import SpeechDone

    key = studio.history()[0].job_id.removeprefix("speech-")
    return SpeechDone("", joined=None, key=key)


def test_a_reload_says_a_video_is_coming_before_the_history_brings_it_home(sessions):
    # a cold tester's stopped long voice: the reload's check ran after the History's refresh,
    # which had brought the parts home and joined them: "Ready: add a face…", History
    # closed, never "ready" (a short job, slower to be found made, was said to be coming)
    config = build_app(sessions.default).get_config_file()
    ids = {c["props"].get("elem_id"): c["id"] for c in config["components"]}
    events = config["dependencies"]
    loads = [e["id"] for e in events if any(list(t)[1] == "load" for t in e["targets"])]

    def after(event_ids: list[int]) -> list[dict]:
        return [e for e in events if e.get("trigger_after") in event_ids]

    said = [e for e in after(loads) if e["outputs"] == [ids["status"], ids["history_panel"]]]
    assert len(said) == 1, "the reload's check comes right after the page's load"
    (refresh,) = [e for e in after([said[0]["id"]]) if ids["history"] in e["outputs"]]
    assert [e for e in after([refresh["id"]]) if e["outputs"] == [ids["status"]]]  # "ready"


@pytest.mark.parametrize("kind", ["voice", "text"])
def test_a_long_speech_stopped_and_reloaded_is_said_coming_then_ready(
    sessions, simulator, fake_time, portrait_path, tmp_path, kind
):
    """Said coming, in English and in Chinese, on the reload before the History's refresh;
    said ready after it."""
    from speech_media import speech_like, write_wav

    studio = sessions.default
    studio.client.profile = dataclasses.replace(studio.client.profile, max_part_seconds=6.0)
    simulator.options.render_max_side = 48
    voice = write_wav(tmp_path / "long.wav", speech_like(14.0, lead=0.5, tail=0.5, seed=8))

    async def stop_once_its_parts_run() -> None:
        flow = h.run_make(sessions, str(portrait_path), "", "file" if kind == "voice" else "tts",
                          str(voice), "", "", "", LONG_TEXT, DEFAULT_VOICE, "en", 1.0, "", "std",
                          False, None, None)  # fmt: skip
        async for _ in flow:
            if every_part_sent():
                break
        await flow.aclose()  # Stop (or the reload closing the page's stream)

    def every_part_sent() -> bool:
        entries = studio.history()
        parts = getattr(entries[0], "parts", ()) if entries else ()
        return 0 < len(parts) == entries[0].count and all(part.task_id for part in parts)

    asyncio.run(stop_once_its_parts_run())
    assert studio.history()[0].job_id.startswith("speech-")
    status, panel = still_running(sessions)  # the reload, before the History's refresh
    for language, texts in (("en", EN), ("zh", ZH)):
        assert translate(status, language) == "⏳ " + texts["still_being_made"]
    assert panel["open"] is True
    fake_time.advance(60)  # every part ends at the provider
    asyncio.run(h.history_gallery(sessions))  # the refresh brings them home and joins them
    (entry,) = studio.history()
    assert entry.stage.value == "done", entry
    ready = settled(sessions, status)
    for language, texts in (("en", EN), ("zh", ZH)):
        assert translate(ready, language) == "✅ " + texts["made_in_history"]


def test_a_chinese_status_ends_with_one_full_stop_after_the_expected_time():
    status = "⏳ 正在制作你的视频……已用时 0:05。"
    assert (
        fmt.with_expected(status, 60.0, "zh")
        == "⏳ 正在制作你的视频……已用时 0:05 · 通常约 1 分钟。"
    )
    english_status = "⏳ Making your video… 0:05 elapsed"
    assert fmt.with_expected(english_status, 60.0) == english_status + " · usually about 1 min"
    assert fmt.with_expected(status, None, "zh") == status  # nothing known: as it was
    assert fmt.colon("zh") == "：" and fmt.colon("en") == ": "


def test_the_speechs_language_and_speed_are_offered_with_a_typed_text_only():
    assert h.show_voice_source("tts")[-1]["visible"] is True
    assert h.show_voice_source("file")[-1]["visible"] is False  # a recording has its own


def test_after_a_refused_input_the_next_input_replaces_the_error(
    sessions, speech_path, portrait_path
):
    """Generate with no voice is refused in one sentence; adding the voice then says
    "press Generate" instead of leaving the old error above the new voice's check (a cold
    tester saw both at once)."""

    async def refused() -> list[tuple]:
        made = h.run_make(sessions, str(portrait_path), "", "file", None, "", "", "", "", None,
                          None, None, "", "std", False, None, None)  # fmt: skip
        async with contextlib.aclosing(made):
            return [update async for update in made]

    *_, last = asyncio.run(refused())
    status, phase = last[0], last[5]
    assert english(status).startswith("❌ No voice was given")
    now = h.readiness(str(portrait_path), "", "file", str(speech_path), "", "", phase)
    assert isinstance(now, str), now  # a new sentence, not "keep the error"
    assert english(now) == EN["ready_to_generate"]
