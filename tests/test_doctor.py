"""The doctor: free requests only, against the simulator in each gateway profile; the same
report from the core, the command line and the page's key panel, never with the key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app_harness import make_studio
from flows import final

from avatar_core.provider.doctor import UNKNOWN_TASK_ID
from avatar_core.simulator import Simulator
from ui import handlers as h
from ui.sessions import Sessions

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-doctor-canary-5e1f"
AVATAR = "query /kling/v1/videos/avatar/image2video/{id} for an unknown task"
GENERIC = "query /kling/v1/videos/image2video/{id} for an unknown task"


def _line(report: str, start: str) -> str:
    return next(line for line in report.splitlines() if line.startswith(start))


def test_on_kling_behaviour_the_key_is_accepted_and_both_routes_say_unknown(
    gateway, fake_time, tmp_path
):
    sim = gateway("kling")
    report = make_studio(sim, fake_time, tmp_path / "data", key=KEY).diagnose()
    text = report.text()
    assert report.ok and _line(text, "key accepted:") == "key accepted: yes"
    assert _line(text, AVATAR).endswith("HTTP 404, JSON, Kling code 1203 - says unknown here")
    assert "could not tell (no task made from this data folder" in text
    assert _line(text, "clock offset:").startswith("clock offset: in step")
    assert KEY not in text and f"{len(KEY)} characters (not shown)" in text
    assert sim.stats.count("create") == 0  # nothing paid for


def test_the_routes_of_a_gateway_that_answers_unserved_routes_with_json(
    gateway, fake_time, tmp_path
):
    text = make_studio(gateway("cometapi-likely"), fake_time, tmp_path, key=KEY).diagnose().text()
    assert _line(text, AVATAR).endswith(
        "HTTP 400, JSON, CometAPI code task_not_exist - says unknown here"
    )
    text = make_studio(gateway("unserved-json-404"), fake_time, tmp_path, key=KEY).diagnose().text()
    assert _line(text, AVATAR).endswith('HTTP 404, JSON, "Invalid URL" - says unknown here')
    assert _line(text, GENERIC).endswith("Kling code 1203 - says unknown here")


def test_lookups_by_external_id_are_tried_on_a_task_made_here(
    gateway, fake_time, tmp_path, portrait_path, speech_path
):
    sim = gateway("kling", task_seconds=2, submit_seconds=1)
    studio = make_studio(sim, fake_time, tmp_path / "data", key=KEY)
    done = final(studio.generate(portrait_path, speech_path))
    job = done.job
    answered = studio.diagnose().text()
    assert _line(answered, "lookups by external id:") == (
        f"lookups by external id: answered (external id {job.job_id} gave task {job.task_id})"
    )
    sim.use_profile("no-external-ids")
    refused = studio.diagnose().text()
    assert _line(refused, "lookups by external id:").startswith(
        "lookups by external id: not answered"
    )
    assert sim.stats.count("create") == 1  # only the generate's own create


def test_a_refused_key_is_reported_and_the_check_fails(gateway, fake_time, tmp_path):
    sim = gateway("cometapi-codes", accepted_keys=["someone-else"])
    report = make_studio(sim, fake_time, tmp_path, key=KEY).diagnose()
    assert report.key_accepted is False and not report.ok
    assert "CometAPI code invalid_api_key" in _line(report.text(), AVATAR)


def _doctor_cli(sim: Simulator, data: Path, key: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AVATAR_", "COMETAPI_"))}
    env |= {"COMETAPI_BASE_URL": sim.base_url or "", "AVATAR_DATA_DIR": str(data)}
    if key:
        env["COMETAPI_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "avatar_core", "doctor"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip


def test_the_command_line_prints_the_report_without_the_key(tmp_path):
    with Simulator(profile="unserved-json-400", work_dir=tmp_path / "sim") as sim:
        done = _doctor_cli(sim, tmp_path / "data", KEY)
        refused = _doctor_cli(sim, tmp_path / "data", None)  # demo mode: the demo simulator
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Talking Avatar Studio ") and "key accepted: yes" in done.stdout
    assert "CometAPI code task_not_exist" in done.stdout and UNKNOWN_TASK_ID not in done.stdout
    assert KEY not in done.stdout + done.stderr
    assert refused.returncode == 0 and "demo mode: this is the built-in simulator" in refused.stdout
    assert sim.stats.count("create") == 0


def test_the_key_panels_button_shows_the_same_report_for_the_pasted_key(
    gateway, fake_time, tmp_path
):
    sim = gateway("kling")
    sessions = Sessions(make_studio(sim, fake_time, tmp_path / "data", key=None))
    shown = h.run_doctor(sessions, KEY)
    assert shown.startswith("```text\n") and shown.endswith("\n```")
    assert "key accepted: yes" in shown and f"set, {len(KEY)} characters (not shown)" in shown
    assert KEY not in shown
    demo = h.run_doctor(sessions, None)
    assert "demo mode" in demo and "key: the demo key" in demo


def test_in_demo_mode_the_lookup_asks_only_for_a_task_of_this_runs_simulator(
    fake_time, tmp_path, portrait_path, speech_path
):
    """Each demo run starts a new simulator: an earlier run's task is unknown to it."""
    data = tmp_path / "data"
    # the simulators share the studio's fake clock: on real time, the fake clock could run
    # through the follow deadline before the simulator's real 0.1 s had passed
    with Simulator(task_seconds=0.1, clock=fake_time.now, work_dir=tmp_path / "first") as first:
        earlier = make_studio(first, fake_time, data, key=None)
        final(earlier.generate(portrait_path, speech_path))
        earlier.close()
    with Simulator(task_seconds=0.1, clock=fake_time.now, work_dir=tmp_path / "second") as second:
        studio = make_studio(second, fake_time, data, key=None)
        text = studio.diagnose().text()
        studio.close()
    assert _line(text, "lookups by external id:").startswith("lookups by external id: could not")


def test_the_pages_report_on_the_apps_own_key_shows_no_visitors_job(
    simulator, fake_time, tmp_path, portrait_path, speech_path
):
    studio = make_studio(simulator, fake_time, tmp_path / "data")
    done = final(studio.generate(portrait_path, speech_path, visitor=studio.visitor("a")))
    assert studio.diagnose().text().count(done.job.job_id) >= 1  # the operator's report asks
    shown = h.run_doctor(Sessions(studio), None)  # a stranger's click on the page
    assert done.job.job_id not in shown and done.job.task_id not in shown
    assert "lookups by external id: could not" in shown
