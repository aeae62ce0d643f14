"""Waiting costs nothing: this app against a naive baseline, side by side, in one run.

    python bench/bench_waiting.py [--people 200] [--task-seconds 20] [--latency-tasks 10]

Everything runs here against the project's simulator (real clock, a provider-like rate
limit): this app (`python app.py`, a subprocess) and `bench/naive_app.py` (a blocking
handler, a fixed 5 s sleep, Gradio's default concurrency). Both are driven through
gradio_client's `/generate`, as a program or a browser would. It reports:

- added latency: from the provider's own success time to the video in the caller's hands
  (p50/p95), polling only and with provider callbacks, and queries per task;
- N people at once: wall time, failures, peak threads and peak RSS of the app process,
  and how many requests the provider refused with 429;
- the baseline under the same load, within a time budget (it serves one person at a time).

A benchmark, not a test: it prints figures and judges nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from gradio_client import Client, handle_file

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from avatar_core.simulator import Simulator  # noqa: E402

IMAGE = ROOT / "assets" / "astronaut.jpg"
AUDIO = ROOT / "assets" / "hello.mp3"
KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ProcessPeaks:
    """Peak threads and RSS of a process, sampled from /proc."""

    pid: int
    threads: int = 0
    rss_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{self.pid}/status").read_text()
                for line in status.splitlines():
                    if line.startswith("Threads:"):
                        self.threads = max(self.threads, int(line.split()[1]))
                    elif line.startswith("VmHWM:"):
                        self.rss_mb = max(self.rss_mb, int(line.split()[1]) / 1024)

    def start(self) -> ProcessPeaks:
        threading.Thread(target=self._sample, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()


@contextlib.contextmanager
def running(script: str, env: dict[str, str]) -> Iterator[tuple[str, ProcessPeaks]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    full_env = {**os.environ, **env, "GRADIO_SERVER_PORT": str(port)}
    full_env["GRADIO_SERVER_NAME"] = "127.0.0.1"
    if "AVATAR_PUBLIC_URL" in env:
        full_env["AVATAR_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, script],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        peaks = ProcessPeaks(process.pid).start()
        yield url, peaks
        peaks.stop()
    finally:
        process.terminate()
        process.wait(30)


@dataclass
class Outcome:
    latencies: list[float]
    failures: int
    wall_s: float
    delivered: int


def provider_success_time(sim: Simulator, task_id: str) -> float:
    """Asked of the simulator directly: a query would count as the app's traffic."""
    finished = sim.succeeded_at_ms(task_id)
    if finished is None:
        raise LookupError(f"task {task_id} was not planned to succeed")
    return finished / 1000


def run_people(
    sim: Simulator, url: str, people: int, *, gap_s: float = 0.0, budget_s: float = 900
) -> Outcome:
    """`people` requests to /generate, `gap_s` apart; waits at most `budget_s`."""
    client = Client(url, verbose=False, max_workers=max(people, 40))
    received: dict[int, float] = {}
    lock = threading.Lock()
    jobs = []
    start = time.time()
    for n in range(people):
        job = client.submit(
            handle_file(str(IMAGE)), handle_file(str(AUDIO)), "", "std", api_name="/generate"
        )

        def note(_: object, n: int = n) -> None:
            with lock:
                received[n] = time.time()

        job.add_done_callback(note)
        jobs.append(job)
        if gap_s:
            time.sleep(gap_s)
    deadline = start + budget_s
    while time.time() < deadline and len(received) < people:
        time.sleep(0.2)
    latencies, failures = [], 0
    for n, job in enumerate(jobs):
        if n not in received:
            continue
        try:
            task_id = Path(job.result(timeout=1)).stem
        except Exception:
            failures += 1
            continue
        latencies.append(received[n] - provider_success_time(sim, task_id))
    wall = (max(received.values()) if received else time.time()) - start
    for job in jobs:
        job.cancel()
    client.close()
    return Outcome(latencies, failures, wall, len(latencies))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def queries_and_429s(sim: Simulator, before: tuple[int, int]) -> tuple[int, int]:
    stats = sim.stats
    refused = sum(n for (_, status), n in stats.requests.items() if status == 429)
    return stats.count("query") - before[0], refused - before[1]


def snapshot(sim: Simulator) -> tuple[int, int]:
    return queries_and_429s(sim, (0, 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--task-seconds", type=float, default=20.0)
    parser.add_argument("--latency-tasks", type=int, default=10)
    parser.add_argument("--provider-rate", type=float, default=50.0, help="provider 429 limit")
    parser.add_argument("--baseline-budget", type=float, default=90.0)
    parser.add_argument("--jitter", type=float, default=2.0, help="± seconds on task length")
    parser.add_argument(
        "--crowd-rate", type=float, default=25.0, help="a larger request budget for the crowd"
    )
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []

    with (
        tempfile.TemporaryDirectory() as tmp,
        Simulator(
            task_seconds=args.task_seconds,
            submit_seconds=1.0,
            rate_limit_per_s=args.provider_rate,
            task_seconds_jitter=args.jitter,
            work_dir=Path(tmp) / "sim",
        ) as sim,
    ):
        env = {"COMETAPI_KEY": KEY, "COMETAPI_BASE_URL": sim.base_url}
        ours = {**env, "AVATAR_DATA_DIR": str(Path(tmp) / "ours")}
        app = str(ROOT / "app.py")

        with running(app, ours) as (url, _):
            run_people(sim, url, 1)  # warm-up: the app learns how long tasks take
            before = snapshot(sim)
            poll = run_people(sim, url, args.latency_tasks, gap_s=1.0)
            poll_queries, _ = queries_and_429s(sim, before)
        with running(app, {**ours, "AVATAR_PUBLIC_URL": "set"}) as (url, _):
            before = snapshot(sim)
            called = run_people(sim, url, args.latency_tasks, gap_s=1.0)
            called_queries, _ = queries_and_429s(sim, before)
        crowds = {}
        for rate in (10.0, args.crowd_rate):
            budget = {**ours, "AVATAR_MAX_QUERIES_PER_S": str(rate)}
            with running(app, budget) as (url, peaks):
                before = snapshot(sim)
                outcome = run_people(sim, url, args.people)
                queries, refused = queries_and_429s(sim, before)
                crowds[rate] = (outcome, queries, refused, peaks.threads, peaks.rss_mb)

        naive = {**env, "AVATAR_DATA_DIR": str(Path(tmp) / "naive")}
        with running(str(ROOT / "bench" / "naive_app.py"), naive) as (url, peaks):
            before = snapshot(sim)
            base_one = run_people(sim, url, 3)
            base_one_queries, _ = queries_and_429s(sim, before)
            before = snapshot(sim)
            base_crowd = run_people(sim, url, args.people, budget_s=args.baseline_budget)
            base_crowd_queries, base_429 = queries_and_429s(sim, before)
            base_peaks = (peaks.threads, peaks.rss_mb)

    def lat(o: Outcome) -> str:
        return f"{pct(o.latencies, 0.5):.2f} / {pct(o.latencies, 0.95):.2f} s"

    per_task = args.task_seconds
    rows += [
        ("added latency p50 / p95, polling only", lat(poll), lat(base_one)),
        ("added latency p50 / p95, with callbacks", lat(called), "n/a"),
        (
            f"queries per task ({per_task:.0f} s tasks), polling only",
            f"{poll_queries / max(1, poll.delivered):.1f}",
            f"{base_one_queries / max(1, base_one.delivered):.1f}",
        ),
        (
            "queries per task, with callbacks",
            f"{called_queries / max(1, called.delivered):.1f}",
            "n/a",
        ),
    ]
    for rate, (crowd, queries, refused, threads, rss) in crowds.items():
        who = f"{args.people} at once, {rate:.0f} req/s budget"
        base = rate == 10.0
        rows += [
            (
                f"{who}: delivered",
                f"{crowd.delivered} of {args.people} in {crowd.wall_s:.1f} s",
                f"{base_crowd.delivered} of {args.people} in {args.baseline_budget:.0f} s"
                if base
                else "",
            ),
            (f"{who}: failures", str(crowd.failures), str(base_crowd.failures) if base else ""),
            (f"{who}: added latency p50 / p95", lat(crowd), lat(base_crowd) if base else ""),
            (
                f"{who}: peak threads / peak RSS",
                f"{threads} / {rss:.0f} MB",
                f"{base_peaks[0]} / {base_peaks[1]:.0f} MB" if base else "",
            ),
            (f"{who}: provider 429s", str(refused), str(base_429) if base else ""),
            (
                f"{who}: queries per task",
                f"{queries / max(1, crowd.delivered):.1f}",
                f"{base_crowd_queries / max(1, base_crowd.delivered):.1f}" if base else "",
            ),
        ]
    print("| measure | this app | naive baseline |")
    print("|---|---|---|")
    for name, mine, theirs in rows:
        print(f"| {name} | {mine} | {theirs} |")


if __name__ == "__main__":
    main()
