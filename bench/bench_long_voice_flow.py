"""A long voice through the whole flow: does it take about one part's time, not the sum?

    python bench/bench_long_voice_flow.py [--minutes 5] [--task-seconds 15] [--at-once 5]

On loopback, against the simulator on the real clock (every task takes `--task-seconds`;
the account runs `--at-once` tasks at once, then answers 1303), in this process:

- baseline: one ordinary job of one 55 s part (the same portrait), from Generate to its
  video home;
- the long voice (`--minutes` of speech-like sound made here, split into parts of at most
  60 s): `LongVoiceRun` from the command to the joined video, with the account running
  `--at-once` tasks at once, then with one at a time (the line sends the parts one by one).

The target of the issue: at most 1.2 × the longest part + 10 s when the account runs as
many tasks at once as there are parts. A benchmark, not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_long_speech import write_speech  # noqa: E402

from avatar_core.config import Secret, Settings  # noqa: E402
from avatar_core.jobs.events import final_progress  # noqa: E402
from avatar_core.jobs.long_voice import LongVoiceRun  # noqa: E402
from avatar_core.jobs.studio import open_studio  # noqa: E402
from avatar_core.simulator import Simulator  # noqa: E402

PORTRAIT = ROOT / "assets" / "astronaut.jpg"


def timed(flow) -> float:
    started = time.perf_counter()
    asyncio.run(final_progress(flow))
    return time.perf_counter() - started


def phases(flow) -> dict[str, float]:
    """Seconds from the start to the split, to the last part's video home, to the end."""
    started = time.perf_counter()
    seen: dict[str, float] = {}

    async def run() -> None:
        async for event in flow:
            key = getattr(event.message, "key", "")
            seen[key] = time.perf_counter() - started

    asyncio.run(run())
    seen["end"] = time.perf_counter() - started
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--task-seconds", type=float, default=15.0)
    parser.add_argument("--at-once", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-long-voice-") as folder:
        root = Path(folder)
        voice = root / "voice.wav"
        write_speech(voice, args.minutes * 60)
        one = root / "one.wav"
        write_speech(one, 55.0, seed=5)
        for at_once in (args.at_once, 1):
            with Simulator(
                task_seconds=args.task_seconds,
                submit_seconds=1.0,
                max_running_tasks=at_once,
                render_max_side=128,
                work_dir=root / f"sim-{at_once}",
            ) as sim:
                settings = Settings(
                    api_key=Secret("bench-key"),
                    base_url=sim.base_url,
                    data_dir=root / f"data-{at_once}",
                    max_running_tasks=at_once,
                )
                studio = open_studio(settings)
                try:
                    if at_once == args.at_once:
                        alone = timed(studio.generate(str(PORTRAIT), str(one)))
                        print(f"baseline: one job of a 55 s part: {alone:.1f} s")
                    run = LongVoiceRun(studio, PORTRAIT, voice)
                    seen = phases(run.run())
                    took = seen["end"]
                    parts = sim.stats.creates - (1 if at_once == args.at_once else 0)
                finally:
                    studio.close()
                print(
                    f"long voice, {args.minutes:g} min in {parts} parts, {at_once} task(s) at "
                    f"once: {took:.1f} s ({took / alone:.2f}x one part; target at "
                    f"{args.at_once} at once: <= 1.2x + 10 s = {1.2 * alone + 10:.1f} s)"
                )
                print(
                    f"  split by {seen['long.split']:.1f} s, every part home by "
                    f"{seen['long.joining']:.1f} s, joined by {took:.1f} s"
                )


if __name__ == "__main__":
    main()
