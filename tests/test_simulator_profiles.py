"""The simulator's gateway profiles and the options they set, seen over HTTP: how an unserved
query route answers, lookups by external id, CometAPI's string codes, video links that lag
the success, slow creates; set by name at construction, later, or by the control route."""

from __future__ import annotations

import time

import httpx
import pytest
from fake_clock import FakeClock
from simulator_support import (
    AUTH,
    AVATAR_QUERY,
    CREATE,
    GENERIC_QUERY,
    KEY,
    b64,
    eventually,
    image_bytes,
    tone,
)

from avatar_core.simulator import Simulator
from avatar_core.simulator.options import PROFILES, profile_options

BODY = {"prompt": "Hi.", "external_task_id": "ext-7"}


def _create(http: httpx.Client, **extra) -> str:
    body = {"image": b64(image_bytes()), "sound_file": b64(tone(2.5)), **BODY, **extra}
    answer = http.post(CREATE, json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["task_id"]


@pytest.fixture
def served(tmp_path):
    def start(**options) -> tuple[Simulator, httpx.Client]:
        sim = Simulator(clock=FakeClock(), work_dir=tmp_path / "sim", **options)
        sim.start()
        return sim, httpx.Client(base_url=sim.base_url or "", headers=AUTH, timeout=30)

    started: list[tuple[Simulator, httpx.Client]] = []

    def tracked(**options):
        started.append(start(**options))
        return started[-1]

    yield tracked
    for sim, http in started:
        http.close()
        sim.stop()


def test_a_profile_sets_its_options_and_an_unknown_one_is_refused(tmp_path):
    sim = Simulator(profile="cometapi-likely", work_dir=tmp_path)
    assert sim.options.avatar_query_route is False
    assert sim.options.unserved_route == "json_400"
    assert sim.options.external_id_lookups is False and sim.options.error_codes == "cometapi"
    with pytest.raises(ValueError, match="unknown gateway profile 'nope'; use one of kling"):
        Simulator(profile="nope", work_dir=tmp_path)


def test_switching_profiles_undoes_the_last_ones_options(tmp_path):
    sim = Simulator(profile="lagging-links", work_dir=tmp_path)
    assert sim.options.video_link_misses == 2
    sim.use_profile("slow-creates")
    assert sim.options.video_link_misses == 0 and sim.options.create_delay_s == 3.0
    assert set(profile_options("kling")) >= {n for p in PROFILES.values() for n in p}


@pytest.mark.parametrize(
    ("option", "value"),
    [("unserved_route", "xml"), ("error_codes", "soap"), ("video_link_misses", -1),
     ("video_link_misses", 1.5), ("external_id_lookups", "no"), ("create_delay_s", -2)],
)  # fmt: skip
def test_a_bad_profile_option_is_refused(tmp_path, option, value):
    with pytest.raises(ValueError, match=option):
        Simulator(work_dir=tmp_path, **{option: value})


def test_the_control_route_takes_a_profile(served):
    sim, http = served()
    answer = http.post("/_simulator/settings", json={"profile": "no-external-ids"})
    assert answer.status_code == 200 and sim.options.external_id_lookups is False
    assert http.post("/_simulator/settings", json={"profile": "x"}).status_code == 400


@pytest.mark.parametrize(
    ("unserved", "status", "error"),
    [
        ("json_400", 400, {"code": "task_not_exist"}),
        ("json_404", 404, {"message": "Invalid URL (GET /kling/v1/videos/avatar/image2video/1)"}),
    ],
)
def test_an_unserved_avatar_route_answers_json_in_each_shape(served, unserved, status, error):
    _sim, http = served(avatar_query_route=False, unserved_route=unserved)
    answer = http.get(AVATAR_QUERY + "1")
    assert answer.status_code == status
    assert error.items() <= answer.json()["error"].items()


def test_without_external_id_lookups_only_the_task_id_finds_a_task(served):
    _sim, http = served(external_id_lookups=False)
    task_id = _create(http)
    assert http.get(GENERIC_QUERY + task_id).status_code == 200
    missing = http.get(GENERIC_QUERY + "ext-7")
    assert missing.status_code == 404 and missing.json()["code"] == 1203


def test_cometapis_codes_for_an_unknown_task_and_a_refused_key(served):
    sim, http = served(error_codes="cometapi", accepted_keys=[KEY])
    unknown = http.get(GENERIC_QUERY + "42")
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "task_not_exist"
    refused = http.get(GENERIC_QUERY + "42", headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    sim.set_key_state(KEY, "no_credit")
    poor = http.post(CREATE, json={"image": b64(image_bytes()), "sound_file": b64(tone(2.5)),
                                   **BODY})  # fmt: skip
    assert poor.status_code == 403 and poor.json()["error"]["code"] == "insufficient_user_quota"


def test_a_video_link_answers_404_until_its_storage_catches_up(served):
    _sim, http = served(video_link_misses=2, task_seconds=0, submit_seconds=0)
    task_id = _create(http)
    url = http.get(GENERIC_QUERY + task_id).json()["data"]["task_result"]["videos"][0]["url"]
    answers = [httpx.get(url, timeout=30) for _ in range(3)]
    assert [a.status_code for a in answers] == [404, 404, 200]
    assert b"NoSuchKey" in answers[0].content and answers[2].content[4:8] == b"ftyp"


def test_a_slow_create_makes_its_task_at_once_and_answers_late(served):
    sim, http = served(create_delay_s=2.0)
    body = {"image": b64(image_bytes()), "sound_file": b64(tone(2.5)), **BODY}
    with pytest.raises(httpx.ReadTimeout):
        http.post(CREATE, json=body, timeout=0.5)
    # the answer was lost, not the task (a loaded machine may still be checking the media
    # when the client gives up; the task is made before the 2 s delay starts)
    eventually(lambda: sim.stats.creates == 1, timeout=60)
    assert sim.stats.creates == 1
    # made at once, answered late: a create given the time gets its answer at least the
    # delay after its task was made (load only lengthens that)
    answer = http.post(CREATE, json={**body, "external_task_id": "ext-8"}, timeout=60)
    answered_ms = time.time() * 1000
    assert answer.status_code == 200 and sim.stats.creates == 2
    assert answered_ms - answer.json()["data"]["created_at"] >= 2000 - 50


def test_the_gateway_error_fault_answers_a_string_code_in_the_gateways_envelope(served):
    sim, http = served()
    sim.inject("create", "gateway_error", code="invalid_request", status=500)
    answer = http.post(CREATE, json={})
    assert answer.status_code == 500
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and error["type"] == "comet_api_error"
    assert sim.stats.creates == 0
