"""A long speech: how fast it is split at its pauses, and how much memory the join takes.

    python bench/bench_long_speech.py [--minutes 10] [--part 60]

Made on the spot (nothing downloaded): `--minutes` of speech-like sound at 48 kHz stereo
(phrases of voiced tone, pauses of near-silence, silent edges), written to a WAV a phrase
at a time; the part videos are H.264 + AAC made by ffmpeg from a test pattern, as long as
each part (128×128, 25 fps: the picture's size does not change what the join holds).

Figures, each beside its baseline from the same run:

- split: `prepare_long_speech` (measure, leave out the silence, write the speech as sent,
  measure again, plan the cuts, cut the parts) against one plain ffmpeg decode of the same
  file to nowhere;
- join: the peak memory of the whole process tree (Python and every ffmpeg it starts,
  sampled from /proc every 20 ms, summed) while `join_parts` runs in a fresh process,
  against the same fresh process that only imports the join (target: peak under 300 MB
  for 10 minutes of 48 kHz stereo), and the size of that speech decoded whole (what
  holding it once would cost).

A benchmark, not a test: it prints figures and judges nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
import wave
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from avatar_core.inputs.ffmpeg import ffmpeg_exe, run_ffmpeg  # noqa: E402
from avatar_core.inputs.long_speech import prepare_long_speech  # noqa: E402
from avatar_core.media.join import frame_targets  # noqa: E402

MB = 1024 * 1024
RATE = 48_000


def write_speech(path: Path, seconds: float, seed: int = 3) -> None:
    """Speech-like stereo sound, a phrase at a time (never whole in memory)."""
    rng = np.random.default_rng(seed)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(RATE)
        written = 0
        total = int(seconds * RATE)

        def put(mono: np.ndarray) -> None:
            nonlocal written
            mono = mono[: total - written] + rng.normal(0, 1e-4, min(len(mono), total - written))
            both = np.stack([mono, 0.8 * mono], axis=1)
            out.writeframes(np.clip(both * 32767, -32768, 32767).astype("<i2").tobytes())
            written += len(mono)

        put(np.zeros(int(1.5 * RATE)))
        while written < total - 3 * RATE:
            length = int(rng.uniform(2.5, 9.0) * RATE)
            t = np.arange(length) / RATE
            phase = 2 * np.pi * np.cumsum(rng.uniform(110, 220) * (1 + 0.1 * np.sin(4 * t))) / RATE
            voice = sum(np.sin(k * phase) / k for k in range(1, 6))
            put(0.25 * voice * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t) ** 2))
            put(np.zeros(int(rng.uniform(0.5, 1.2) * RATE)))
        put(np.zeros(total - written))


def part_video(path: Path, frames: int) -> Path:
    seconds = frames / 25
    done = run_ffmpeg(
        ["-y", "-f", "lavfi", "-i", "testsrc2=size=128x128:rate=25",
         "-f", "lavfi", "-i", f"sine=frequency=300:sample_rate=44100:duration={seconds}",
         "-frames:v", str(frames), "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    return path


def _tree_rss_kb(root: int) -> int:
    """The resident memory of `root` and all its descendants, in KB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(entry.name)
        children.setdefault(int(fields.get("PPid", "0").strip()), []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def peak_of(code: str) -> tuple[float, float]:
    """(peak MB of the process tree, seconds) of `python -c code` in a fresh process."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE)
    peak = [0]

    def watch() -> None:
        while process.poll() is None:
            peak[0] = max(peak[0], _tree_rss_kb(process.pid))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    output = process.communicate()[0].decode()
    watcher.join()
    assert process.returncode == 0, code
    return peak[0] / 1024, time.perf_counter() - started, output.strip()


JOIN = """
import json
from pathlib import Path
from avatar_core.media.join import join_parts
job = json.loads(Path({job!r}).read_text())
joined = join_parts([Path(p) for p in job["videos"]], Path(job["speech"]), Path(job["out"]),
                    seams=job["seams"], work=Path(job["work"]), audio_s=job["audio_s"])
print(json.dumps(joined.reencoded))
"""
IMPORT_ONLY = "import avatar_core.media.join"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--part", type=float, default=60.0, help="the part limit, seconds")
    args = parser.parse_args()
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="bench-long-speech-") as folder:
        root = Path(folder)
        source = root / "speech.wav"
        write_speech(source, seconds)
        print(f"speech: {seconds:.0f} s, 48 kHz stereo WAV, {source.stat().st_size / MB:.0f} MB")

        started = time.perf_counter()
        decoded = run_ffmpeg(["-i", str(source), "-f", "null", "-"], timeout=600)
        assert decoded.returncode == 0
        baseline = time.perf_counter() - started
        started = time.perf_counter()
        long = prepare_long_speech(source, root / "made", max_part_s=args.part)
        split = time.perf_counter() - started
        print(f"baseline: one ffmpeg decode of it to nowhere: {baseline:.2f} s")
        print(
            f"split: {len(long.parts)} parts of at most {args.part:g} s, "
            f"{len(long.plan.cuts)} cuts ({sum(c.in_pause for c in long.plan.cuts)} in pauses), "
            f"{long.silence.removed_s:.1f} s of silence left out: {split:.2f} s "
            f"({split / baseline:.1f}x the plain decode, {seconds / split:.0f}x real time)"
        )

        floor, _, _ = peak_of(IMPORT_ONLY)
        print(f"baseline: a fresh process importing the join: peak {floor:.0f} MB")
        whole = long.seconds * RATE * 2 * 2 / MB
        print(f"(the speech decoded whole, 16-bit stereo, would be {whole:.0f} MB)")
        exact = frame_targets(long.plan.seams, long.seconds, Fraction(25))
        rounded = [max(1, round(part.seconds * 25)) for part in long.parts]
        cases = {
            "parts exactly as long as their spans": exact,
            "parts each rounded to its own length (seams drift)": rounded,
        }
        for number, (label, frames) in enumerate(cases.items()):
            case = root / f"case{number}"
            case.mkdir()
            videos = [str(part_video(case / f"v{i}.mp4", n)) for i, n in enumerate(frames)]
            job = case / "job.json"
            job.write_text(
                json.dumps(
                    {
                        "videos": videos,
                        "speech": str(long.speech),
                        "out": str(case / "joined.mp4"),
                        "seams": long.plan.seams,
                        "work": str(case / "work"),
                        "audio_s": long.seconds,
                    }
                )
            )
            peak, took, reencoded = peak_of(JOIN.format(job=str(job)))
            print(
                f"join, {label}: peak {peak:.0f} MB for the whole process tree "
                f"(Python + ffmpeg), {took:.1f} s, parts re-encoded: {reencoded or 'none'} "
                f"(target: peak under 300 MB)"
            )
        print(f"ffmpeg: {ffmpeg_exe()}")


if __name__ == "__main__":
    main()
