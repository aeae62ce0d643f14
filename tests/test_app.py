"""The real Gradio app, launched on a free port and driven with gradio_client.

The app and the simulator share a fake clock, so tasks finish without anyone waiting.
"""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import httpx
import pytest
from app_harness import InProcessApp, generate, make_studio
from fake_clock import FakeClock
from gradio_client import Client
from gradio_client.exceptions import AppError
from media import audio_bytes, image_bytes

from avatar_core.config import Settings
from avatar_core.demo import DEMO_NOTICE
from avatar_core.inputs.ffmpeg import ffmpeg_exe
from avatar_core.jobs.studio import open_studio
from avatar_core.provider.client import AvatarRequest, ProviderClient
from avatar_core.provider.voices import DEFAULT_VOICE
from avatar_core.simulator import Simulator


@pytest.fixture(scope="module")
def shared_time() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def sim(shared_time, tmp_path_factory):
    with Simulator(
        task_seconds=20, clock=shared_time.now, work_dir=tmp_path_factory.mktemp("sim")
    ) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def running(sim, shared_time, data_dir):
    app = InProcessApp(make_studio(sim, shared_time, data_dir))
    yield app
    app.close()


@pytest.fixture
def fresh_sim(sim):
    sim.reset()
    return sim


def _mp4_seconds(path: str) -> float:
    probe = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", path, "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    return Path(path).stat().st_size


def test_generate_returns_the_finished_video(running, fresh_sim, portrait_path, speech_path):
    video = generate(running.client(), portrait_path, speech_path, "Wave hello", "pro")
    assert Path(video).suffix == ".mp4"
    assert _mp4_seconds(video) > 1000
    assert fresh_sim.stats.creates == 1


def _inputs_with(bad: str, folder: Path, portrait: Path, speech: Path) -> tuple[Path, Path]:
    """The example's portrait and speech, one of them replaced by a `bad` one."""
    if bad == "small photo":
        small = folder / "small.png"
        small.write_bytes(image_bytes(200, 400))
        return small, speech
    voice = folder / ("short.wav" if bad == "short clip" else "voice.mp3")
    voice.write_bytes(audio_bytes(1.2) if bad == "short clip" else b"definitely not audio" * 50)
    return portrait, voice


@pytest.mark.parametrize(
    ("bad", "sentence"),
    [
        ("short clip", ("1.2 s", "at least 2 s")),
        ("small photo", ("200", "300")),
        ("not audio", ("audio",)),
    ],
)
def test_a_bad_input_gets_its_sentence_and_costs_nothing(
    running, fresh_sim, portrait_path, speech_path, tmp_path, bad, sentence
):
    image, audio = _inputs_with(bad, tmp_path, portrait_path, speech_path)
    with pytest.raises(AppError) as caught:
        generate(running.client(), image, audio)
    for words in sentence:
        assert words in str(caught.value).lower()
    assert fresh_sim.stats.creates == 0


def test_a_program_that_asks_for_chinese_gets_the_sentence_in_chinese(
    running, fresh_sim, portrait_path, speech_path, tmp_path
):
    image, audio = _inputs_with("short clip", tmp_path, portrait_path, speech_path)
    chinese = Client(running.url, verbose=False, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    with pytest.raises(AppError) as caught:
        generate(chinese, image, audio)
    assert "视频生成服务至少需要 2 秒的声音" in str(caught.value)
    assert fresh_sim.stats.creates == 0


def test_a_failed_task_shows_the_providers_reason(running, fresh_sim, portrait_path, speech_path):
    fresh_sim.plan_task(outcome="fail", reason="The face is covered")
    with pytest.raises(AppError) as caught:
        generate(running.client(), portrait_path, speech_path)
    assert "The face is covered" in str(caught.value)


def test_a_key_pasted_in_one_session_stays_in_that_session(
    running, fresh_sim, portrait_path, speech_path
):
    fresh_sim.set_key_state("empty-wallet", "no_credit")
    mine, theirs = running.client(), running.client()
    mine.predict("empty-wallet", api_name="/use_key")
    with pytest.raises(AppError) as caught:
        generate(mine, portrait_path, speech_path)
    assert "balance is used up" in str(caught.value)
    assert "empty-wallet" not in str(caught.value)
    assert Path(generate(theirs, portrait_path, speech_path)).is_file()


def test_history_survives_a_restart(
    running, fresh_sim, sim, shared_time, data_dir, portrait_path, speech_path
):
    visitor = running.client()
    generate(visitor, portrait_path, speech_path)
    before = visitor.predict(api_name="/history")
    restarted = InProcessApp(make_studio(sim, shared_time, data_dir))
    try:
        again = restarted.client()
        again.session_hash = visitor.session_hash  # the same API session, after the restart
        after = again.predict(api_name="/history")
    finally:
        restarted.close()
    assert [row[-1] for row in after["data"]] == [row[-1] for row in before["data"]]
    assert any(row[1] == "done" for row in after["data"])


def test_lookup_by_task_id_brings_the_video_home(
    fresh_sim, shared_time, data_dir, portrait_path, speech_path
):
    """With the history shared (a private team demo), a task made by another program on
    the same account can be followed from the app; visitors of a public app cannot
    (tests/test_visitors.py)."""
    shared = InProcessApp(make_studio(fresh_sim, shared_time, data_dir, shared_history=True))
    with ProviderClient(fresh_sim.base_url, "app-key", clock=shared_time) as other:
        task = other.create_task(
            AvatarRequest(
                image=base64.b64encode(portrait_path.read_bytes()).decode(),
                sound_file=base64.b64encode(speech_path.read_bytes()).decode(),
                prompt="made elsewhere",
            )
        )
    try:
        video = shared.client().predict(task.task_id, api_name="/status")
    finally:
        shared.close()
    assert Path(video).name == f"{task.task_id}.mp4"


def test_an_unknown_task_id_is_explained(running, fresh_sim):
    with pytest.raises(AppError) as caught:
        running.client().predict("123456789", api_name="/status")
    assert "123456789" in str(caught.value)


def test_tts_takes_a_language_and_keeps_its_three_argument_form(running, fresh_sim):
    client = running.client()
    audio_id, task_id, preview, verdict = client.predict(
        "Hello there, this sentence is long enough to speak.", "genshin_vindi2", 1.0,
        api_name="/tts",
    )  # fmt: skip
    assert audio_id and task_id and Path(preview).is_file() and verdict.startswith("✅ Speech made")
    audio_id, *_ = client.predict(
        "你好，这是一段用中文说的测试语音。", "tiyuxi_xuedi", 1.0, "zh", api_name="/tts"
    )
    assert audio_id and fresh_sim.stats.tts == 2


def test_demo_mode_needs_no_key_and_says_so(tmp_path, portrait_path, speech_path):
    settings = Settings(api_key=None, data_dir=tmp_path / "demo-data", demo_task_seconds=1.0)
    demo = InProcessApp(open_studio(settings))
    try:
        page = httpx.get(demo.url.rstrip("/") + "/config", timeout=30).text
        assert DEMO_NOTICE.split(":")[0] in page
        visitor = demo.client()
        video = generate(visitor, portrait_path, speech_path)
        assert _mp4_seconds(video) > 1000
        history = visitor.predict(api_name="/history")
        assert history["data"][0][1] == "done (demo)"
    finally:
        demo.close()


def test_the_callback_route_answers_only_live_secrets(running):
    base = running.url.rstrip("/")
    unknown = httpx.post(
        base + "/kling/callback/not-a-live-secret", json={"task_status": "succeed"}
    )
    assert unknown.status_code == 404
    secret, url = running.studio.callbacks.new_url(base)
    try:
        assert httpx.post(url, json={"anything": "is ignored"}).status_code == 200
        too_big = httpx.post(url, content=b"x" * (70 * 1024))
        assert too_big.status_code == 413
    finally:
        running.studio.callbacks.retire(secret)
    assert httpx.post(url, json={}).status_code == 404


def test_a_key_the_provider_refuses_is_not_taken(running, fresh_sim, portrait_path, speech_path):
    fresh_sim.set_key_state("forbidden-key", "no_permission")
    client = running.client()
    client.predict("forbidden-key", api_name="/use_key")
    video = generate(client, portrait_path, speech_path)  # still the app's own key
    assert Path(video).is_file()


def test_tts_through_the_api_answers_in_plain_words(running, fresh_sim):
    client = running.client()
    audio_id, task_id, _, note, *_ = client.predict(
        "Hello from the programmatic side of the app.", DEFAULT_VOICE, 1.0, api_name="/tts"
    )
    assert audio_id and task_id
    assert note.startswith("✅ Speech made") and "__i18n__" not in note


def test_every_listed_endpoint_names_its_arguments_and_returns(running):
    """gradio_client's view_api reads names a person understands, not "1st", "2nd"."""
    listed = running.client().view_api(print_info=False, return_format="dict")
    endpoints = listed["named_endpoints"]
    assert [r["label"] for r in endpoints["/tts"]["returns"]] == [
        "audio_id", "task_id", "speech_file", "message"
    ]  # fmt: skip
    made = endpoints["/make_talking_avatar_video"]
    assert [r["label"] for r in made["returns"]][:2] == ["message", "video_url"]
    for name, endpoint in endpoints.items():
        labels = [p["label"] for p in endpoint["parameters"] + endpoint["returns"]]
        assert not any(re.fullmatch(r"\d+(st|nd|rd|th)", label) for label in labels), name


def test_a_stranger_reads_nothing_of_the_apps_traffic(
    running, fresh_sim, portrait_path, speech_path
):
    """Gradio's monitoring summary lists every event's function, how often it ran, how
    often it failed and how long it took; the app's visitors' traffic is nobody's to read."""
    generate(running.client(), portrait_path, speech_path)
    for path in ("/monitoring/summary", "/monitoring", "/gradio_api/monitoring/summary"):
        answer = httpx.get(running.url.rstrip("/") + path, timeout=30)
        assert answer.status_code in (403, 404), (path, answer.status_code)
        assert "run_make" not in answer.text and "total_requests" not in answer.text


def test_the_footer_offers_no_settings_panel_or_run_history(running):
    """Gradio's Settings panel speaks of progressive web apps and a "Screen Studio" (in
    English on the Chinese page) and its "Run history (0)" contradicts the page's History:
    a tester opened it from the footer. The footer keeps the API link and Gradio's credit."""
    config = httpx.get(running.url.rstrip("/") + "/config", timeout=30).json()
    assert config["footer_links"] == ["api", "gradio"]
