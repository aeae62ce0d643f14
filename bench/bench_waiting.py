"""Waiting costs nothing: this app against a naive baseline, side by side, in one run.

    python bench/bench_waiting.py [--people 200] [--task-seconds 20] [--latency-tasks 10]
        [--cli-tasks 10] [--sections latency,callbacks,crowd,baseline,cli] [--root DIR]

Everything runs here against the project's simulator (real clock, a provider-like rate
limit): this app (`python app.py`, a subprocess) and `bench/naive_app.py` (a blocking
handler, a fixed 5 s sleep, Gradio's default concurrency). Both are driven through
gradio_client's `/generate`, as a program or a browser would. The command line
(`python -m avatar_core generate`) runs as one subprocess per task, one task after another,
with one data folder for the whole series (so its journal can teach the pacing). It reports:

- added latency: from the provider's own success time to the video in the caller's hands
  (p50/p95), polling only and with provider callbacks, and queries per task;
- N people at once: wall time, failures, peak threads and peak RSS of the app process,
  and how many requests the provider refused with 429;
- the baseline under the same load, within a time budget (it serves one person at a time);
- the command line: added latency to the video's path on its stdout and to its exit
  (p50/p95), and queries per task.

`--sections` picks what runs (sections: latency, callbacks, crowd, baseline, cli), so a
run stays short. `--root DIR` runs the app and the command line from another checkout (the
working directory and the `sys.path` of their processes), so the same benchmark measures an
older commit; the simulator and the baseline stay this checkout's. The command line against
the app, for one checkout, in about three minutes:

    python bench/bench_waiting.py --sections latency,cli --task-seconds 10 --jitter 1 \
        --root ../older-checkout

A benchmark, not a test: it prints figures and judges nothing. On a shared machine they
move from run to run: compare runs made alternately, not a single pair.
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
SECTIONS = ("latency", "callbacks", "crowd", "baseline", "cli")
CLI_INPUTS = ("--image", "assets/astronaut.jpg", "--audio", "assets/hello.mp3")


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


def process_env(root: Path, env: dict[str, str]) -> dict[str, str]:
    """This process's environment with `env` on top and `root` first on `sys.path`."""
    paths = [str(root), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, **env, "PYTHONPATH": os.pathsep.join(paths)}


@contextlib.contextmanager
def running(
    script: str, env: dict[str, str], root: Path = ROOT
) -> Iterator[tuple[str, ProcessPeaks]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    full_env = {**process_env(root, env), "GRADIO_SERVER_PORT": str(port)}
    full_env["GRADIO_SERVER_NAME"] = "127.0.0.1"
    if "AVATAR_PUBLIC_URL" in env:
        full_env["AVATAR_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, script],
        cwd=root,
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


@dataclass
class CliRun:
    """One `python -m avatar_core generate`: when its video path appeared and it exited."""

    code: int
    exited: float
    printed: float | None = None
    task_id: str | None = None
    last_error: str = ""


def run_cli(root: Path, env: dict[str, str], timeout_s: float) -> CliRun:
    """One task through the command line, as a person or a script would run it."""
    with tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "avatar_core", "generate", *CLI_INPUTS],
            cwd=root,
            env=process_env(root, env),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        killer = threading.Timer(timeout_s, process.kill)
        killer.start()
        printed = task_id = None
        try:
            assert process.stdout is not None
            for line in process.stdout:  # the path is the only line on stdout
                if printed is None and line.strip().endswith(".mp4"):
                    printed = time.time()
                    task_id = Path(line.strip()).stem
            code = process.wait()
            exited = time.time()
        finally:
            killer.cancel()
        err.seek(0)
        said = err.read().strip().splitlines()
    return CliRun(code, exited, printed, task_id, said[-1] if said else "")


@dataclass
class CliOutcome:
    to_path: Outcome  # added latency to the video path on stdout
    to_exit: list[float]  # added latency to the process's exit
    queries: int


def run_cli_series(
    sim: Simulator, root: Path, env: dict[str, str], tasks: int, warmup: int, timeout_s: float
) -> CliOutcome:
    """`warmup` uncounted tasks, then `tasks` counted ones, one after another."""
    for _ in range(warmup):
        run_cli(root, env, timeout_s)
    before = snapshot(sim)
    start = time.time()
    to_path, to_exit, failures = [], [], 0
    for _ in range(tasks):
        run = run_cli(root, env, timeout_s)
        if run.code != 0 or run.task_id is None or run.printed is None:
            failures += 1
            print(f"command line failed ({run.code}): {run.last_error}", file=sys.stderr)
            continue
        success = provider_success_time(sim, run.task_id)
        to_path.append(run.printed - success)
        to_exit.append(run.exited - success)
    queries, _ = queries_and_429s(sim, before)
    outcome = Outcome(to_path, failures, time.time() - start, len(to_path))
    return CliOutcome(outcome, to_exit, queries)


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


def sections_arg(text: str) -> set[str]:
    chosen = {name.strip() for name in text.split(",") if name.strip()}
    unknown = chosen - set(SECTIONS)
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"choose among {', '.join(SECTIONS)} (got {', '.join(sorted(unknown)) or 'none'})"
        )
    return chosen


def describe(root: Path) -> str:
    """The checkout's commit, for the heading of the figures."""
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        line = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%h %s"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return line if len(line) <= 60 else line[:59] + "…"
    return "not a git checkout"


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
    parser.add_argument("--cli-tasks", type=int, default=10, help="counted command-line tasks")
    parser.add_argument(
        "--cli-warmup", type=int, default=1, help="uncounted command-line tasks first"
    )
    parser.add_argument(
        "--sections",
        type=sections_arg,
        default=set(SECTIONS),
        help=f"comma-separated, among {','.join(SECTIONS)} (default: all)",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        help="the checkout whose app.py and avatar_core run (default: this one)",
    )
    args = parser.parse_args()
    sections: set[str] = args.sections
    root: Path = args.root.resolve()
    if not (root / "app.py").is_file() or not (root / "avatar_core").is_dir():
        parser.error(f"{root} holds no app.py and avatar_core")
    rows: list[tuple[str, str, str]] = []
    poll = called = base_one = base_crowd = cli = None
    poll_queries = called_queries = base_one_queries = base_crowd_queries = base_429 = 0
    base_peaks = (0, 0.0)
    crowds = {}

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
        app = str(root / "app.py")

        if "latency" in sections:
            with running(app, ours, root) as (url, _):
                run_people(sim, url, 1)  # warm-up: the app learns how long tasks take
                before = snapshot(sim)
                poll = run_people(sim, url, args.latency_tasks, gap_s=1.0)
                poll_queries, _ = queries_and_429s(sim, before)
        if "callbacks" in sections:
            with running(app, {**ours, "AVATAR_PUBLIC_URL": "set"}, root) as (url, _):
                if poll is None:
                    run_people(sim, url, 1)  # the same warm-up, when it runs alone
                before = snapshot(sim)
                called = run_people(sim, url, args.latency_tasks, gap_s=1.0)
                called_queries, _ = queries_and_429s(sim, before)
        for rate in (10.0, args.crowd_rate) if "crowd" in sections else ():
            budget = {**ours, "AVATAR_MAX_QUERIES_PER_S": str(rate)}
            with running(app, budget, root) as (url, peaks):
                before = snapshot(sim)
                outcome = run_people(sim, url, args.people)
                queries, refused = queries_and_429s(sim, before)
                crowds[rate] = (outcome, queries, refused, peaks.threads, peaks.rss_mb)

        if "baseline" in sections:
            naive = {**env, "AVATAR_DATA_DIR": str(Path(tmp) / "naive")}
            with running(str(ROOT / "bench" / "naive_app.py"), naive) as (url, peaks):
                before = snapshot(sim)
                base_one = run_people(sim, url, 3)
                base_one_queries, _ = queries_and_429s(sim, before)
                before = snapshot(sim)
                base_crowd = run_people(sim, url, args.people, budget_s=args.baseline_budget)
                base_crowd_queries, base_429 = queries_and_429s(sim, before)
                base_peaks = (peaks.threads, peaks.rss_mb)

        if "cli" in sections:
            cli_env = {**env, "AVATAR_DATA_DIR": str(Path(tmp) / "cli")}
            timeout = 3 * args.task_seconds + 120
            cli = run_cli_series(sim, root, cli_env, args.cli_tasks, args.cli_warmup, timeout)

    def lat(o: Outcome | None) -> str:
        if o is None:
            return ""
        return f"{pct(o.latencies, 0.5):.2f} / {pct(o.latencies, 0.95):.2f} s"

    def per(queries: int, o: Outcome | None) -> str:
        return "" if o is None else f"{queries / max(1, o.delivered):.1f}"

    per_task = args.task_seconds
    if poll is not None or base_one is not None:
        rows.append(("added latency p50 / p95, polling only", lat(poll), lat(base_one)))
    if called is not None:
        rows.append(("added latency p50 / p95, with callbacks", lat(called), "n/a"))
    if poll is not None or base_one is not None:
        rows.append(
            (
                f"queries per task ({per_task:.0f} s tasks), polling only",
                per(poll_queries, poll),
                per(base_one_queries, base_one),
            )
        )
    if called is not None:
        rows.append(("queries per task, with callbacks", per(called_queries, called), "n/a"))
    rates = (10.0, args.crowd_rate) if crowds else (10.0,) if base_crowd else ()
    for rate in rates:
        crowd, queries, refused, threads, rss = crowds.get(rate, (None, 0, 0, 0, 0.0))
        who = f"{args.people} at once, {rate:.0f} req/s budget"
        base = base_crowd if rate == 10.0 else None
        rows += [
            (
                f"{who}: delivered",
                f"{crowd.delivered} of {args.people} in {crowd.wall_s:.1f} s" if crowd else "",
                f"{base.delivered} of {args.people} in {args.baseline_budget:.0f} s"
                if base
                else "",
            ),
            (
                f"{who}: failures",
                str(crowd.failures) if crowd else "",
                str(base.failures) if base else "",
            ),
            (f"{who}: added latency p50 / p95", lat(crowd), lat(base)),
            (
                f"{who}: peak threads / peak RSS",
                f"{threads} / {rss:.0f} MB" if crowd else "",
                f"{base_peaks[0]} / {base_peaks[1]:.0f} MB" if base else "",
            ),
            (f"{who}: provider 429s", str(refused) if crowd else "", str(base_429) if base else ""),
            (f"{who}: queries per task", per(queries, crowd), per(base_crowd_queries, base)),
        ]
    if cli is not None:
        exits = Outcome(cli.to_exit, 0, 0.0, len(cli.to_exit))
        who = "command line, one task at a time"
        rows += [
            (f"{who}: delivered", f"{cli.to_path.delivered} of {args.cli_tasks}", "n/a"),
            (f"{who}: added latency p50 / p95, to the path printed", lat(cli.to_path), "n/a"),
            (f"{who}: added latency p50 / p95, to the exit", lat(exits), "n/a"),
            (
                f"{who}: queries per task ({per_task:.0f} s tasks)",
                per(cli.queries, cli.to_path),
                "n/a",
            ),
        ]
    print(
        f"Ran from {root} ({describe(root)}); sections {','.join(sorted(sections))}; "
        f"tasks {per_task:g} ± {args.jitter:g} s.\n"
    )
    print("| measure | this app | naive baseline |")
    print("|---|---|---|")
    for name, mine, theirs in rows:
        print(f"| {name} | {mine} | {theirs} |")


if __name__ == "__main__":
    main()
