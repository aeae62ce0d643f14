"""The app as an MCP server: its tools as an assistant sees them, driven by the `mcp`
package's client over streamable HTTP against the real app in demo mode."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import subprocess
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest
from app_harness import InProcessApp, make_studio
from fake_clock import FakeClock
from gradio_client.exceptions import AppError
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from media import audio_bytes, image_bytes

import app as app_module
import ui.limits as limits
import ui.mcp_tools as mcp_tools
from avatar_core.config import Settings
from avatar_core.inputs.ffmpeg import ffmpeg_exe
from avatar_core.jobs.events import Step
from avatar_core.jobs.studio import open_studio
from avatar_core.provider.retry import RetryPolicy
from avatar_core.simulator import Simulator

TOOLS = {"make_talking_avatar_video", "check_avatar_inputs", "follow_avatar_task"}
DAILY = 2  # each visitor's videos and speeches a day on the limited app's key
PER_ADDRESS = 3  # and each network address's
CALL_GUARD_S = 180  # a call that never answers fails the test rather than hang it


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """The app in demo mode, as `python app.py` runs without a key (tasks of 0.3 s)."""
    settings = Settings(
        api_key=None, data_dir=tmp_path_factory.mktemp("mcp-data"), demo_task_seconds=0.3
    )
    with warnings.catch_warnings(record=True) as started:  # what starting it warns of
        warnings.simplefilter("always")
        app = InProcessApp(open_studio(settings))
    app.warned = [str(warning.message) for warning in started]  # type: ignore[attr-defined]
    yield app
    app.close()


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """The app on its own key (a simulator on a fake clock), with a daily limit for each
    visitor: demo mode spends nothing, so no limit applies there."""
    fake, root = FakeClock(), tmp_path_factory.mktemp("mcp-limited")
    with Simulator(task_seconds=20, clock=fake.now, work_dir=root / "sim") as sim:
        studio = make_studio(
            sim, fake, root / "data", max_daily_per_visitor=DAILY, max_active_per_visitor=0,
            max_daily_per_address=PER_ADDRESS,
        )  # fmt: skip
        app = InProcessApp(studio)
        yield app
        app.close()


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    """The app on its own key without limits, on a simulator on a fake clock (each test
    that uses it resets the simulator first)."""
    fake, root = FakeClock(), tmp_path_factory.mktemp("mcp-keyed")
    with Simulator(task_seconds=20, clock=fake.now, work_dir=root / "sim") as sim:
        app = InProcessApp(make_studio(sim, fake, root / "data"))
        yield app, sim
        app.close()


def call(app: InProcessApp, tool: str, arguments: dict[str, Any]) -> tuple[bool, list[str]]:
    """One MCP session calling one tool: (whether it is an error, its texts)."""

    async def session() -> Any:
        async with (
            streamable_http_client(app.url + "gradio_api/mcp/") as (read, write, _),
            ClientSession(read, write) as client,
        ):
            await client.initialize()
            return await client.call_tool(tool, arguments)

    result = asyncio.run(asyncio.wait_for(session(), CALL_GUARD_S))
    return bool(result.isError), [item.text for item in result.content]


def uploaded(app: InProcessApp, path: Path) -> str:
    """The link Gradio's upload route (and its upload_file_to_gradio tool) gives a file."""
    with path.open("rb") as file:
        answer = httpx.post(app.url + "gradio_api/upload", files={"files": file}, timeout=30)
    return f"{app.url}gradio_api/file={answer.json()[0]}"


def jobs_made(app: InProcessApp) -> int:
    return len(app.studio.history())


@pytest.fixture(scope="module")
def made(running, portrait_path, speech_path) -> tuple[bool, list[str]]:
    """One video made through MCP from uploaded files."""
    portrait, voice = uploaded(running, portrait_path), uploaded(running, speech_path)
    return call(running, "make_talking_avatar_video", {"portrait": portrait, "voice": voice})


def test_the_schema_lists_the_tools_and_none_of_the_pages_events(running):
    schema = httpx.get(running.url + "gradio_api/mcp/schema", timeout=30).json()
    tools = {tool["name"]: tool for tool in schema}
    assert set(tools) >= TOOLS
    page_events = {"run_make", "check_portrait", "run_lookup", "use_key", "open_page",
                   "api_generate", "api_status", "refresh_history"}  # fmt: skip
    assert not set(tools) & page_events
    make = tools["make_talking_avatar_video"]
    assert "2 s or longer" in make["inputSchema"]["properties"]["voice"]["description"]
    assert "made in parts" in make["inputSchema"]["properties"]["voice"]["description"]
    assert "300 px" in make["inputSchema"]["properties"]["portrait"]["description"]
    assert make["inputSchema"]["required"] == ["portrait"]
    assert {"speech_text", "voice_id", "language", "mode", "session_code"} <= set(
        make["inputSchema"]["properties"]
    )
    assert "charges nothing" in make["description"] and "Returns:" in make["description"]
    assert "nothing is charged" in tools["check_avatar_inputs"]["description"]
    assert tools["follow_avatar_task"]["inputSchema"]["required"] == ["task_id", "session_code"]


def test_an_mcp_session_checks_inputs_without_sending_them(running, portrait_path, speech_path):
    before = jobs_made(running)
    inline = "data:image/jpeg;base64," + base64.b64encode(portrait_path.read_bytes()).decode()
    failed, (portrait, voice) = call(
        running,
        "check_avatar_inputs",
        {"portrait": inline, "voice": uploaded(running, speech_path)},
    )
    assert not failed
    assert portrait.startswith("✅") and "512×512" in portrait
    assert voice.startswith("✅")
    assert jobs_made(running) == before


def test_an_mcp_session_makes_a_video_it_can_fetch(running, made):
    failed, (message, link, task_id, code) = made
    assert not failed, message
    assert task_id in message and "Simulated" in message
    video = httpx.get(link, timeout=30)
    assert video.status_code == 200
    decoded = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "mp4", "-i", "pipe:", "-f", "null", "-"],
        input=video.content,
        capture_output=True,
        check=False,
    )
    assert decoded.returncode == 0 and len(video.content) > 1000
    again = call(running, "follow_avatar_task", {"task_id": task_id, "session_code": code})
    assert not again[0] and again[1][2] == task_id and again[1][1]


def test_another_session_cannot_follow_the_task(running, made):
    _, (_, _, task_id, code) = made
    stranger = call(
        running, "follow_avatar_task", {"task_id": task_id, "session_code": "x" * len(code)}
    )
    assert stranger[0]
    assert "not one of this session code's videos" in stranger[1][0]
    no_code = call(running, "follow_avatar_task", {"task_id": task_id, "session_code": ""})
    assert no_code[0] and "session code is needed" in no_code[1][0]


@pytest.mark.parametrize(
    ("portrait", "sentence"),
    [
        ("/etc/passwd", "is not a web address: this app reads no file on its server"),
        ("file:///etc/passwd", "is not a web address"),
        ("{app}gradio_api/file=/etc/passwd", "was not uploaded to it"),
        ("{app}gradio_api/file={upload}/../../../etc/passwd", "was not uploaded to it"),
        ("{app}gradio_api/queue/status", "a loopback address"),  # the core's URL guard
        ("{app}?x=/gradio_api/file=a", "a loopback address"),  # the route in its query only
        ("{app}gradio_api/file={upload}/" + "a" * 300, "no longer on this app"),  # too long
    ],
)
def test_a_file_on_the_server_is_refused(running, speech_path, portrait, sentence):
    from gradio.utils import get_upload_folder

    before = jobs_made(running)
    portrait = portrait.format(app=running.url, upload=get_upload_folder())
    failed, texts = call(
        running,
        "make_talking_avatar_video",
        {"portrait": portrait, "voice": uploaded(running, speech_path)},
    )
    assert failed
    assert sentence in texts[0] and "Traceback" not in texts[0]
    assert jobs_made(running) == before


def test_the_daily_limits_apply_to_mcp_calls(limited, portrait_path, speech_path):
    inputs = {"portrait": uploaded(limited, portrait_path), "voice": uploaded(limited, speech_path)}
    failed, (message, link, task_id, code) = call(limited, "make_talking_avatar_video", inputs)
    assert not failed and link and task_id, message
    for _ in range(DAILY - 1):
        assert not call(limited, "make_talking_avatar_video", {**inputs, "session_code": code})[0]
    refused, texts = call(limited, "make_talking_avatar_video", {**inputs, "session_code": code})
    assert refused and f"You have used {DAILY} of this app's {DAILY}" in texts[0]
    for _ in range(PER_ADDRESS - DAILY):  # a new session code is a new visitor...
        assert not call(limited, "make_talking_avatar_video", inputs)[0]
    refused, texts = call(limited, "make_talking_avatar_video", inputs)  # ...at one address
    assert refused and f"Your network address has used {PER_ADDRESS}" in texts[0]
    assert jobs_made(limited) == PER_ADDRESS
    followed = call(limited, "follow_avatar_task", {"task_id": task_id, "session_code": code})
    assert not followed[0] and followed[1][1].endswith(f"{task_id}.mp4")


def test_text_to_speech_makes_the_voice(running, portrait_path):
    failed, (message, link, _, _) = call(
        running,
        "make_talking_avatar_video",
        {
            "portrait": uploaded(running, portrait_path),
            "speech_text": "你好，这是一段用中文说的测试语音。",
            "voice_id": "tiyuxi_xuedi",
            "language": "zh",
        },
    )
    assert not failed, message
    assert link.endswith(".mp4")


def test_no_speech_is_paid_for_a_portrait_that_would_be_refused(keyed):
    app, sim = keyed
    sim.reset()
    tiny = "data:image/png;base64," + base64.b64encode(image_bytes(120, 120)).decode()
    spoken = {"speech_text": "Hello there, this is long enough to speak.",
              "voice_id": "genshin_vindi2", "language": "en"}  # fmt: skip
    failed, texts = call(app, "make_talking_avatar_video", {"portrait": tiny, **spoken})
    assert failed and "at least 300 px" in texts[0]
    assert sim.stats.tts == 0 and sim.stats.creates == 0


def _inline(data: bytes, kind: str) -> str:
    return f"data:{kind};base64," + base64.b64encode(data).decode()


def test_no_speech_is_paid_for_once_the_days_seconds_are_used_up(tmp_path):
    """A 2.5 s video leaves 0.5 s of a 3 s day: a call with speech_text asks the question
    the page's /tts asks (may this visitor still make the video?) before paying for it."""
    fake = FakeClock()
    with Simulator(task_seconds=20, clock=fake.now, work_dir=tmp_path / "sim") as sim:
        app = InProcessApp(make_studio(sim, fake, tmp_path / "data", max_daily_video_seconds=3))
        try:
            face = _inline(image_bytes(320, 320, fmt="JPEG"), "image/jpeg")
            voice = _inline(audio_bytes(2.5), "audio/wav")
            failed, texts = call(
                app, "make_talking_avatar_video", {"portrait": face, "voice": voice}
            )
            assert not failed, texts
            spoken = {"speech_text": "Hello there, this is long enough to speak.",
                      "voice_id": "genshin_vindi2", "language": "en"}  # fmt: skip
            answers = [call(app, "make_talking_avatar_video", {"portrait": face, **spoken})
                       for _ in range(3)]  # fmt: skip
        finally:
            app.close()
    assert sim.stats.tts == 0 and sim.stats.creates == 1, answers
    for failed, texts in answers:
        assert failed and texts[0].startswith("This app's videos for today are used up"), texts


@pytest.mark.parametrize("spelling", ["false", "0", "no", "OFF", " Off "])
def test_every_spelling_of_off_turns_the_mcp_server_off(spelling, tmp_path):
    settings = Settings.from_env({"GRADIO_MCP_SERVER": spelling, "COMETAPI_KEY": "k"})
    assert app_module.launch_options(settings)["mcp_server"] is False
    assert limits.mcp_spending_note(settings, settings.mcp_server) is None  # nothing to warn of


def test_with_the_mcp_server_off_the_tools_answer_by_no_route(tmp_path):
    fake = FakeClock()
    with Simulator(task_seconds=20, clock=fake.now, work_dir=tmp_path / "sim") as sim:
        app = InProcessApp(make_studio(sim, fake, tmp_path / "data", mcp_server=False))
        try:
            client = app.client()
            listed = client.view_api(return_format="dict", print_info=False)
            face = _inline(image_bytes(320, 320, fmt="JPEG"), "image/jpeg")
            voice = _inline(audio_bytes(2.5), "audio/wav")
            answers = {}
            for tool in sorted(TOOLS):
                with pytest.raises(ValueError, match="Cannot find a function"):
                    client.predict(face, voice, api_name=f"/{tool}")
                for route in (f"gradio_api/call/{tool}", f"gradio_api/run/{tool}"):
                    answer = httpx.post(app.url + route, json={"data": [face, voice]}, timeout=30)
                    answers[route] = answer.status_code
            answers["mcp"] = httpx.get(app.url + "gradio_api/mcp/schema", timeout=30).status_code
        finally:
            app.close()
    assert not TOOLS & {name.strip("/") for name in listed["named_endpoints"]}
    assert all(status >= 400 for status in answers.values()), answers
    assert sim.stats.creates == 0 and sim.stats.tts == 0


def test_through_gradios_api_a_tool_obeys_the_pages_limits(tmp_path):
    """One gradio_client session calling the tool as an API endpoint is one visitor, as
    on the page: one video a day, whatever session code it gives."""
    fake = FakeClock()
    with Simulator(task_seconds=20, clock=fake.now, work_dir=tmp_path / "sim") as sim:
        app = InProcessApp(make_studio(sim, fake, tmp_path / "data", max_daily_per_visitor=1))
        try:
            client = app.client()
            face = _inline(image_bytes(320, 320, fmt="JPEG"), "image/jpeg")
            voice = _inline(audio_bytes(2.5), "audio/wav")
            answers = []
            for code in ("", "", mcp_tools.new_browser_id()):
                try:
                    client.predict(portrait=face, voice=voice, session_code=code,
                                   api_name="/make_talking_avatar_video")  # fmt: skip
                    answers.append("made")
                except AppError as error:
                    answers.append(str(error))
        finally:
            app.close()
    assert answers[0] == "made" and sim.stats.creates == 1, answers
    assert all("You have used 1 of this app's 1" in answer for answer in answers[1:]), answers


def test_the_pages_speech_endpoint_relayed_by_mcp_is_refused(running):
    failed, texts = call(
        running, "make_speech", {"text": "Hello there, long enough.", "voice": "genshin_vindi2"}
    )
    assert failed and "through MCP, use make_talking_avatar_video" in texts[0]


def test_malformed_text_is_refused_naming_the_parameter(running):
    before = jobs_made(running)
    failed, texts = call(
        running,
        "make_talking_avatar_video",
        {"portrait": "https://example.com/face.jpg", "speech_text": "hi", "prompt": "a\x00b"},
    )
    assert failed
    assert texts[0].startswith('The parameter "prompt" holds a NUL character')
    assert jobs_made(running) == before


def test_starting_the_app_warns_of_no_state_input_and_tts_stays_documented(running):
    assert not [text for text in running.warned if "gr.State input" in text]
    assert (
        "/tts"
        in running.client().view_api(print_info=False, return_format="dict")["named_endpoints"]
    )


def test_calls_beyond_the_apps_concurrency_are_refused_at_once(running, portrait_path):
    inline = "data:image/jpeg;base64," + base64.b64encode(portrait_path.read_bytes()).decode()
    with contextlib.ExitStack() as held:  # every slot taken, as by that many callers
        for _ in range(limits.MCP_CALLS.limit):
            held.enter_context(limits.MCP_CALLS.call())
        for tool, arguments in (
            ("check_avatar_inputs", {"portrait": inline}),
            ("make_talking_avatar_video", {"portrait": inline, "speech_text": "Hello."}),
            ("follow_avatar_task", {"task_id": "1", "session_code": "x" * 32}),
        ):
            failed, texts = call(running, tool, arguments)
            assert failed and texts == [limits.busy_sentence()], (tool, texts)
    failed, (verdict, _) = call(running, "check_avatar_inputs", {"portrait": inline})
    assert not failed and verdict.startswith("✅")


def test_a_data_url_is_capped_at_the_pages_upload_limit(
    running, portrait_path, speech_path, monkeypatch
):
    assert app_module.launch_options(running.studio.settings)["max_file_size"] == (
        limits.MAX_UPLOAD_BYTES
    )
    size = portrait_path.stat().st_size
    monkeypatch.setattr(limits, "MAX_UPLOAD_BYTES", size - 1)  # this portrait is just over
    inline = "data:image/jpeg;base64," + base64.b64encode(portrait_path.read_bytes()).decode()
    before = jobs_made(running)
    checked, (verdict, _) = call(running, "check_avatar_inputs", {"portrait": inline})
    assert not checked and verdict.startswith("❌")
    assert "more than the" in verdict and "this app takes as an upload" in verdict
    failed, texts = call(
        running,
        "make_talking_avatar_video",
        {"portrait": inline, "voice": uploaded(running, speech_path)},
    )
    assert failed and "this app takes as an upload" in texts[0]
    assert jobs_made(running) == before


@pytest.fixture
def crowded(tmp_path, portrait_path, speech_path):
    """The app on an account that runs one task at a time, taken by another app's task
    that stays running until the test moves the simulator's clock (nothing of this app
    runs meanwhile, so nothing else moves it); the app's refused creates retry quickly."""
    fake = FakeClock()
    with Simulator(task_seconds=20, clock=fake.now, work_dir=tmp_path / "sim") as sim:
        sim.options.max_running_tasks = 1
        other = make_studio(sim, FakeClock(), tmp_path / "other")
        asyncio.run(_sent(other.generate(portrait_path, speech_path)))
        other.close()
        quick = RetryPolicy(base_delay_s=0.05, max_delay_s=0.2)
        app = InProcessApp(make_studio(sim, fake, tmp_path / "data", retry=quick))
        yield app, sim, fake
        app.close()


async def _sent(flow) -> None:
    async with contextlib.aclosing(flow):
        async for progress in flow:
            if progress.step is Step.SUBMITTED:
                return


def test_a_job_still_in_line_is_answered_by_its_id_and_goes_on(
    crowded, portrait_path, speech_path, monkeypatch
):
    app, sim, fake = crowded
    monkeypatch.setattr(mcp_tools, "WAIT_S", 0.1)  # counted from the call
    inputs = {"portrait": uploaded(app, portrait_path), "voice": uploaded(app, speech_path)}
    failed, (message, link, ref, code) = call(app, "make_talking_avatar_video", inputs)
    assert not failed and not link and ref, message
    assert f'task_id "{ref}"' in message and code in message and "follow_avatar_task" in message
    for _ in range(200):  # until it is journaled and waits in line (preparing comes first)
        failed, (message, _, job_id, _) = call(
            app, "follow_avatar_task", {"task_id": ref, "session_code": code}
        )
        assert not failed, message
        if "1st in line" in message:
            break
    assert f"Job {job_id} waits in line" in message and "1st in line" in message
    assert sim.stats.creates == 1  # only the other app's task: nothing of ours was sent
    again = call(app, "follow_avatar_task", {"task_id": job_id, "session_code": code})
    assert not again[0] and "1st in line" in again[1][0]  # the job id tells its place too
    fake.advance(100)  # the other app's task ends: the account has a free slot
    monkeypatch.setattr(mcp_tools, "WAIT_S", 60.0)
    failed, (message, link, task_id, _) = call(
        app, "follow_avatar_task", {"task_id": job_id, "session_code": code}
    )
    assert not failed and link.endswith(f"{task_id}.mp4"), message
    (job,) = app.studio.history()
    assert job.job_id == job_id and job.video_path


def test_the_operator_is_told_at_start_up_what_bounds_mcp_callers(tmp_path):
    from avatar_core.config import Secret

    keyed = Settings(api_key=Secret("k"), data_dir=tmp_path)
    note = limits.mcp_spending_note(keyed, mcp_server=True)
    assert note and "AVATAR_MAX_DAILY_PER_ADDRESS is 0 (no limit)" in note
    assert "new session code" in note and "GRADIO_MCP_SERVER=false" in note
    bounded = Settings(api_key=Secret("k"), data_dir=tmp_path, max_daily_per_address=5)
    assert "at most 5 videos a day for each network address" in (
        limits.mcp_spending_note(bounded, mcp_server=True) or ""
    )
    assert limits.mcp_spending_note(keyed, mcp_server=False) is None
    assert limits.mcp_spending_note(Settings(data_dir=tmp_path), mcp_server=True) is None  # demo
    assert Settings.from_env({}).max_daily_per_address == 0  # the documented default stays


def test_a_long_speech_text_is_made_into_one_video_in_one_call(keyed):
    """A part limit of 6 s (the provider's profile): three paragraphs are spoken a group
    at a time (a request each) and made in parts, and the call answers with the joined
    video."""
    import dataclasses

    text = (
        "The harbour wakes before the town does. Boats knock against the pier.\n\n"
        "By eight the market is full. Children weave between the stalls.\n\n"
        "In the evening the wind turns. The lights come on along the water."
    )
    app, sim = keyed
    sim.reset()
    client, side = app.studio.client, sim.options.render_max_side
    profile = client.profile
    sim.options.render_max_side = 48
    client.profile = dataclasses.replace(profile, max_part_seconds=6.0)
    try:
        face = _inline(image_bytes(320, 320, fmt="JPEG"), "image/jpeg")
        spoken = {"speech_text": text, "voice_id": "genshin_vindi2", "language": "en"}
        failed, (message, link, _, _) = call(
            app, "make_talking_avatar_video", {"portrait": face, **spoken}
        )
    finally:
        client.profile, sim.options.render_max_side = profile, side
    assert not failed, message
    assert link.endswith(".mp4") and "speech-" in link
    assert "One video of 3 parts" in message
    assert sim.stats.tts == sim.stats.creates == 3
