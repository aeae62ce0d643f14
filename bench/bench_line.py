"""Fifty visitors at once on an account that runs five tasks at once: the fair line.

    python bench/bench_line.py [--visitors 50] [--limit 5] [--task-seconds 1] [--rate 50]

The project's simulator (in this process, real time) runs `--limit` tasks at once per
account and answers 1303 past it; every task takes `--task-seconds`. Three runs, each
with a fresh studio and data folder:

- "line, limit set": AVATAR_MAX_RUNNING_TASKS = the limit;
- "line, limit learnt": no setting, the line learns the limit from the 1303 answers;
- "no line (before)": each visitor's create sent at once, as before the line; a create
  refused with 1303 is a failure the visitor sees.

Prints, for each, the videos delivered, the failures, the provider's 1303 answers, the
wall time against the ideal (ceil(visitors / limit) × task time), the spread of the time
each visitor waited before its create was accepted (min / median / p90 / max), and the
process's peak threads. The studio's checks are paced for the scaled-down task time (the
model is told the task time, as the demo mode does; the closest gap is 0.1 s), within a
request budget of `--rate` a second.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from avatar_core import errors as e  # noqa: E402
from avatar_core.config import Secret, Settings  # noqa: E402
from avatar_core.jobs.admission import create_request  # noqa: E402
from avatar_core.jobs.events import Done, Submitted  # noqa: E402
from avatar_core.jobs.studio import Studio  # noqa: E402
from avatar_core.provider.client import ProviderClient  # noqa: E402
from avatar_core.simulator import Simulator  # noqa: E402
from avatar_core.waiting.durations import LinearDuration, task_kind  # noqa: E402
from avatar_core.waiting.pacing import Pacing  # noqa: E402
from avatar_core.waiting.scheduler import PollScheduler  # noqa: E402

KEY = "bench-line-key"
IMAGE = ROOT / "assets" / "astronaut.jpg"
VOICE = ROOT / "assets" / "hello.mp3"


def studio_on(sim: Simulator, data_dir: Path, args: argparse.Namespace, limit: int) -> Studio:
    settings = Settings(
        api_key=Secret(KEY),
        base_url=sim.base_url or "",
        data_dir=data_dir,
        max_active_per_visitor=0,
        max_daily_per_visitor=0,
        max_running_tasks=limit,
        max_queries_per_s=args.rate,
    )
    pacing = Pacing(first_s=0.1, brisk_s=1.0, floor_s=0.1, cap_s=0.5, margin_s=0.1)
    studio = Studio(
        settings,
        client=ProviderClient(settings.base_url, KEY),
        scheduler=PollScheduler(rate_per_s=args.rate, pacing=pacing),
    )
    studio.scheduler.model.assume(
        task_kind("std", demo=False), LinearDuration(args.task_seconds, 0.0)
    )
    return studio


class Peak:
    """The process's most threads while a run lasts."""

    def __init__(self) -> None:
        self.threads = threading.active_count()
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.threads = max(self.threads, threading.active_count())

    def __enter__(self) -> Peak:
        self._watch.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._watch.join()


def run_line(sim: Simulator, root: Path, args: argparse.Namespace, limit: int) -> dict:
    studio = studio_on(sim, root, args, limit)
    waits: list[float] = []
    start = time.monotonic()

    async def visitor(number: int) -> bool:
        who = studio.visitor(f"visitor-{number}")
        done = False
        async for progress in studio.generate(IMAGE, VOICE, visitor=who):
            if isinstance(progress, Submitted):
                waits.append(time.monotonic() - start)
            done = isinstance(progress, Done)
        return done

    async def everyone() -> list[bool | BaseException]:
        flows = [visitor(n) for n in range(args.visitors)]
        return list(await asyncio.gather(*flows, return_exceptions=True))

    try:
        with Peak() as peak:
            ends = asyncio.run(everyone())
        wall = time.monotonic() - start
    finally:
        studio.close()
    delivered = sum(1 for end in ends if end is True)
    return {"delivered": delivered, "failed": len(ends) - delivered, "wall": wall,
            "waits": waits, "threads": peak.threads}  # fmt: skip


def run_without_line(sim: Simulator, root: Path, args: argparse.Namespace) -> dict:
    """Before the line: every create at once; a refused one is a visitor's failure."""
    studio = studio_on(sim, root, args, 0)
    waits: list[float] = []
    inputs = studio.inputs.prepare(IMAGE, VOICE)  # the line's runs prepare once too (cached)
    start = time.monotonic()

    def visitor(number: int) -> bool:
        job = studio.steps.open_job(inputs)
        request = create_request(job, inputs, None, None)
        try:
            task = studio.client.create_task(request)
        except e.AvatarError:  # 1303 mostly; under this load, a broken connection too
            return False
        waits.append(time.monotonic() - start)
        while not studio.client.get_task(task.task_id).is_terminal:
            time.sleep(0.1)
        return True

    try:
        with Peak() as peak, ThreadPoolExecutor(args.visitors) as pool:
            ends = list(pool.map(visitor, range(args.visitors)))
        wall = time.monotonic() - start
    finally:
        studio.close()
    delivered = sum(ends)
    return {"delivered": delivered, "failed": len(ends) - delivered, "wall": wall,
            "waits": waits, "threads": peak.threads}  # fmt: skip


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]
    return (f"{ordered[0]:.1f} / {statistics.median(ordered):.1f} / {p90:.1f} / "
            f"{ordered[-1]:.1f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--task-seconds", type=float, default=1.0)
    parser.add_argument("--rate", type=float, default=50.0, help="request budget a second")
    args = parser.parse_args()
    ideal = math.ceil(args.visitors / args.limit) * args.task_seconds
    rows = []
    with tempfile.TemporaryDirectory() as tmp, Simulator(
        task_seconds=args.task_seconds, submit_seconds=0.2, max_running_tasks=args.limit,
        work_dir=Path(tmp) / "sim",
    ) as sim:  # fmt: skip
        runs = [
            ("line, limit set", lambda: run_line(sim, Path(tmp) / "set", args, args.limit)),
            ("line, limit learnt", lambda: run_line(sim, Path(tmp) / "learnt", args, 0)),
            ("no line (before)", lambda: run_without_line(sim, Path(tmp) / "none", args)),
        ]
        for name, run in runs:
            sim.reset()
            figures = run()
            rows.append((name, figures, sim.stats.busy_refusals))
    print(f"{args.visitors} visitors at once, {args.limit} tasks at once, "
          f"{args.task_seconds:g} s tasks; ideal wall {ideal:.1f} s")  # fmt: skip
    print("| run | delivered | failed | provider 1303s | wall (ideal) | waited before the "
          "create was accepted min / median / p90 / max | peak threads |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name, figures, refusals in rows:
        print(f"| {name} | {figures['delivered']} of {args.visitors} | {figures['failed']} | "
              f"{refusals} | {figures['wall']:.1f} s ({ideal:.1f} s) | "
              f"{spread(figures['waits'])} | {figures['threads']} |")  # fmt: skip


if __name__ == "__main__":
    main()
