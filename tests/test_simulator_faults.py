"""Each injected fault misbehaves the way a real provider or gateway can, is used up in order,
and - for creates - makes clear whether the task exists, so clients can be tested against
the one case that costs money: a create that happened but whose answer was lost."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import httpx
import pytest
from fake_clock import FakeClock
from live import wait_until
from simulator_support import (
    AUTH,
    AVATAR_QUERY,
    CREATE,
    GENERIC_QUERY,
    TTS,
    b64,
    image_bytes,
    tone,
)

from avatar_core.simulator import Simulator


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def sim(clock, tmp_path):
    with Simulator(clock=clock, work_dir=tmp_path / "sim") as simulator:
        yield simulator


@pytest.fixture
def http(sim):
    with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=30) as client:
        yield client


def create_body(**extra) -> dict:
    body = {"image": b64(image_bytes()), "sound_file": b64(tone(2.5)), "prompt": "Hi."}
    return {**body, **extra}


def stuck_task(http: httpx.Client, sim: Simulator, **extra) -> str:
    sim.plan_task("stuck")
    answer = http.post(CREATE, json=create_body(**extra))
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["task_id"]


# --- error envelopes ----------------------------------------------------------------------


def test_error_in_kling_shape_takes_the_http_status_of_its_code(http, sim):
    task_id = stuck_task(http, sim)
    sim.inject("query", "error", code=1302)
    answer = http.get(AVATAR_QUERY + task_id)
    assert answer.status_code == 429
    body = answer.json()
    assert body["code"] == 1302 and "rate" in body["message"].lower() and body["request_id"]
    assert http.get(AVATAR_QUERY + task_id).status_code == 200  # used up


def test_error_in_gateway_shape(http, sim):
    sim.inject("tts", "error", code=1201, shape="gateway", message="Voice id not found")
    answer = http.post(TTS, json={"text": "x"})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == "comet_api_error" and error["code"] == "1201"
    assert error["message"].startswith("Voice id not found (request id: ")


def test_error_in_wrapped_shape_with_an_http_status_override(http, sim):
    sim.inject("create", "error", code=1201, shape="wrapped", http_status=500, message="Bad x")
    answer = http.post(CREATE, json=create_body())
    assert answer.status_code == 500
    body = answer.json()
    assert body["message"] == "Bad x"
    assert body["data"]["data"]["code"] == 1201 and body["data"]["data"]["request_id"]
    assert sim.stats.creates == 0  # an error answer creates nothing


@pytest.mark.parametrize(
    ("code", "status"),
    [(1000, 401), (1100, 429), (1103, 403), (1200, 400), (1203, 404), (1301, 400),
     (1303, 429), (1304, 429), (5000, 500), (5001, 503), (5002, 504)],
)  # fmt: skip
def test_each_kling_code_comes_with_its_http_status(http, sim, code, status):
    sim.inject("query", "error", code=code)
    answer = http.get(GENERIC_QUERY + "1")
    assert (answer.status_code, answer.json()["code"]) == (status, code)


def test_code_in_200(http, sim):
    task_id = stuck_task(http, sim)
    sim.inject("query", "code_in_200", code=5000)
    answer = http.get(AVATAR_QUERY + task_id)
    assert answer.status_code == 200
    assert answer.json()["code"] == 5000


def test_the_simulators_own_errors_can_use_another_shape(http, sim):
    sim.error_shape = "wrapped"
    answer = http.post(TTS, json={"text": "x", "voice_id": "nope", "voice_language": "en"})
    assert answer.status_code == 400
    assert answer.json()["message"] == "Voice id not found"
    assert answer.json()["data"]["data"]["code"] == 1201


# --- plain HTTP failures --------------------------------------------------------------------


def test_http_503_twice_with_retry_after_then_normal(http, sim):
    task_id = stuck_task(http, sim)
    sim.inject("query", "http", status=503, retry_after=7, times=2)
    for _ in range(2):
        answer = http.get(AVATAR_QUERY + task_id)
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "7"
        assert answer.json()["code"] == 5001
    assert http.get(AVATAR_QUERY + task_id).status_code == 200
    assert sim.stats.requests[("query", 503)] == 2
    assert sim.stats.requests[("query", 200)] == 1


@pytest.mark.parametrize("status", [429, 500, 502, 504])
def test_http_errors_with_an_html_body(http, sim, status):
    sim.inject("query", "http", status=status, body="html")
    answer = http.get(AVATAR_QUERY + "1")
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/html")
    assert str(status) in answer.text


def test_html_page_with_status_200(http, sim):
    sim.inject("create", "html")
    answer = http.post(CREATE, json=create_body())
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.text)
    assert sim.stats.creates == 0


# --- broken answers -------------------------------------------------------------------------


def test_malformed_json_on_create_by_default_creates_nothing(http, sim):
    sim.inject("create", "malformed")
    answer = http.post(CREATE, json=create_body(external_task_id="m-1"))
    assert answer.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        answer.json()
    assert sim.stats.creates == 0
    assert http.get(AVATAR_QUERY + "m-1").status_code == 404


def test_malformed_json_after_create_leaves_a_task(http, sim):
    sim.plan_task("stuck")
    sim.inject("create", "malformed", after_create=True)
    answer = http.post(CREATE, json=create_body(external_task_id="m-2"))
    with pytest.raises(json.JSONDecodeError):
        answer.json()
    assert answer.text.startswith('{"code": 0')
    assert sim.stats.creates == 1
    assert http.get(AVATAR_QUERY + "m-2").json()["data"]["task_info"]["external_task_id"] == "m-2"


def test_reset_before_create_drops_the_connection_and_creates_nothing(http, sim):
    sim.inject("create", "reset")
    with pytest.raises(httpx.TransportError):
        http.post(CREATE, json=create_body(external_task_id="r-1"))
    assert sim.stats.creates == 0
    assert sim.stats.requests[("create", 0)] == 1
    assert http.get(AVATAR_QUERY + "r-1").json()["code"] == 1203


def test_reset_after_create_loses_the_answer_but_the_task_exists(http, sim):
    sim.plan_task("stuck")
    sim.inject("create", "reset", after_create=True)
    with pytest.raises(httpx.TransportError):
        http.post(CREATE, json=create_body(external_task_id="r-2"))
    assert sim.stats.creates == 1
    found = http.get(AVATAR_QUERY + "r-2").json()["data"]
    assert found["task_id"] == sim.stats.tasks_by_external_id["r-2"]


def test_reset_on_query_then_the_next_query_works(http, sim):
    task_id = stuck_task(http, sim)
    sim.inject("query", "reset")
    with pytest.raises(httpx.TransportError):
        http.get(AVATAR_QUERY + task_id)
    assert http.get(AVATAR_QUERY + task_id).status_code == 200


def test_slow_answers_trip_a_client_read_timeout_yet_the_create_happened(sim):
    sim.plan_task("stuck")
    sim.inject("create", "slow", delay=1.5)
    with (
        httpx.Client(
            base_url=sim.base_url, headers=AUTH, timeout=httpx.Timeout(30, read=0.2)
        ) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        impatient.post(CREATE, json=create_body(external_task_id="s-1"))
    # The client gave up before the answer; the server goes on and makes the task (on a
    # loaded machine it may still be making it when the client gives up).
    wait_until(lambda: sim.stats.creates == 1, "the create the client gave up on")
    assert "s-1" in sim.stats.tasks_by_external_id


def test_a_slow_answer_still_arrives_for_a_patient_client(http, sim):
    task_id = stuck_task(http, sim)
    sim.inject("query", "slow", delay=0.3)
    assert http.get(AVATAR_QUERY + task_id).json()["data"]["task_id"] == task_id


# --- result downloads -----------------------------------------------------------------------


@pytest.fixture
def video_url(http, sim, clock):
    task_id = http.post(CREATE, json=create_body()).json()["data"]["task_id"]
    clock.advance(8)
    return http.get(AVATAR_QUERY + task_id).json()["data"]["task_result"]["videos"][0]["url"]


def test_expired_result_url(sim, video_url):
    sim.inject("result", "expired")
    answer = httpx.get(video_url)
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/xml"
    assert "<Code>AccessDenied</Code>" in answer.text and "Request has expired" in answer.text
    assert httpx.get(video_url).status_code == 200


def test_truncated_result_announces_the_full_length_but_sends_half(sim, video_url):
    full = httpx.get(video_url).content
    sim.inject("result", "truncated")
    parts = urlsplit(video_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as raw:
        raw.sendall(
            f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
        )
        received = b""
        while chunk := raw.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0]
    assert f"Content-Length: {len(full)}".encode() in head
    assert len(body) == len(full) // 2
    assert body == full[: len(full) // 2]


def test_a_truncated_download_is_an_error_for_httpx(sim, video_url):
    sim.inject("result", "truncated")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(video_url)


# --- queueing and the API -------------------------------------------------------------------


def test_faults_are_used_in_order_and_star_matches_any_route(http, sim):
    task_id = stuck_task(http, sim)
    sim.inject("*", "http", status=502)
    sim.inject("query", "http", status=504)
    answers = [http.get(AVATAR_QUERY + task_id).status_code for _ in range(3)]
    assert answers == [502, 504, 200]
    assert sim.stats.faults_used == {"http": 2}


def test_faults_for_one_route_leave_others_alone(http, sim):
    sim.inject("tts", "http", status=500)
    task_id = stuck_task(http, sim)
    assert http.get(AVATAR_QUERY + task_id).status_code == 200
    assert http.post(TTS, json={}).status_code == 500


@pytest.mark.parametrize(
    ("route", "kind", "params", "match"),
    [
        ("nowhere", "error", {}, "route"),
        ("query", "explode", {}, "kind"),
        ("query", "expired", {}, "result"),
        ("create", "truncated", {}, "result"),
        ("query", "slow", {"seconds": 1}, "parameter"),
        ("query", "error", {"shape": "xml"}, "shape"),
    ],
)
def test_a_mistyped_fault_is_an_error_at_once(sim, route, kind, params, match):
    with pytest.raises(ValueError, match=match):
        sim.inject(route, kind, **params)


def test_control_routes_steer_a_simulator_in_another_process(sim):
    with httpx.Client(base_url=sim.base_url) as control:
        assert control.post("/_simulator/plan", json={"outcome": "stuck"}).json()["ok"]
        answer = control.post(
            "/_simulator/faults", json={"route": "query", "kind": "http", "status": 503, "times": 2}
        )
        assert answer.json() == {"ok": True, "pending_faults": 2}
        task_id = control.post(CREATE, json=create_body(), headers=AUTH).json()["data"]["task_id"]
        for _ in range(2):
            assert control.get(GENERIC_QUERY + task_id, headers=AUTH).status_code == 503
        stats = control.get("/_simulator/stats").json()
        assert stats["creates"] == 1
        assert stats["requests"] == {"create 200": 1, "query 503": 2}
        bad = control.post("/_simulator/faults", json={"route": "query", "kind": "explode"})
        assert bad.status_code == 400 and "explode" in bad.json()["error"]
        assert control.post("/_simulator/keys", json={"key": "k2", "state": "arrears"}).json()
        assert control.post(CREATE, json=create_body(), headers={"Authorization": "Bearer k2"}
                            ).json()["code"] == 1101  # fmt: skip
        assert control.post("/_simulator/reset").json() == {"ok": True}
        assert control.get("/_simulator/stats").json()["creates"] == 0
        assert control.get(GENERIC_QUERY + task_id, headers=AUTH).status_code == 404


def test_reset_forgets_faults_plans_tasks_and_stats(http, sim):
    task_id = stuck_task(http, sim)
    sim.inject("query", "http", status=500, times=5)
    sim.plan_task("fail", times=5)
    sim.reset()
    assert sim.stats.creates == 0 and not sim.stats.requests
    assert http.get(AVATAR_QUERY + task_id).status_code == 404
    assert http.post(CREATE, json=create_body()).json()["code"] == 0
