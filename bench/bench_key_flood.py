"""What a flood of strangers' requests costs the app: memory, the request budget, a paid job.

    python bench/bench_key_flood.py memory [--keys 200] [--sessions 4] [--rounds 1]
    python bench/bench_key_flood.py paid [--checks 150] [--lookups 200] [--sessions 10]

`python app.py` runs as a process against the project's simulator (in this process), as it
would be hosted in public on its operator's key.

`memory`: `--sessions` gradio_client sessions paste `--keys` different keys through
`/use_key` at once (the simulator accepts every key, so every key is kept as long as the app
keeps any). Prints the app's RSS before and after each of `--rounds` floods of new keys (the
growth is against the start of the same run), the key checks that reached the simulator a
second on average, and the most that arrived within any one second, against the request
budget (`AVATAR_MAX_QUERIES_PER_S`, 10 by default).

`paid`: a paid job's time (`/generate`, from the call to its video), first on a quiet app,
then while a flood runs: `--checks` key checks of keys the provider refuses (`/use_key`)
and `--lookups` lookups of task ids nobody made (`/status`) through a pasted key, so that
each reaches the provider, spread over `--sessions` sessions of each kind. Prints both
times, their ratio, and the flood's requests at the simulator while the job ran.

A benchmark, not a test: it prints figures and judges nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from gradio_client import Client, handle_file

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from avatar_core.simulator import Simulator  # noqa: E402

PORT = 7871
OPERATOR_KEY = "bench-operator-key"
PASTED_KEY = "sk-bench-pasted-key"  # accepted: its lookups reach the provider
IMAGE = ROOT / "assets" / "astronaut.jpg"
VOICE = ROOT / "assets" / "hello.mp3"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_app(base_url: str, data_dir: Path, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AVATAR_", "COMETAPI_"))}
    env.update(COMETAPI_KEY=OPERATOR_KEY, COMETAPI_BASE_URL=base_url,
               AVATAR_DATA_DIR=str(data_dir), GRADIO_SERVER_PORT=str(PORT),
               GRADIO_SERVER_NAME="127.0.0.1", GRADIO_ANALYTICS_ENABLED="False",
               **extra)  # fmt: skip
    with log.open("wb") as out:
        app = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, cwd=ROOT,
                               stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/config", timeout=2).status_code == 200:
                return app
        except httpx.HTTPError:
            time.sleep(0.5)
    app.kill()
    raise SystemExit(f"the app did not start:\n{log.read_text()}")


def client() -> Client:
    return Client(f"http://127.0.0.1:{PORT}", verbose=False)


def quietly(call: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):  # a refusal is what junk earns; the bench counts
        call()


def flood(keys: list[str], sessions: int) -> float:
    """Paste `keys` from `sessions` sessions at once; the seconds it took."""
    clients = [client() for _ in range(sessions)]
    started = time.monotonic()
    with ThreadPoolExecutor(sessions) as pool:
        list(pool.map(lambda n: [clients[n].predict(k, api_name="/use_key")
                                 for k in keys[n::sessions]], range(sessions)))  # fmt: skip
    return time.monotonic() - started


def busiest(sim: Simulator) -> str:
    found = getattr(sim.stats, "busiest_second", None)  # older simulators did not count it
    return "not counted" if found is None else str(found)


def memory(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder, Simulator(work_dir=Path(folder) / "sim") as sim:
        app = start_app(sim.base_url or "", Path(folder) / "data", Path(folder) / "app.log")
        try:
            client().predict(api_name="/history")
            start = rss_mb(app.pid)
            print(f"app RSS at start: {start:.0f} MB")
            for round_ in range(1, args.rounds + 1):
                sim.reset()
                keys = [f"sk-bench-{round_}-{n:05d}" for n in range(args.keys)]
                seconds = flood(keys, args.sessions)
                checks = sim.stats.count("query")
                now = rss_mb(app.pid)
                print(f"after flood {round_} ({args.keys} keys, {args.sessions} sessions): "
                      f"RSS {now:.0f} MB ({now - start:+.0f} MB since the start); {checks} key "
                      f"checks at the simulator in {seconds:.1f} s = {checks / seconds:.1f} a "
                      f"second, busiest second {busiest(sim)} (budget 10)")  # fmt: skip
        finally:
            app.terminate()
            app.wait(timeout=30)


def paid_job() -> float:
    """One job on the operator's key from a new session; its seconds, call to video."""
    started = time.monotonic()
    client().predict(handle_file(str(IMAGE)), handle_file(str(VOICE)), "", "std",
                     api_name="/generate")  # fmt: skip
    return time.monotonic() - started


def start_flood(args: argparse.Namespace, stop: threading.Event) -> list[threading.Thread]:
    """The flood's sessions, each asking until it is done or `stop` is set."""

    def checks(n: int) -> None:
        session = client()
        for k in range(n, args.checks, args.sessions):
            if stop.is_set():
                return
            quietly(lambda k=k: session.predict(f"sk-junk-{k:05d}", api_name="/use_key"))

    def lookups(n: int) -> None:
        session = client()
        session.predict(PASTED_KEY, api_name="/use_key")
        for k in range(n, args.lookups, args.sessions):
            if stop.is_set():
                return
            quietly(lambda k=k: session.predict(str(9 * 10**17 + k), api_name="/status"))

    threads = [threading.Thread(target=work, args=(n,), daemon=True)
               for work in (checks, lookups) for n in range(args.sessions)]  # fmt: skip
    for thread in threads:
        thread.start()
    return threads


def paid(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder, Simulator(
        task_seconds=args.task_seconds, work_dir=Path(folder) / "sim",
        accepted_keys=[OPERATOR_KEY, PASTED_KEY],
    ) as sim:  # fmt: skip
        limits = {"AVATAR_MAX_DAILY_PER_VISITOR": "0", "AVATAR_MAX_ACTIVE_PER_VISITOR": "0"}
        app = start_app(sim.base_url or "", Path(folder) / "data", Path(folder) / "app.log",
                        **limits)  # fmt: skip
        try:
            paid_job()  # warms the app up (first decode, first connection)
            quiet = paid_job()
            print(f"a paid job on a quiet app: {quiet:.1f} s")
            sim.reset()
            stop = threading.Event()
            threads = start_flood(args, stop)
            time.sleep(args.head_start)  # the flood is in full swing before the job comes
            flooded = paid_job()
            during = sim.stats.count("query")
            stop.set()
            for thread in threads:
                thread.join(timeout=120)
            print(f"the same job under a flood of {args.checks} key checks and "
                  f"{args.lookups} lookups through a pasted key ({args.sessions} sessions "
                  f"each): {flooded:.1f} s = {flooded / quiet:.2f}x the quiet run; "
                  f"{during} queries at the simulator meanwhile, busiest second "
                  f"{busiest(sim)} (budget 10)")  # fmt: skip
        finally:
            app.terminate()
            app.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    kinds = parser.add_subparsers(dest="kind", required=True)
    mem = kinds.add_parser("memory", help="memory and budget for a flood of pasted keys")
    mem.add_argument("--keys", type=int, default=200)
    mem.add_argument("--sessions", type=int, default=4)
    mem.add_argument("--rounds", type=int, default=1)
    job = kinds.add_parser("paid", help="a paid job's time, quiet and under a flood")
    job.add_argument("--checks", type=int, default=150)
    job.add_argument("--lookups", type=int, default=200)
    job.add_argument("--sessions", type=int, default=10)
    job.add_argument("--task-seconds", type=float, default=4.0)
    job.add_argument("--head-start", type=float, default=3.0)
    args = parser.parse_args()
    memory(args) if args.kind == "memory" else paid(args)


if __name__ == "__main__":
    main()
