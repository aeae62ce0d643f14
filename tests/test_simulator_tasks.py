"""Tasks move through submitted -> processing -> succeed/failed by the simulator's clock only,
can be found by task id or external id on both query routes, and tell callbacks each change.
"""

from __future__ import annotations

import threading
from urllib.parse import quote

import httpx
import pytest
from fake_clock import FakeClock
from simulator_support import (
    AUTH,
    AVATAR_QUERY,
    CREATE,
    GENERIC_QUERY,
    TTS,
    audio_seconds,
    b64,
    callback_receiver,
    eventually,
    image_bytes,
    tone,
)

import avatar_core.simulator.tasks as tasks_module
from avatar_core.simulator import DEFAULT_FAIL_REASON, Simulator
from avatar_core.simulator.render import RenderError


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def sim(clock, tmp_path):
    with Simulator(
        task_seconds=8.0, submit_seconds=1.0, clock=clock, work_dir=tmp_path / "sim"
    ) as simulator:
        yield simulator


@pytest.fixture
def http(sim):
    with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=60) as client:
        yield client


def create(http: httpx.Client, **extra) -> dict:
    body = {"image": b64(image_bytes()), "sound_file": b64(tone(2.5)), "prompt": "Hello."}
    answer = http.post(CREATE, json={**body, **extra})
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def query(http: httpx.Client, ident: str, route: str = AVATAR_QUERY) -> dict:
    answer = http.get(route + ident)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["code"] == 0 and body["message"] == "SUCCEED" and body["request_id"]
    return body["data"]


def test_a_task_is_submitted_then_processing_then_succeeds_on_the_clock(http, clock):
    task = create(http)
    task_id = task["task_id"]
    assert query(http, task_id)["task_status"] == "submitted"
    clock.advance(0.99)
    assert query(http, task_id)["task_status"] == "submitted"
    clock.advance(0.01)
    processing = query(http, task_id)
    assert processing["task_status"] == "processing"
    assert "task_result" not in processing
    clock.advance(6.99)
    assert query(http, task_id)["task_status"] == "processing"
    clock.advance(0.01)
    done = query(http, task_id)
    assert done["task_status"] == "succeed"
    assert done["task_status_msg"] == ""
    assert done["created_at"] == task["created_at"]
    assert done["updated_at"] == task["created_at"] + 8000
    assert done["final_unit_deduction"] == "3"  # 2.5 s of audio, 1 unit a started second
    (video,) = done["task_result"]["videos"]
    assert video["id"]
    assert video["duration"] == "2.5"
    assert video["url"].startswith(f"{http.base_url}/results/{task_id}.mp4?expires=")


def test_the_result_url_serves_the_mp4_and_an_expired_url_is_refused(http, clock, tmp_path):
    task_id = create(http)["task_id"]
    clock.advance(8)
    url = query(http, task_id)["task_result"]["videos"][0]["url"]
    video = httpx.get(url)
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert int(video.headers["content-length"]) == len(video.content) > 1000
    assert video.content[4:8] == b"ftyp"
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == video.headers["content-length"]
    saved = tmp_path / "out.mp4"
    saved.write_bytes(video.content)
    assert audio_seconds(saved) == pytest.approx(2.5, abs=0.05)

    stale = httpx.get(url.split("?")[0] + "?expires=1")
    assert stale.status_code == 403
    assert "Request has expired" in stale.text


def test_pro_mode_is_charged_double(http, clock):
    task_id = create(http, mode="pro")["task_id"]
    clock.advance(8)
    assert query(http, task_id)["final_unit_deduction"] == "6"


def test_a_planned_failure_carries_a_content_policy_reason(http, sim, clock):
    sim.plan_task(outcome="fail")
    task_id = create(http)["task_id"]
    clock.advance(7.9)
    assert query(http, task_id)["task_status"] == "processing"
    clock.advance(0.1)
    failed = query(http, task_id)
    assert failed["task_status"] == "failed"
    assert failed["task_status_msg"] == DEFAULT_FAIL_REASON
    assert "content" in DEFAULT_FAIL_REASON.lower()
    assert "task_result" not in failed and "final_unit_deduction" not in failed


def test_plans_apply_to_the_next_tasks_in_order_then_tasks_succeed_again(http, sim, clock):
    sim.plan_task(outcome="fail", reason="Blocked: face not detected", times=2)
    sim.plan_task(outcome="succeed", task_seconds=30)
    ids = [create(http)["task_id"] for _ in range(4)]
    clock.advance(8)
    states = [query(http, task_id) for task_id in ids]
    assert [s["task_status"] for s in states] == ["failed", "failed", "processing", "succeed"]
    assert states[0]["task_status_msg"] == "Blocked: face not detected"
    clock.advance(22)
    assert query(http, ids[2])["task_status"] == "succeed"


def test_a_stuck_task_stays_processing_forever(http, sim, clock):
    sim.plan_task(outcome="stuck")
    task_id = create(http)["task_id"]
    clock.advance(10**6)
    assert query(http, task_id)["task_status"] == "processing"


@pytest.mark.parametrize("route", [AVATAR_QUERY, GENERIC_QUERY], ids=["avatar", "generic"])
def test_both_query_routes_find_a_task_by_task_id_or_external_id(http, route):
    task = create(http, external_task_id="mine-42")
    by_id = query(http, task["task_id"], route)
    by_external = query(http, "mine-42", route)
    assert by_id["task_id"] == by_external["task_id"] == task["task_id"]
    assert by_external["task_info"] == {"external_task_id": "mine-42"}


def test_an_external_id_with_spaces_and_accents_is_found_through_the_url(http):
    task = create(http, external_task_id="commande n°7 – été")
    found = http.get(AVATAR_QUERY + quote("commande n°7 – été"))
    assert found.json()["data"]["task_id"] == task["task_id"]


def test_without_the_avatar_query_route_it_answers_an_html_404(clock, tmp_path):
    with Simulator(clock=clock, avatar_query_route=False, work_dir=tmp_path) as sim:
        sim.plan_task("stuck")
        with httpx.Client(base_url=sim.base_url, headers=AUTH) as http:
            task_id = create(http)["task_id"]
            missing = http.get(AVATAR_QUERY + task_id)
            assert missing.status_code == 404
            assert missing.headers["content-type"].startswith("text/html")
            assert "<html" in missing.text.lower()
            assert query(http, task_id, GENERIC_QUERY)["task_id"] == task_id


def test_an_unknown_task_is_404_with_code_1203(http):
    for route in (AVATAR_QUERY, GENERIC_QUERY):
        answer = http.get(route + "999999999999999999")
        assert answer.status_code == 404
        assert answer.json()["code"] == 1203


def test_another_account_cannot_see_a_task(http, sim):
    sim.plan_task("stuck")
    task_id = create(http, external_task_id="private")["task_id"]
    other = {"Authorization": "Bearer someone-else"}
    for ident in (task_id, "private"):
        assert http.get(AVATAR_QUERY + ident, headers=other).json()["code"] == 1203


def test_a_tts_audio_id_makes_a_video_as_long_as_the_speech(http, clock, tmp_path):
    speech = http.post(
        TTS, json={"text": "Hello from the simulated voice of the demo.", "voice_id": "uk_man2",
                   "voice_language": "en", "voice_speed": 1.0},
    ).json()["data"]  # fmt: skip
    audio = speech["task_result"]["audios"][0]
    task_id = create(http, sound_file=None, audio_id=audio["id"], task_id=speech["task_id"])[
        "task_id"
    ]
    clock.advance(8)
    done = query(http, task_id)
    assert done["task_status"] == "succeed"
    video = done["task_result"]["videos"][0]
    assert abs(float(video["duration"]) - float(audio["duration"])) <= 0.1
    saved = tmp_path / "speech.mp4"
    saved.write_bytes(httpx.get(video["url"]).content)
    assert audio_seconds(saved) == pytest.approx(float(audio["duration"]), abs=0.1)


def test_callbacks_report_each_status_change_in_order(http, sim, clock):
    with callback_receiver() as (url, receiver):
        task = create(http, callback_url=url, external_task_id="cb-1")
        assert [b["task_status"] for b in receiver.wait_for(1)] == ["submitted"]
        clock.advance(1)
        assert [b["task_status"] for b in receiver.wait_for(2)][-1] == "processing"
        clock.advance(7)
        bodies = receiver.wait_for(3)
    assert [b["task_status"] for b in bodies] == ["submitted", "processing", "succeed"]
    last = bodies[-1]
    assert last["task_id"] == task["task_id"]
    assert last["task_info"] == {"external_task_id": "cb-1"}
    assert last == query(http, task["task_id"])  # the same object a query answers with
    assert sim.stats.callbacks_sent == 3


def test_a_clock_jump_still_sends_every_status_and_failures_too(http, sim, clock):
    sim.plan_task(outcome="fail", reason="policy")
    with callback_receiver() as (url, receiver):
        task_id = create(http, callback_url=url)["task_id"]
        clock.advance(100)
        bodies = receiver.wait_for(3)
    assert [b["task_status"] for b in bodies] == ["submitted", "processing", "failed"]
    assert bodies[-1]["task_status_msg"] == "policy"
    assert all(b["task_id"] == task_id for b in bodies)


def test_an_unreachable_callback_is_ignored(http, sim, clock):
    with callback_receiver() as (url, _):
        dead_url = url  # the receiver is gone once the block ends
    task_id = create(http, callback_url=dead_url)["task_id"]
    clock.advance(8)
    assert query(http, task_id)["task_status"] == "succeed"
    assert eventually(lambda: sim.stats.callbacks_failed >= 3)
    assert sim.stats.callbacks_sent == 0


def test_a_render_that_breaks_fails_the_task_instead_of_hanging(http, clock, monkeypatch):
    """Past the task's time, a broken render's failure is the answer, even in the moment
    between the render noting its error and saying it is done (a query then answered
    "processing": seen under load). Here that moment lasts until the query has been
    answered or is waiting for the render."""
    saying, settled = threading.Event(), threading.Event()

    class SaysDoneLate(threading.Event):
        def set(self) -> None:
            saying.set()
            settled.wait(60)
            super().set()

        def wait(self, timeout: float | None = None) -> bool:
            settled.set()  # the query waits for the render: the render may say it is done
            return super().wait(timeout)

    class Threading:  # the simulator's `threading`, its render's done said late
        Event = SaysDoneLate

        def __getattr__(self, name: str) -> object:
            return getattr(threading, name)

    def broken(*args, **kwargs):
        raise RenderError("ffmpeg failed (simulated)")

    monkeypatch.setattr(tasks_module, "render_avatar", broken)
    monkeypatch.setattr(tasks_module, "threading", Threading())
    task_id = create(http)["task_id"]
    assert saying.wait(30)  # the render has noted its error and is about to say it is done
    clock.advance(8)
    failed = query(http, task_id)
    settled.set()
    assert failed["task_status"] == "failed"
    assert "ffmpeg failed (simulated)" in failed["task_status_msg"]
