"""Memory for very large pictures: small files that decode to hundreds of megabytes.

    python bench/bench_memory.py [--people 6] [--side 9000]

A PNG of 9000×9000 (81 megapixels) can be a few hundred kilobytes; decoded in full it is
324 MB of pixels before anything is resized. Cases (pictures made on the spot, each one
different, nothing downloaded):

- command line: `python -m avatar_core check` of one such PNG, peak RSS of that process
  (target: under 450 MB);
- app: `python app.py` while `--people` gradio_client sessions send a different such PNG
  each to `/generate` at once; the app's RSS at rest and its peak (target: under 1 GB for
  six). Its provider is the simulator, run in this process (so that the simulator's own
  rendering is not counted as the app's).

A benchmark, not a test: it prints figures and judges nothing.
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEECH = ROOT / "assets" / "hello.mp3"
MB = 1024 * 1024


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def large_png(path: Path, side: int, seed: int) -> None:
    """An 8-bit RGB PNG of side×side in horizontal bands of colour, written row by row
    (this process never holds the picture); `seed` makes each file's pixels different."""
    squeeze = zlib.compressobj(9)
    parts = []
    for y in range(side):
        shade = (seed * 37 + y // 300) % 256
        row = bytes((shade, (shade + 80) % 256, (seed * 11 + y // 7) % 256)) * side
        parts.append(squeeze.compress(b"\x00" + row))
    parts.append(squeeze.flush())
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMETAPI_", "AVATAR_"))}
    env.update(PYTHONPATH=str(ROOT), AVATAR_DATA_DIR=str(data_dir), **extra)
    return env


def cli_check_peak(picture: Path, data_dir: Path) -> tuple[float, float, str]:
    """(peak RSS in MB, seconds, last line) of `check` on `picture` in a fresh process.

    wait4's ru_maxrss is the child's own peak (this process stays small: it imports
    nothing heavy before this runs)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "avatar_core", "check", "--image", str(picture),
         "--audio", str(SPEECH)],
        cwd=ROOT,
        env=_env(data_dir, COMETAPI_KEY="bench-key", COMETAPI_BASE_URL="http://127.0.0.1:9"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    output = process.stdout.read().decode(errors="replace") if process.stdout else ""
    _, _, usage = os.wait4(process.pid, 0)
    process.returncode = 0
    last = output.strip().splitlines()[-1] if output.strip() else ""
    return usage.ru_maxrss / 1024, time.perf_counter() - started, last


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_peak(
    pictures: list[Path], data_dir: Path, provider_url: str
) -> dict[str, float | int | str]:
    """The app's RSS at rest and at its peak while every picture is sent at once."""
    import httpx
    from gradio_client import Client, handle_file

    port = _free_port()
    log = data_dir.parent / "app.log"
    with log.open("wb") as out:
        app = subprocess.Popen(
            [sys.executable, "app.py"],
            cwd=ROOT,
            env=_env(data_dir, GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1",
                     COMETAPI_KEY="bench-key", COMETAPI_BASE_URL=provider_url),
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "config", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        time.sleep(1.0)
        at_rest = _status_kb(app.pid, "VmRSS") / 1024
        answers: list[str] = []
        peak_seen = [0.0]
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                peak_seen[0] = max(peak_seen[0], _status_kb(app.pid, "VmRSS") / 1024)
                time.sleep(0.05)

        def send(picture: Path) -> None:
            try:
                client = Client(url, verbose=False)
                client.predict(
                    handle_file(str(picture)), handle_file(str(SPEECH)), "", "std",
                    api_name="/generate",
                )  # fmt: skip
                answers.append("video")
            except Exception as error:  # a benchmark reports, it does not judge
                answers.append(f"{type(error).__name__}: {error}"[:160])

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        started = time.perf_counter()
        senders = [threading.Thread(target=send, args=(p,)) for p in pictures]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        elapsed = time.perf_counter() - started
        done.set()
        watcher.join()
        return {
            "at rest MB": round(at_rest),
            "peak RSS MB (sampled)": round(peak_seen[0]),
            "VmHWM MB (whole life)": round(_status_kb(app.pid, "VmHWM") / 1024),
            "seconds": round(elapsed, 1),
            "answers": ", ".join(sorted(set(answers))),
        }
    finally:
        app.terminate()
        try:
            app.wait(timeout=20)
        except subprocess.TimeoutExpired:
            app.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=6)
    parser.add_argument("--side", type=int, default=9000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder:
        root = Path(folder)
        pictures = []
        for seed in range(max(1, args.people)):
            picture = root / f"large-{seed}.png"
            large_png(picture, args.side, seed)
            pictures.append(picture)
        megapixels = args.side * args.side / 1e6
        size_kb = pictures[0].stat().st_size // 1024
        print(f"pictures: {len(pictures)} PNGs of {args.side}×{args.side} ({megapixels:.0f} MP), "
              f"about {size_kb} KB each")  # fmt: skip
        rss, seconds, last = cli_check_peak(pictures[0], root / "cli-data")
        print(f"command line check: peak RSS {rss:.0f} MB in {seconds:.1f} s (target < 450 MB)")
        print(f"  last line: {last}")
        sys.path.insert(0, str(ROOT))
        from avatar_core.simulator import Simulator

        with Simulator(task_seconds=1.0, submit_seconds=0.2, render_max_side=256) as sim:
            figures = app_peak(pictures, root / "app-data", sim.base_url or "")
        print(f"app, {len(pictures)} at once (target < 1024 MB):")
        for name, value in figures.items():
            print(f"  {name}: {value}")


if __name__ == "__main__":
    main()
