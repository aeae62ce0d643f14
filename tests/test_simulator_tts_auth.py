"""The simulator's TTS speaks real audio with ids a create can use, and its auth and account
states refuse calls the way the provider does (without creating anything)."""

from __future__ import annotations

import httpx
import pytest
from fake_clock import FakeClock
from simulator_support import (
    AUTH,
    AVATAR_QUERY,
    CREATE,
    TTS,
    audio_seconds,
    b64,
    image_bytes,
    tone,
)

from avatar_core.provider.voices import VOICES
from avatar_core.simulator import Simulator


@pytest.fixture
def sim(tmp_path):
    with Simulator(clock=FakeClock(), work_dir=tmp_path / "sim") as simulator:
        simulator.plan_task("stuck", times=1000)
        yield simulator


@pytest.fixture
def http(sim):
    with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=60) as client:
        yield client


def speak(http: httpx.Client, **overrides) -> httpx.Response:
    body = {"text": "Hello there.", "voice_id": "uk_man2", "voice_language": "en"}
    body.update(overrides)
    return http.post(TTS, json={k: v for k, v in body.items() if v is not None})


def spoken(answer: httpx.Response) -> dict:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["code"] == 0 and body["message"] == "SUCCEED"
    data = body["data"]
    assert data["task_status"] == "succeed"
    (audio,) = data["task_result"]["audios"]
    return audio


def refused(answer: httpx.Response, code: int, *words: str) -> None:
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["code"] == code
    for word in words:
        assert word.lower() in body["message"].lower(), body["message"]


def create_with_audio_id(http: httpx.Client, audio_id: str) -> httpx.Response:
    return http.post(
        CREATE, json={"image": b64(image_bytes()), "audio_id": audio_id, "prompt": "Talk."}
    )


# --- TTS ------------------------------------------------------------------------------------


def test_tts_returns_a_playable_mp3_as_long_as_it_says(http, sim, tmp_path):
    text = "The simulated voice reads this sentence aloud."  # 46 characters
    audio = spoken(speak(http, text=text))
    assert float(audio["duration"]) == pytest.approx(46 / 14, abs=0.1)
    assert audio["url"] == f"{http.base_url}/results/audio/{audio['id']}.mp3"
    mp3 = httpx.get(audio["url"])
    assert mp3.status_code == 200
    assert mp3.headers["content-type"] == "audio/mpeg"
    assert int(mp3.headers["content-length"]) == len(mp3.content)
    saved = tmp_path / "speech.mp3"
    saved.write_bytes(mp3.content)
    assert audio_seconds(saved) == pytest.approx(float(audio["duration"]), abs=0.1)
    assert sim.stats.tts == 1


def test_faster_speech_is_shorter_and_short_text_lasts_at_least_a_second(http):
    text = "a" * 56  # 4 s at normal speed
    assert spoken(speak(http, text=text, voice_speed=2.0))["duration"] == "2.0"
    assert spoken(speak(http, text=text, voice_speed=0.8))["duration"] == "5.0"
    assert spoken(speak(http, text="Hi"))["duration"] == "1.0"


def test_every_listed_voice_is_known_in_its_language(http):
    for voice in VOICES:
        spoken(speak(http, voice_id=voice.id, voice_language=voice.language))


def test_one_voice_speaks_chinese_and_english(http):
    english = spoken(speak(http, voice_id="genshin_vindi2", voice_language="en"))
    hello = "你好，世界。"
    chinese = spoken(speak(http, voice_id="genshin_vindi2", voice_language="zh", text=hello))
    assert english["id"] != chinese["id"]
    refused(speak(http, voice_id="oversea_male1", voice_language="zh"), 1201, "Voice id not found")
    refused(speak(http, voice_id="tiyuxi_xuedi", voice_language="en"), 1201, "Voice id not found")


def test_chinese_is_spoken_more_slowly_per_character(http):
    text = "这是一段测试语音" * 5  # 40 characters
    assert spoken(speak(http, voice_id="ai_kaiya", voice_language="zh", text=text))["duration"] == (
        "8.0"
    )


def test_a_voice_in_the_wrong_language_is_not_found(http):
    refused(speak(http, voice_language="zh"), 1201, "Voice id not found")


def test_an_unknown_voice_is_not_found(http):
    refused(speak(http, voice_id="no_such_voice"), 1201, "Voice id not found")


def test_tts_text_limits(http):
    spoken(speak(http, text="b" * 1000, voice_speed=2.0))
    refused(speak(http, text="b" * 1001), 1201, "text", "1001", "1000")
    refused(speak(http, text=""), 1201, "text", "empty")
    refused(speak(http, text=None), 1200, "text", "required")


@pytest.mark.parametrize(("speed", "ok"), [(0.8, True), (2.0, True), (0.7, False), (2.1, False)])
def test_tts_speed_limits(http, speed, ok):
    answer = speak(http, voice_speed=speed)
    if ok:
        spoken(answer)
    else:
        refused(answer, 1201, "voice_speed", str(speed), "0.8", "2")


def test_an_audio_id_from_tts_is_accepted_by_create(http, sim):
    audio = spoken(speak(http, text="This sentence lasts about three seconds."))
    answer = create_with_audio_id(http, audio["id"])
    assert answer.status_code == 200 and answer.json()["code"] == 0
    assert sim.stats.creates == 1


def test_an_audio_id_shorter_than_two_seconds_is_refused(http, sim):
    audio = spoken(speak(http, text="Hi"))
    refused(create_with_audio_id(http, audio["id"]), 1201, "audio_id", "1 s", "2 to 60 s")
    assert sim.stats.creates == 0


def test_an_audio_id_longer_than_sixty_seconds_is_refused(http):
    audio = spoken(speak(http, text="c" * 900))  # 64.3 s
    refused(create_with_audio_id(http, audio["id"]), 1201, "audio_id", "64.29 s", "2 to 60 s")


# --- auth and account states ----------------------------------------------------------------


def body() -> dict:
    return {"image": b64(image_bytes()), "sound_file": b64(tone(2.5)), "prompt": "Talk."}


@pytest.mark.parametrize("header", [None, "", "Bearer"])
def test_a_missing_or_empty_key_is_401_code_1001(sim, header):
    headers = {} if header is None else {"Authorization": header}
    answer = httpx.post(sim.base_url + CREATE, json=body(), headers=headers)
    assert answer.status_code == 401
    assert answer.json()["code"] == 1001
    assert sim.stats.creates == 0


def test_only_accepted_keys_pass_when_a_list_is_given(tmp_path):
    with Simulator(accepted_keys=["good-key"], work_dir=tmp_path) as sim:
        sim.plan_task("stuck")
        wrong = httpx.post(sim.base_url + CREATE, json=body(), headers=AUTH)
        assert wrong.status_code == 401 and wrong.json()["code"] == 1002
        assert "test-key" not in wrong.text  # the key is never echoed
        right = httpx.post(
            sim.base_url + CREATE, json=body(), headers={"Authorization": "Bearer good-key"}
        )
        assert right.status_code == 200 and right.json()["code"] == 0
        assert sim.stats.creates == 1


def test_a_scheme_other_than_bearer_is_refused(sim):
    answer = httpx.post(sim.base_url + CREATE, json=body(), headers={"Authorization": "Basic x"})
    assert answer.status_code == 401 and answer.json()["code"] == 1002


@pytest.mark.parametrize(
    ("state", "status", "code", "words"),
    [
        ("no_credit", 429, 1102, "resource pack"),
        ("arrears", 429, 1101, "arrears"),
        ("no_permission", 403, 1103, "permission"),
    ],
)
def test_account_states_refuse_creates_and_tts(http, sim, state, status, code, words):
    sim.set_key_state("test-key", state)
    for answer in (http.post(CREATE, json=body()), speak(http)):
        assert answer.status_code == status
        assert answer.json()["code"] == code
        assert words in answer.json()["message"].lower()
    assert sim.stats.creates == 0 and sim.stats.tts == 0
    other = httpx.post(sim.base_url + CREATE, json=body(), headers={"Authorization": "Bearer b"})
    assert other.status_code == 200  # only that key's account is affected


def test_an_account_out_of_credit_can_still_follow_its_tasks(http, sim):
    task_id = http.post(CREATE, json=body()).json()["data"]["task_id"]
    sim.set_key_state("test-key", "no_credit")
    assert http.get(AVATAR_QUERY + task_id).json()["data"]["task_id"] == task_id
    sim.set_key_state("test-key", "ok")
    assert http.post(CREATE, json=body()).json()["code"] == 0


def test_unknown_account_states_are_rejected_by_the_api(sim):
    with pytest.raises(ValueError, match="account state"):
        sim.set_key_state("k", "bankrupt")
