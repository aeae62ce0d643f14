"""The simulator's options: set at construction, on `simulator.options` or through
`POST /_simulator/settings`, each checked, and each applying to the next requests."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from fake_clock import FakeClock
from simulator_support import AUTH, CREATE, GENERIC_QUERY, TTS, b64, image_bytes, tone

from avatar_core.simulator import Simulator

SETTINGS = "/_simulator/settings"
UNKNOWN_VOICE = {"text": "Hello.", "voice_id": "nope", "voice_language": "en"}


@dataclass
class Served:
    sim: Simulator
    http: httpx.Client  # with the test key
    clock: FakeClock

    def create_failing_task(self) -> str:
        self.sim.plan_task("fail")  # a failing task needs no render
        body = {"image": b64(image_bytes()), "sound_file": b64(tone(2.5)), "prompt": "Hi."}
        answer = self.http.post(CREATE, json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]["task_id"]

    def status_of(self, task_id: str) -> str:
        return self.http.get(GENERIC_QUERY + task_id).json()["data"]["task_status"]


@pytest.fixture
def served(tmp_path):
    clock = FakeClock()
    with (
        Simulator(clock=clock, work_dir=tmp_path / "sim") as sim,
        httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=30) as http,
    ):
        yield Served(sim, http, clock)


def test_constructor_keywords_are_the_options(tmp_path):
    sim = Simulator(task_seconds=3, submit_seconds=0.5, error_shape="gateway", work_dir=tmp_path)
    assert sim.options.task_seconds == 3.0
    assert sim.options.submit_seconds == 0.5
    assert sim.error_shape == sim.options.error_shape == "gateway"
    assert sim.avatar_query_route is True
    assert sim.rate_limit_per_s is None


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"error_shape": "xml"}, "error_shape"),
        ({"task_seconds": -1}, "task_seconds"),
        ({"avatar_query_route": "no"}, "avatar_query_route"),
        ({"callback_interval": 0}, "callback_interval"),
        ({"rate_limit_per_s": -2}, "rate_limit_per_s"),
    ],
)
def test_a_bad_option_is_refused_at_construction(tmp_path, options, match):
    with pytest.raises(ValueError, match=match):
        Simulator(work_dir=tmp_path, **options)


def test_an_unknown_option_is_refused(tmp_path):
    with pytest.raises(TypeError, match="bogus"):
        Simulator(work_dir=tmp_path, bogus=1)
    sim = Simulator(work_dir=tmp_path)
    with pytest.raises(ValueError, match="bogus"):
        sim.options.update(bogus=1)


def test_a_bad_value_set_later_is_refused_and_changes_nothing(served):
    sim = served.sim
    with pytest.raises(ValueError, match="error_shape"):
        sim.error_shape = "xml"
    with pytest.raises(ValueError, match="task_seconds"):
        sim.options.update(error_shape="gateway", task_seconds=-1)
    assert sim.options.error_shape == "kling"
    assert served.http.post(TTS, json=UNKNOWN_VOICE).json()["code"] == 1201  # Kling's shape


def test_settings_change_how_the_next_requests_are_answered(served):
    sim, http = served.sim, served.http
    answer = http.post(SETTINGS, json={"error_shape": "gateway", "avatar_query_route": False})
    assert answer.json() == {"ok": True}
    assert sim.error_shape == "gateway" and sim.avatar_query_route is False
    refused = http.post(TTS, json=UNKNOWN_VOICE)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "1201"


def test_settings_refuse_a_bad_or_unknown_option_and_change_nothing(served):
    sim, http = served.sim, served.http
    bad = http.post(SETTINGS, json={"avatar_query_route": False, "error_shape": "xml"})
    assert bad.status_code == 400 and "error_shape" in bad.json()["error"]
    unknown = http.post(SETTINGS, json={"bogus": 1})
    assert unknown.status_code == 400 and "bogus" in unknown.json()["error"]
    assert sim.avatar_query_route is True and sim.error_shape == "kling"


def test_a_new_task_time_applies_to_tasks_created_after_it(served):
    before = served.create_failing_task()
    assert served.http.post(SETTINGS, json={"task_seconds": 2}).json() == {"ok": True}
    after = served.create_failing_task()
    served.clock.advance(2.5)
    assert served.status_of(before) == "processing"  # still the 8 s it was created with
    assert served.status_of(after) == "failed"


def test_an_account_runs_at_most_max_running_tasks_and_a_refused_create_makes_nothing(served):
    served.sim.options.max_running_tasks = 2
    body = {"image": b64(image_bytes()), "sound_file": b64(tone(2.5)), "prompt": "Hi."}
    made = [served.http.post(CREATE, json=body) for _ in range(2)]
    assert [answer.status_code for answer in made] == [200, 200]
    refused = served.http.post(CREATE, json={**body, "external_task_id": "third"})
    assert refused.status_code == 429
    assert refused.json()["code"] == 1303
    stats = served.sim.stats
    assert (stats.creates, stats.busy_refusals) == (2, 1)
    assert served.http.get(GENERIC_QUERY + "third").json()["code"] == 1203  # nothing made
    served.clock.advance(served.sim.options.task_seconds + 1)  # both tasks end
    for answer in made:  # a query waits for the task's render: both have ended
        assert served.status_of(answer.json()["data"]["task_id"]) == "succeed"
    again = served.http.post(CREATE, json={**body, "external_task_id": "third"})
    assert again.status_code == 200, again.text
    assert httpx.get(served.sim.base_url + "/_simulator/stats").json()["busy_refusals"] == 1
