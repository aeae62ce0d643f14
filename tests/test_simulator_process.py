"""`serve_forever` runs the simulator as its own process (what `python -m avatar_core
simulator` does): it prints its base URL, serves the API and the control routes, and stops
cleanly on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from simulator_support import AUTH, CREATE, GENERIC_QUERY, b64, image_bytes, tone

REPO = Path(__file__).resolve().parent.parent


def test_serve_forever_prints_its_url_serves_and_stops_on_ctrl_c():
    # Ctrl-C as at a terminal, even when this test runs from a shell's background job
    # (which starts its children with SIGINT ignored, and Python then leaves it ignored).
    code = (
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from avatar_core.simulator import serve_forever; "
        "serve_forever(host='127.0.0.1', port=0, task_seconds=0.0, submit_seconds=0.0)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        text=True, cwd=REPO,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert found, line
        base = found.group(0)
        with httpx.Client(base_url=base, headers=AUTH, timeout=60) as http:
            http.post("/_simulator/faults", json={"route": "query", "kind": "http", "status": 502})
            body = {"image": b64(image_bytes()), "sound_file": b64(tone(2.0)), "prompt": "Hi"}
            task_id = http.post(CREATE, json=body).json()["data"]["task_id"]
            assert http.get(GENERIC_QUERY + task_id).status_code == 502
            done = http.get(GENERIC_QUERY + task_id).json()["data"]
            assert done["task_status"] == "succeed"  # task_seconds=0: done at once
            assert http.get("/_simulator/stats").json()["creates"] == 1
    finally:
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors
    assert "Traceback" not in errors
