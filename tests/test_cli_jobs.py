"""`python -m avatar_core generate | status | resume` as a person runs them.

The CLI runs as a process of its own against a simulator served from the test process:
`python -m avatar_core` where the start matters (the streams of a first run, demo mode with
no key), elsewhere the same `main(argv)` in a child forked from a process that imported it
once (tests/cli_children.py), half a second of CPU less each; a command watched while it
waits is such a child started in the background. Tasks take a second or two of real time
(a process cannot share a fake clock). A task meant to outlast a command is ended by
pushing the simulator's clock forward once the command is seen waiting for it, so nobody
waits out its seconds.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_children import run_cli_child, start_cli_child
from fake_clock import FakeClock
from live import wait_until

from avatar_core.simulator import Simulator
from avatar_core.storage.journal import Journal, Stage

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def skip_time() -> FakeClock:
    """The simulator's clock: real time, pushed forward to end a task sooner."""
    return FakeClock(real_time=True)


@pytest.fixture(scope="module")
def live_sim(tmp_path_factory, skip_time):
    with Simulator(
        task_seconds=1.5,
        submit_seconds=0.3,
        clock=skip_time,
        work_dir=tmp_path_factory.mktemp("sim"),
    ) as sim:
        yield sim


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 120, quick: bool = True
) -> subprocess.CompletedProcess:
    """The command in a forked child (cli_children.py), with this process's environment and
    `env`; `quick`: its status checks and retries sooner than a person's command makes them
    (cli_children.QUICK_WAITS; the progress run and demo mode keep the product's pacing)."""
    return run_cli_child(*args, env={**os.environ, **env}, timeout=timeout, quick=quick)


def run_python_m(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess:
    """`python -m avatar_core ARGS`, started as a person starts it."""
    return subprocess.run(
        [sys.executable, "-m", "avatar_core", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


def run_cli_until(
    *args: str,
    env: dict[str, str],
    seen: Callable[[str], object],
    what: str,
    then: Callable[[], None],
) -> subprocess.CompletedProcess:
    """The command in the background (a forked child, with cli_children.QUICK_WAITS); once
    `seen(its stderr so far)` holds (`what` it waits for), `then()`; its finished run."""
    with tempfile.TemporaryDirectory(prefix="cli-until-") as folder:
        out, err = Path(folder) / "stdout", Path(folder) / "stderr"
        process = start_cli_child(*args, env={**os.environ, **env}, log=err, out=out, quick=True)

        def stderr_so_far() -> str:
            return err.read_text(encoding="utf-8", errors="replace")

        try:
            wait_until(lambda: seen(stderr_so_far()) or process.poll() is not None, what)
            then()
            process.wait(timeout=120)
        finally:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        return subprocess.CompletedProcess(
            process.args, process.returncode, out.read_text(encoding="utf-8"), stderr_so_far()
        )


@pytest.fixture
def env(live_sim, tmp_path) -> dict[str, str]:
    live_sim.reset()
    return {
        "COMETAPI_KEY": "cli-key",
        "COMETAPI_BASE_URL": live_sim.base_url,
        "AVATAR_DATA_DIR": str(tmp_path / "data"),
    }


def assert_no_traceback(done: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout


def test_generate_prints_progress_on_stderr_and_the_path_on_stdout_and_asks_for_no_callback(
    env, live_sim, portrait_path, speech_path, tmp_path
):
    """AVATAR_PUBLIC_URL names the app's callback route; the command line serves none, so
    it polls and asks for no callback it could not receive."""
    env = {**env, "AVATAR_PUBLIC_URL": "http://127.0.0.1:9/app"}
    out = tmp_path / "mine.mp4"
    done = run_python_m(
        "generate", "--image", str(portrait_path), "--audio", str(speech_path),
        "--mode", "pro", "--prompt", "Nod and smile", "--out", str(out), env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    assert out.read_bytes()[4:8] == b"ftyp"
    for step in ("preparing", "submitted", "running", "downloading", "done"):
        assert step in done.stderr
    assert "Demo mode" not in done.stderr
    stats = live_sim.stats
    assert stats.creates == 1
    assert stats.callbacks_sent == 0 and stats.callbacks_failed == 0


def test_bad_input_exits_2_with_one_line_and_sends_nothing(env, live_sim, tmp_path):
    from PIL import Image

    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (120, 120), "white").save(tiny)
    text = tmp_path / "voice.wav"
    text.write_text("not a wave file")
    done = run_cli("generate", "--image", str(tiny), "--audio", str(text), env=env)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert any("120×120" in line or "120x120" in line for line in lines)
    assert any("audio" in line.lower() for line in lines)
    assert_no_traceback(done)
    assert live_sim.stats.creates == 0
    assert Journal(env["AVATAR_DATA_DIR"]).recent() == []


def test_a_failed_task_exits_1_with_the_providers_reason_without_escape_sequences(
    env, live_sim, portrait_path, speech_path
):
    live_sim.plan_task(
        outcome="fail",
        reason="\x1b[2J\x1b[31mNo face\x1b[0m\x1b]0;owned\x07 here",
        task_seconds=0.4,
    )
    done = run_cli("generate", "--image", str(portrait_path), "--audio", str(speech_path), env=env)
    assert done.returncode == 1
    assert "No face here" in done.stderr.strip().splitlines()[-1]  # the reason, last
    assert done.stdout == ""
    assert "\x1b" not in done.stderr + done.stdout
    assert "owned" not in done.stderr
    assert_no_traceback(done)


def test_a_job_past_avatar_follow_deadline_is_finished_by_resume(
    env, live_sim, skip_time, portrait_path, speech_path
):
    """The follow deadline comes from AVATAR_FOLLOW_DEADLINE (`--timeout` gives it in
    test_status_looks_up_and_waits_for_any_task); `resume` finishes the job."""
    live_sim.plan_task(outcome="succeed", task_seconds=6.0)
    first = run_cli(
        "generate", "--image", str(portrait_path), "--audio", str(speech_path),
        env={**env, "AVATAR_FOLLOW_DEADLINE": "1"}, quick=False,
    )  # fmt: skip
    assert first.returncode == 1
    assert re.search(r"Task \d+ is still \w+ after 1 s", first.stderr.strip().splitlines()[-1])
    assert "resume" in first.stderr or "status" in first.stderr
    [job] = Journal(env["AVATAR_DATA_DIR"]).unfinished()
    assert job.stage is Stage.RUNNING

    queries = live_sim.stats.count("query")
    resumed = run_cli_until(
        "resume", env=env,
        seen=lambda _: live_sim.stats.count("query") > queries,
        what="resume to look the running task up", then=lambda: skip_time.advance(6.0),
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip().endswith(f"{job.task_id}.mp4")
    assert Journal(env["AVATAR_DATA_DIR"]).get(job.job_id).stage is Stage.DONE
    assert live_sim.stats.creates == 1


def test_status_looks_up_and_waits_for_any_task(
    env, live_sim, skip_time, portrait_path, speech_path
):
    live_sim.plan_task(outcome="succeed", task_seconds=6.0)
    first = run_cli(
        "generate", "--image", str(portrait_path), "--audio", str(speech_path),
        "--timeout", "0.2", env=env, quick=False,
    )  # fmt: skip
    [job] = Journal(env["AVATAR_DATA_DIR"]).unfinished()
    assert first.returncode == 1

    peek = run_cli("status", job.task_id, env=env)
    assert peek.returncode == 0
    assert f"task {job.task_id}:" in peek.stderr

    queries = live_sim.stats.count("query")
    waited = run_cli_until(
        "status", job.task_id, "--wait", env=env,
        seen=lambda _: live_sim.stats.count("query") > queries,
        what="status --wait to look the running task up", then=lambda: skip_time.advance(6.0),
    )  # fmt: skip
    assert waited.returncode == 0, waited.stderr
    assert Path(waited.stdout.strip()).is_file()


def test_an_unknown_task_is_one_line_and_exit_1(env):
    done = run_cli("status", "424242", env=env)
    assert done.returncode == 1
    assert "424242" in done.stderr
    assert_no_traceback(done)


def test_generate_speaks_chinese_with_a_voice_of_both_languages(env, live_sim, portrait_path):
    text = "你好，这是一段用中文说的测试语音。"
    live_sim.plan_task("succeed", task_seconds=0.4)
    done = run_cli(
        "generate", "--image", str(portrait_path), "--tts-text", text,
        "--voice-id", "genshin_vindi2", "--voice-language", "zh", env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "audio id" in done.stderr and Path(done.stdout.strip()).is_file()
    assert live_sim.stats.tts == 1 and live_sim.stats.creates == 1


@pytest.mark.parametrize(
    ("voice", "text", "words"),
    [
        (["--voice-id", "oversea_male1", "--voice-language", "zh"], "你好，世界。",
         "'oversea_male1' speaks English only, not Chinese"),
        (["--voice-id", "uk_man2"], "Far too long. " * 900, "would speak for about 642.9 s; one "
         "video carries at most 600.0 s of speech on this app"),
    ],
)  # fmt: skip
def test_speech_that_cannot_drive_an_avatar_exits_2_with_one_sentence(
    env, live_sim, portrait_path, voice, text, words
):
    done = run_cli("generate", "--image", str(portrait_path), "--tts-text", text, *voice, env=env)
    assert done.returncode == 2, done.stderr
    assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert live_sim.stats.creates == 0
    assert_no_traceback(done)


def test_without_a_key_the_cli_says_it_is_in_demo_mode(tmp_path, portrait_path, speech_path):
    env = {"AVATAR_DATA_DIR": str(tmp_path / "d"), "AVATAR_DEMO_TASK_SECONDS": "1"}
    clean = {k: v for k, v in os.environ.items() if k != "COMETAPI_KEY"}
    done = subprocess.run(
        [sys.executable, "-m", "avatar_core", "generate", "--image", str(portrait_path),
         "--audio", str(speech_path)],
        capture_output=True, text=True, env={**clean, **env}, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Demo mode" in done.stderr
    assert Path(done.stdout.strip()).is_file()


def test_an_unclear_create_says_how_to_look_it_up_and_resume_never_resends_it(
    env, live_sim, portrait_path, speech_path
):
    live_sim.use_profile("no-external-ids")
    live_sim.inject("create", "reset", after_create=True)
    try:
        done = run_cli(
            "generate", "--image", str(portrait_path), "--audio", str(speech_path),
            "--timeout", "1", env=env,
        )  # fmt: skip
        resumed = run_cli("resume", env=env)
    finally:
        live_sim.use_profile("kling")
    assert done.returncode == 1 and done.stdout == ""
    [job] = Journal(env["AVATAR_DATA_DIR"]).recent()
    assert "[    unclear] The create request got no clear answer" in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert f"python -m avatar_core status {job.job_id}" in last and "may cost twice" in last
    assert resumed.returncode == 1 and "0 job(s) finished, 1 could not be." in resumed.stderr
    assert job.stage is Stage.OUTCOME_UNKNOWN
    assert live_sim.stats.count("create") == 1
    assert_no_traceback(done)


def test_generate_waits_in_line_while_another_app_fills_the_account_and_says_so(
    env, live_sim, skip_time, portrait_path, speech_path
):
    import httpx
    from simulator_support import b64, image_bytes, tone

    live_sim.options.max_running_tasks = 1
    live_sim.plan_task("succeed", task_seconds=6)  # outlasts the command's start
    live_sim.plan_task("succeed", task_seconds=0.4)  # ours, once the other one has ended
    try:  # another app on the same key runs the one task at once
        body = {"image": b64(image_bytes()), "sound_file": b64(tone(2.5)), "prompt": "Hi."}
        other = httpx.post(
            live_sim.base_url + "/kling/v1/videos/avatar/image2video",
            json=body,
            headers={"Authorization": "Bearer cli-key"},
            timeout=30,
        )
        assert other.status_code == 200, other.text
        done = run_cli_until(  # the other app's task ends once ours says it waits for it
            "generate", "--image", str(portrait_path), "--audio", str(speech_path), env=env,
            seen=lambda stderr: "in_line" in stderr,
            what="the command to say it waits in line",
            then=lambda: skip_time.advance(6.0),
        )  # fmt: skip
    finally:
        live_sim.options.max_running_tasks = 0
    assert done.returncode == 0, done.stderr
    assert re.search(r"\[\s*in_line\] 1st in line, (under a minute|about \d+ min)\.", done.stderr)
    assert live_sim.stats.busy_refusals >= 1  # refused while the other app's task ran
    assert live_sim.stats.creates == 2  # the other app's, and ours once
    assert_no_traceback(done)
