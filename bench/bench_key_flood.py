"""What a flood of pasted keys costs the app: memory, and requests to the provider.

    python bench/bench_key_flood.py [--keys 400] [--sessions 4] [--rounds 2]

`python app.py` runs as a process against the project's simulator (which accepts every
key, so every key is kept as long as the app keeps any); `--sessions` gradio_client
sessions paste `--keys` different keys through `/use_key` at once. Prints the app's RSS
before, after the flood and after a second flood (memory that only grows shows there),
and the key checks that reached the simulator per second against the request budget
(`AVATAR_MAX_QUERIES_PER_S`, 10 by default), after each of `--rounds` floods of new keys.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from gradio_client import Client

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from avatar_core.simulator import Simulator  # noqa: E402

PORT = 7871


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_app(base_url: str, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AVATAR_", "COMETAPI_"))}
    env.update(COMETAPI_KEY="bench-operator-key", COMETAPI_BASE_URL=base_url,
               AVATAR_DATA_DIR=str(data_dir), GRADIO_SERVER_PORT=str(PORT),
               GRADIO_SERVER_NAME="127.0.0.1", GRADIO_ANALYTICS_ENABLED="False")  # fmt: skip
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


def flood(keys: list[str], sessions: int) -> float:
    """Paste `keys` from `sessions` sessions at once; the seconds it took."""
    clients = [Client(f"http://127.0.0.1:{PORT}", verbose=False) for _ in range(sessions)]
    started = time.monotonic()
    with ThreadPoolExecutor(sessions) as pool:
        list(pool.map(lambda n: [clients[n].predict(k, api_name="/use_key")
                                 for k in keys[n::sessions]], range(sessions)))  # fmt: skip
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=400)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, Simulator(work_dir=Path(folder) / "sim") as sim:
        app = start_app(sim.base_url or "", Path(folder) / "data", Path(folder) / "app.log")
        try:
            Client(f"http://127.0.0.1:{PORT}", verbose=False).predict(api_name="/history")
            print(f"app RSS at start: {rss_mb(app.pid):.0f} MB")
            for round_ in range(1, args.rounds + 1):
                before = sim.stats.count("query")
                keys = [f"sk-bench-{round_}-{n:05d}" for n in range(args.keys)]
                seconds = flood(keys, args.sessions)
                checks = sim.stats.count("query") - before
                print(f"after flood {round_} ({args.keys} keys, {args.sessions} sessions): "
                      f"RSS {rss_mb(app.pid):.0f} MB; {checks} key checks at the simulator in "
                      f"{seconds:.1f} s = {checks / seconds:.1f} a second")  # fmt: skip
        finally:
            app.terminate()
            app.wait(timeout=30)


if __name__ == "__main__":
    main()
