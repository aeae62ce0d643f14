"""The simulator refuses creates exactly where the provider does, and says why.

Each rule is tried at its limit (accepted) and just past it (refused with Kling's code, HTTP
400 and a message naming the field), so a client tested against the simulator learns the
provider's real boundaries. Accepted tasks are planned "stuck" so no video is rendered.
"""

from __future__ import annotations

import io
import json
import re
import uuid

import httpx
import pytest
from fake_clock import FakeClock
from PIL import Image
from simulator_support import (
    AUTH,
    CREATE,
    MB,
    b64,
    file_server,
    image_bytes,
    tone,
    wav_of_size,
)

from avatar_core.simulator import Simulator


@pytest.fixture
def sim(tmp_path):
    with Simulator(clock=FakeClock(), work_dir=tmp_path / "sim") as simulator:
        simulator.plan_task("stuck", times=1000)  # accepted tasks never render here
        yield simulator


@pytest.fixture
def http(sim):
    with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=30) as client:
        yield client


def valid_body(**overrides) -> dict:
    body = {"image": b64(image_bytes()), "sound_file": b64(tone(2.5)), "prompt": "Speak."}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def create(http: httpx.Client, **overrides) -> httpx.Response:
    return http.post(CREATE, json=valid_body(**overrides))


def assert_refused(answer: httpx.Response, code: int, *words: str) -> str:
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["code"] == code, body
    assert body["request_id"]
    for word in words:
        assert word.lower() in body["message"].lower(), body["message"]
    return body["message"]


def assert_created(answer: httpx.Response) -> dict:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["code"] == 0, body
    return body["data"]


def test_a_valid_create_answers_like_the_provider(http, sim):
    answer = create(http, external_task_id="job-1", mode="pro")
    body = answer.json()
    assert body["message"] == "SUCCEED"
    uuid.UUID(body["request_id"])
    data = body["data"]
    assert re.fullmatch(r"\d{18}", data["task_id"])
    assert data["task_status"] == "submitted"
    assert data["task_info"] == {"external_task_id": "job-1"}
    assert isinstance(data["created_at"], int) and data["created_at"] > 1_600_000_000_000
    assert data["updated_at"] == data["created_at"]
    assert sim.stats.creates == 1
    assert sim.stats.tasks_by_external_id == {"job-1": data["task_id"]}


# --- image ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height"), [(300, 300), (300, 750), (750, 300)], ids=["min-side", "1:2.5", "2.5:1"]
)
def test_images_at_the_limits_are_accepted(http, width, height):
    assert_created(create(http, image=b64(image_bytes(width, height))))


@pytest.mark.parametrize(
    ("width", "height", "words"),
    [
        (299, 300, ["299x300", "300 px"]),
        (300, 299, ["300x299", "300 px"]),
        (300, 751, ["aspect ratio", "1:2.50", "2.5:1"]),
        (751, 300, ["aspect ratio", "2.50:1"]),
    ],
)
def test_images_just_past_the_limits_are_refused(http, width, height, words):
    assert_refused(create(http, image=b64(image_bytes(width, height))), 1201, "image", *words)


def test_png_is_accepted(http):
    assert_created(create(http, image=b64(image_bytes(320, 320, "PNG"))))


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "BMP"])
def test_other_image_formats_are_refused(http, fmt):
    out = io.BytesIO()
    Image.new("RGB", (320, 320), "gray").save(out, fmt)
    assert_refused(create(http, image=b64(out.getvalue())), 1201, "image", fmt, "JPG or PNG")


def test_an_image_of_exactly_10_mb_is_accepted_and_one_byte_more_is_refused(http):
    small = image_bytes()
    exactly = small + b"\0" * (10 * MB - len(small))  # bytes after the JPEG's end are ignored
    assert_created(create(http, image=b64(exactly)))
    assert_refused(create(http, image=b64(exactly + b"\0")), 1201, "image", "10 MB")


def test_a_data_url_prefix_is_refused(http):
    prefixed = "data:image/jpeg;base64," + b64(image_bytes())
    assert_refused(create(http, image=prefixed), 1201, "image", "data:", "prefix")


def test_text_that_is_neither_url_nor_base64_is_refused(http):
    assert_refused(create(http, image="not base64 at all!"), 1201, "image", "base64")


def test_bytes_that_are_not_a_picture_are_refused(http):
    assert_refused(create(http, image=b64(b"\x00\x01" * 500)), 1201, "image", "decoded")


def test_images_and_sounds_by_url_are_fetched(http, tmp_path):
    (tmp_path / "face.png").write_bytes(image_bytes(320, 320, "PNG"))
    (tmp_path / "voice.mp3").write_bytes(tone(2.5, "mp3"))
    with file_server(tmp_path) as base:
        assert_created(create(http, image=f"{base}/face.png", sound_file=f"{base}/voice.mp3"))
        refused = create(http, image=f"{base}/missing.png")
    assert_refused(refused, 1201, "image", "404")


# --- sound ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [2.0, 60.0])
def test_sounds_at_the_duration_limits_are_accepted(http, seconds):
    assert_created(create(http, sound_file=b64(tone(seconds))))


@pytest.mark.parametrize(("seconds", "shown"), [(1.9, "1.9 s"), (60.1, "60.1 s")])
def test_sounds_just_past_the_duration_limits_are_refused(http, seconds, shown):
    message = assert_refused(create(http, sound_file=b64(tone(seconds))), 1201, "sound_file")
    assert shown in message and "2 to 60 s" in message


def test_a_sound_of_exactly_5_mb_is_accepted_and_a_sample_more_is_refused(http):
    assert_created(create(http, sound_file=b64(wav_of_size(5 * MB))))
    refused = create(http, sound_file=b64(wav_of_size(5 * MB + 2)))
    assert_refused(refused, 1201, "sound_file", "5 MB")


@pytest.mark.parametrize("fmt", ["mp3", "m4a", "aac"])
def test_mp3_m4a_and_aac_sounds_are_accepted(http, fmt):
    assert_created(create(http, sound_file=b64(tone(2.5, fmt))))


def test_other_sound_formats_are_refused_by_content(http):
    answer = create(http, sound_file=b64(tone(2.5, "ogg")))
    assert_refused(answer, 1201, "sound_file", "MP3, WAV, M4A or AAC")


def test_a_sound_with_a_data_url_prefix_is_refused(http):
    answer = create(http, sound_file="data:audio/wav;base64," + b64(tone(2.5)))
    assert_refused(answer, 1201, "sound_file", "prefix")


def test_both_sound_file_and_audio_id_are_refused(http):
    assert_refused(create(http, audio_id="123456789012345678"), 1201, "exactly one")


def test_neither_sound_file_nor_audio_id_is_refused(http):
    assert_refused(create(http, sound_file=None), 1200, "sound_file", "audio_id")


def test_an_audio_id_the_tts_never_issued_is_refused(http):
    answer = create(http, sound_file=None, audio_id="123456789012345678")
    assert_refused(answer, 1201, "audio_id", "123456789012345678", "not found")


# --- prompt, mode, ids ----------------------------------------------------------------------


def test_a_missing_prompt_is_refused(http):
    assert_refused(create(http, prompt=None), 1200, "prompt", "required")


def test_an_empty_prompt_is_refused(http):
    assert_refused(create(http, prompt="   "), 1201, "prompt", "empty")


def test_a_prompt_of_2500_characters_is_accepted_and_2501_refused(http):
    assert_created(create(http, prompt="a" * 2500))
    assert_refused(create(http, prompt="a" * 2501), 1201, "prompt", "2501", "2500")


@pytest.mark.parametrize("mode", ["std", "pro", None])
def test_std_pro_and_no_mode_are_accepted(http, mode):
    assert_created(create(http, mode=mode))


def test_an_unknown_mode_is_refused(http):
    assert_refused(create(http, mode="fast"), 1201, "mode", "fast", "std", "pro")


def test_a_repeated_external_task_id_is_refused_and_creates_nothing(http, sim):
    first = assert_created(create(http, external_task_id="order-7"))
    message = assert_refused(create(http, external_task_id="order-7"), 1201, "external_task_id")
    assert "order-7" in message and "already used" in message
    assert sim.stats.creates == 1
    assert sim.stats.tasks_by_external_id == {"order-7": first["task_id"]}


def test_external_task_ids_are_unique_per_account_not_globally(http, sim):
    assert_created(create(http, external_task_id="shared"))
    other = http.post(CREATE, json=valid_body(external_task_id="shared"),
                      headers={"Authorization": "Bearer another-account"})  # fmt: skip
    assert_created(other)


def test_a_body_that_is_not_json_is_refused(http):
    answer = http.post(CREATE, content=b"{not json", headers={"Content-Type": "application/json"})
    assert_refused(answer, 1200, "JSON")


def test_a_callback_url_that_is_not_http_is_refused(http):
    assert_refused(create(http, callback_url="ftp://example.com/x"), 1201, "callback_url")


def test_a_chunked_request_body_is_read_whole(http):
    data = json.dumps(valid_body()).encode()
    chunks = (data[i : i + 65536] for i in range(0, len(data), 65536))
    answer = http.post(CREATE, content=chunks, headers={"Content-Type": "application/json"})
    assert answer.request.headers["transfer-encoding"] == "chunked"
    assert_created(answer)


def test_the_long_parts_gateway_takes_up_to_300_s_of_audio_a_task(sim, http):
    assert_refused(create(http, sound_file=b64(tone(90.0))), 1201, "2 to 60 s")
    sim.use_profile("long-parts")
    assert create(http, sound_file=b64(tone(300.0))).json()["code"] == 0
    assert_refused(create(http, sound_file=b64(tone(300.5))), 1201, "300.5 s", "2 to 300 s")
