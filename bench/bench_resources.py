"""Memory and CPU of `python app.py` under strangers' requests, before and after the bounds.

    python bench/bench_resources.py [--before 6c65bd6] [--checks 8 32]

The same cases run against two copies of the app in one run: the code at `--before` (a
git revision, unpacked into a temporary folder with `git archive`) and this working tree.
Each case starts a fresh `python app.py` (on the simulator, run in this process, so its
work is not counted as the app's) and measures the app's RSS at rest, its peak while the
case runs (sampled every 50 ms), its RSS after, and its CPU seconds (its own and its
ffmpeg children's):

- N page voice checks at once (the voice box's change event, through Gradio's queue, as
  the page sends it) of a different 10-minute FLAC each (stereo 48 kHz, one second of
  tone in ten, about 2.8 MB; made here with ffmpeg), with trimming on; N is each of
  `--checks` (targets: 8 under 600 MB, 32 under 1 GB);
- 8 calls at once of the MCP tool `check_avatar_inputs` (through its API endpoint, as
  Gradio's MCP server calls it; at most 8 tool calls run at once), each with the link
  of a different uploaded 10-minute FLAC, trimming on (target: under 600 MB);
- a 200 MB JSON body to /gradio_api/queue/join (target: refused before it is read).

Uploads go in batches; a batch refused by the upload limit (30 files a minute for an
address) is sent again a minute later, so that the checks compare like with like.
A benchmark, not a test: it prints figures and judges nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MB = 1024 * 1024
TICKS = os.sysconf("SC_CLK_TCK")
BEFORE = "6c65bd6"  # main before issue 22's bounds (findings 5 and 7)


def unpack(revision: str, into: Path) -> Path:
    """The tree of `revision`, written into `into` (nothing of this checkout changes)."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision], cwd=ROOT, capture_output=True, check=True
    ).stdout
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def long_flacs(folder: Path, count: int) -> list[Path]:
    """`count` different 10-minute FLACs: one encoded, the others its copies with another
    title (a stream copy: the sound is the same, the bytes are not)."""
    from avatar_core.inputs.ffmpeg import run_ffmpeg

    folder.mkdir(parents=True, exist_ok=True)
    first = folder / "speech-0.flac"
    tone = "volume=-20dB,volume='if(lt(mod(t\\,10)\\,1)\\,1\\,0)':eval=frame"
    done = run_ffmpeg(["-f", "lavfi", "-i", "sine=f=220:r=48000:d=600", "-af", tone,
                       "-ac", "2", "-c:a", "flac", "-y", str(first)])  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    made = [first]
    for n in range(1, count):
        copy = folder / f"speech-{n}.flac"
        run_ffmpeg(["-i", str(first), "-c", "copy", "-metadata", f"title=speech {n}",
                    "-y", str(copy)])  # fmt: skip
        made.append(copy)
    return made


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_s(pid: int) -> float:
    """The process's CPU seconds, and its finished children's (ffmpeg)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / TICKS


class App:
    """`python app.py` of the tree at `root`, on loopback, with a folder of its own."""

    def __init__(self, root: Path, work: Path, provider_url: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        work.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COMETAPI_", "AVATAR_"))}
        env.update(PYTHONPATH=str(root), AVATAR_DATA_DIR=str(work / "data"),
                   GRADIO_TEMP_DIR=str(work / "gradio"), GRADIO_SERVER_NAME="127.0.0.1",
                   GRADIO_SERVER_PORT=str(self.port), COMETAPI_KEY="bench-key",
                   COMETAPI_BASE_URL=provider_url)  # fmt: skip
        self.log = (work / "app.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "app.py"], cwd=root, env=env, stdout=self.log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        for _ in range(600):
            try:
                if httpx.get(self.url + "config", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        time.sleep(1.0)
        config = httpx.get(self.url + "config", timeout=10).json()
        self.voice_checks = [  # the four triggers: a file, a URL typed or left, the trim box
            i
            for i, d in enumerate(config["dependencies"])
            if str(d.get("api_name")).startswith("check_voice")
        ]

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()

    def upload(self, files: list[Path]) -> list[str]:
        """Upload `files` in batches of 10; a batch refused for the minute goes again later."""
        paths: list[str] = []
        for start in range(0, len(files), 10):
            batch = files[start : start + 10]
            while True:
                answer = httpx.post(
                    self.url + "gradio_api/upload",
                    files=[("files", (p.name, p.read_bytes(), "audio/flac")) for p in batch],
                    timeout=120,
                )
                if answer.status_code != 429:
                    break
                print("    (upload limit for the minute: waiting 61 s)", flush=True)
                time.sleep(61)
            answer.raise_for_status()
            paths += answer.json()
        return paths

    def check_voice(self, path: str, trigger: int, answers: list[str]) -> None:
        """The page's voice check of an uploaded file, trimming on, through one of its
        triggers; its verdict's start."""
        session = uuid.uuid4().hex
        body = {"data": [{"path": path, "meta": {"_type": "gradio.FileData"}}, None, True, None],
                "fn_index": trigger, "session_hash": session, "event_data": None,
                "trigger_id": None}  # fmt: skip
        try:
            with httpx.Client(timeout=600) as http:
                joined = http.post(self.url + "gradio_api/queue/join", json=body)
                if joined.status_code != 200:
                    answers.append(f"join {joined.status_code}")
                    return
                with http.stream("GET", self.url + "gradio_api/queue/data",
                                 params={"session_hash": session}) as stream:  # fmt: skip
                    for line in stream.iter_lines():
                        message = json.loads(line[5:]) if line.startswith("data:") else {}
                        if message.get("msg") == "process_completed":
                            output = message.get("output") or {}
                            said = (output.get("data") or ["?"])[0]
                            if not message.get("success"):
                                said = output.get("error")
                            answers.append(str(said)[:40])
                            return
        except httpx.HTTPError as error:
            answers.append(type(error).__name__)


def measure(app: App, action) -> dict[str, object]:
    """RSS at rest, peak while `action` runs, after; CPU seconds and wall seconds."""
    pid = app.process.pid
    at_rest, cpu_before = _rss_mb(pid), _cpu_s(pid)
    peak, done = [at_rest], threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mb(pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.perf_counter()
    said = action()
    elapsed = time.perf_counter() - started
    time.sleep(1.0)
    done.set()
    watcher.join()
    return {"at rest MB": round(at_rest), "peak MB": round(peak[0]),
            "after MB": round(_rss_mb(pid)), "CPU s": round(_cpu_s(pid) - cpu_before, 1),
            "seconds": round(elapsed, 1), "answers": said}  # fmt: skip


def checks_at_once(app: App, paths: list[str]) -> str:
    """Check every uploaded path at once, spread over the voice check's triggers."""
    answers: list[str] = []
    triggers = app.voice_checks
    threads = [
        threading.Thread(target=app.check_voice, args=(p, triggers[n % len(triggers)], answers))
        for n, p in enumerate(paths)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts: dict[str, int] = {}
    for answer in answers:
        counts[answer] = counts.get(answer, 0) + 1
    return "; ".join(f"{n}× {a!r}" for a, n in sorted(counts.items()))


def tool_checks_at_once(app: App, paths: list[str]) -> str:
    """The MCP tool check_avatar_inputs on every uploaded path at once (its voice a link
    to the upload, trimming on); each verdict's start."""
    answers: list[str] = []

    def call(path: str) -> None:
        link = f"{app.url}gradio_api/file={path}"
        try:
            answer = httpx.post(app.url + "gradio_api/run/check_avatar_inputs",
                                json={"data": ["", link, True]}, timeout=600).json()  # fmt: skip
            answers.append(str(answer.get("data", [None, answer])[1])[:40])
        except (httpx.HTTPError, ValueError) as error:
            answers.append(type(error).__name__)

    threads = [threading.Thread(target=call, args=(p,)) for p in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts: dict[str, int] = {}
    for answer in answers:
        counts[answer] = counts.get(answer, 0) + 1
    return "; ".join(f"{n}× {a!r}" for a, n in sorted(counts.items()))


def large_body(app: App, size: int = 200 * MB) -> str:
    """POST a `size` JSON body to the queue; what the app answered and how much was sent."""
    sent = 0
    with socket.create_connection(("127.0.0.1", app.port), timeout=120) as connection:
        connection.sendall((
            "POST /gradio_api/queue/join HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
        ).encode())  # fmt: skip
        piece = b'{"data": ["' + b"x" * (MB - 20)
        connection.setblocking(False)
        answer = b""
        while sent < size:
            try:
                answer += connection.recv(65536)
                break  # answered before the body was sent
            except BlockingIOError:
                pass
            except OSError:
                break
            try:
                sent += connection.send(piece[: size - sent])
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:
                break
        connection.setblocking(True)
        connection.settimeout(60)
        with contextlib.suppress(OSError):
            answer += connection.recv(65536)
    status = answer.split(b"\r\n", 1)[0].decode(errors="replace") or "no answer"
    return f"{status}; {sent // MB} MB of {size // MB} MB sent"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default=BEFORE, help="the git revision to compare with")
    parser.add_argument("--checks", type=int, nargs="*", default=[8, 32])
    args = parser.parse_args()
    from avatar_core.simulator import Simulator

    with tempfile.TemporaryDirectory(prefix="bench-resources-") as folder:
        work = Path(folder)
        trees = {f"before ({args.before})": unpack(args.before, work / "before"),
                 "after (this tree)": ROOT}  # fmt: skip
        flacs = long_flacs(work / "flacs", max([8, *args.checks]))
        print(f"{len(flacs)} FLACs of 10 minutes, {flacs[0].stat().st_size / MB:.1f} MB each")
        with Simulator(task_seconds=1.0, submit_seconds=0.2, render_max_side=256) as sim:
            cases = [(f"{n} page voice checks at once, trimming", n) for n in args.checks]
            cases.append(("8 MCP check_avatar_inputs calls at once, trimming", -8))
            cases.append(("a 200 MB JSON body to /gradio_api/queue/join", 0))
            for title, n in cases:
                print(f"\n{title}:")
                for name, tree in trees.items():
                    app = App(tree, work / f"{name[:6]}-{n}", sim.base_url or "")
                    try:
                        if n > 0:
                            paths = app.upload(flacs[:n])
                            figures = measure(app, lambda app=app, p=paths: checks_at_once(app, p))
                        elif n < 0:
                            paths = app.upload(flacs[:-n])
                            figures = measure(
                                app, lambda app=app, p=paths: tool_checks_at_once(app, p)
                            )
                        else:
                            figures = measure(app, lambda app=app: large_body(app))
                    finally:
                        app.close()
                    print(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in figures.items()),
                          flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
