"""The simulator under a crowd: one render for the same inputs, and a provider-like rate
limit that clients must stay under."""

from __future__ import annotations

import base64

import httpx

from avatar_core.simulator import Simulator
from avatar_core.simulator import tasks as tasks_module

CREATE = "/kling/v1/videos/avatar/image2video"


def _body(portrait_path, speech_path) -> dict:
    return {
        "image": base64.b64encode(portrait_path.read_bytes()).decode(),
        "sound_file": base64.b64encode(speech_path.read_bytes()).decode(),
        "prompt": "hello",
    }


def test_the_same_inputs_are_rendered_once(
    simulator, fake_time, portrait_path, speech_path, monkeypatch
):
    renders = []
    real_render = tasks_module.render_avatar

    def counting_render(*args, **kwargs):
        renders.append(args)
        return real_render(*args, **kwargs)

    monkeypatch.setattr(tasks_module, "render_avatar", counting_render)
    headers = {"Authorization": "Bearer k"}
    with httpx.Client(base_url=simulator.base_url, headers=headers, timeout=60) as http:
        ids = [
            http.post(CREATE, json=_body(portrait_path, speech_path)).json()["data"]["task_id"]
            for _ in range(3)
        ]
        fake_time.sleep(60)
        urls = [
            http.get(f"{CREATE}/{i}").json()["data"]["task_result"]["videos"][0]["url"] for i in ids
        ]
        videos = [http.get(u).content for u in urls]
    assert len(renders) == 1
    assert videos[0] == videos[1] == videos[2] and videos[0][4:8] == b"ftyp"


def test_over_the_rate_limit_the_provider_answers_429_with_code_1302(tmp_path):
    with (
        Simulator(rate_limit_per_s=3, work_dir=tmp_path) as sim,
        httpx.Client(base_url=sim.base_url, headers={"Authorization": "Bearer k"}) as http,
    ):
        answers = [http.get(f"{CREATE}/123") for _ in range(6)]
    statuses = [a.status_code for a in answers]
    assert statuses[:3] == [404, 404, 404]  # served (the task is unknown)
    assert 429 in statuses[3:]
    limited = next(a for a in answers if a.status_code == 429)
    assert limited.json()["code"] == 1302 and limited.headers["Retry-After"] == "1"


def test_the_simulator_says_when_a_task_succeeds_as_its_answer_will(
    simulator, fake_time, portrait_path, speech_path
):
    headers = {"Authorization": "Bearer k"}
    with httpx.Client(base_url=simulator.base_url, headers=headers, timeout=60) as http:
        task_id = http.post(CREATE, json=_body(portrait_path, speech_path)).json()["data"][
            "task_id"
        ]
        fake_time.sleep(60)
        answer = http.get(f"{CREATE}/{task_id}").json()["data"]
    assert answer["task_status"] == "succeed"
    assert simulator.succeeded_at_ms(task_id) == answer["updated_at"]
    assert simulator.succeeded_at_ms("404") is None
