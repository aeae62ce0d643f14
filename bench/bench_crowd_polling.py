"""A crowd of tasks of real length, followed by one poll scheduler on the simulator's clock.

    python bench/bench_crowd_polling.py [--visitors 60] [--audio 7.3] [--seed 7] [--rate 10]

`--visitors` tasks are created at the same moment at the project's simulator (in this
process, over HTTP), each taking `150 to 240 s` (uniformly) `+ 9 s per second of audio`;
`--audio` is every task's audio length, or a range (`3-60`) to draw each from. One fresh
poll scheduler (a cold start: only the prior's guess, nothing learnt) follows them all
within a request budget of `--rate` a second. The simulator and the scheduler share a fake
clock that moves only when the scheduler waits, so minutes of provider time take seconds.

It prints the added latency (from a task's success at the provider to the scheduler's
watcher seeing it) p50 / p95 / max, the queries a task (mean and most), and the most
queries the provider saw within any one second, against the budget. The creates are sent
before the clock starts and are not counted (in the app they take their own slots first).
A benchmark, not a test: it prints figures; tests/test_scheduler.py states the targets.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import bisect
import random
import statistics
import sys
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the tests' fake clock

from fake_clock import FakeClock  # noqa: E402

from avatar_core.provider.client import AvatarRequest, ProviderClient  # noqa: E402
from avatar_core.provider.models import TaskInfo, TaskStatus  # noqa: E402
from avatar_core.simulator import Simulator  # noqa: E402
from avatar_core.waiting.scheduler import PollScheduler  # noqa: E402

IMAGE = ROOT / "assets" / "astronaut.jpg"
VOICE = ROOT / "assets" / "hello.mp3"
KEY = "bench-crowd-key"
DEADLINE_S = 3 * 3600.0
START = 1000.0  # the shared clock's reading when the tasks are created


@dataclass(frozen=True)
class Crowd:
    """Who comes at once, and how long their tasks take at the provider."""

    visitors: int = 60
    audio_s: tuple[float, float] = (7.3, 7.3)  # each task's audio, drawn from this range
    base_s: tuple[float, float] = (150.0, 240.0)
    per_audio_s: float = 9.0
    seed: int = 7

    def tasks(self) -> list[tuple[float, float]]:
        """(audio seconds, task seconds) for each visitor."""
        rng = random.Random(self.seed)
        drawn = []
        for _ in range(self.visitors):
            audio = rng.uniform(*self.audio_s)
            drawn.append((audio, rng.uniform(*self.base_s) + self.per_audio_s * audio))
        return drawn


@dataclass
class Figures:
    latencies: list[float]
    queries: list[int]  # per task
    busiest_second: int
    rate: float

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 0.50)

    @property
    def p95(self) -> float:
        return percentile(self.latencies, 0.95)

    @property
    def queries_per_task(self) -> float:
        return statistics.mean(self.queries)

    def table(self) -> str:
        rows = [
            ("tasks delivered", f"{len(self.latencies)}"),
            (
                "added latency p50 / p95 / max",
                f"{self.p50:.1f} / {self.p95:.1f} / {max(self.latencies):.1f} s",
            ),
            (
                "queries a task, mean / most",
                f"{self.queries_per_task:.1f} / {max(self.queries)}",
            ),
            ("most queries in one second", f"{self.busiest_second} (budget {self.rate:g})"),
        ]
        return "\n".join(f"| {name} | {value} |" for name, value in rows)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class CountingClient:
    """The real client; each query noted on the shared clock, by task."""

    client: ProviderClient
    clock: FakeClock
    times: list[float] = field(default_factory=list)
    by_task: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return self.client.base_url

    def get_task(self, task_id: str) -> TaskInfo:
        with self._lock:
            self.times.append(self.clock.now())
            self.by_task[task_id] = self.by_task.get(task_id, 0) + 1
        return self.client.get_task(task_id)


def busiest_second(times: list[float]) -> int:
    ordered = sorted(times)
    return max(
        (bisect.bisect_left(ordered, t + 1.0 - 1e-9) - i for i, t in enumerate(ordered)),
        default=0,
    )


def _request() -> AvatarRequest:
    return AvatarRequest(
        image=base64.b64encode(IMAGE.read_bytes()).decode(),
        sound_file=base64.b64encode(VOICE.read_bytes()).decode(),
        prompt="a crowd",
    )


async def _follow(
    scheduler: PollScheduler, client: CountingClient, first: TaskInfo, audio_s: float
) -> tuple[TaskInfo, float]:
    last = first
    async for snapshot in scheduler.watch(
        client,  # type: ignore[arg-type]  # the scheduler asks only base_url and get_task
        first,
        audio_s=audio_s,
        deadline_s=DEADLINE_S,
    ):
        last = snapshot
    return last, client.clock.now()


def run_crowd(crowd: Crowd, work_dir: Path, *, rate: float = 10.0) -> Figures:
    """Create the crowd's tasks at one moment, follow them all, and measure."""
    clock = FakeClock(START)
    tasks = crowd.tasks()
    simulator = Simulator(clock=clock.now, work_dir=work_dir / "sim", render_max_side=96)
    with simulator as sim, ProviderClient(sim.base_url or "", KEY, clock=clock) as client:
        firsts = []
        request = _request()
        for _, seconds in tasks:
            sim.plan_task(task_seconds=seconds)
            # all made at the clock's start; the provider's created_at is the wall
            # clock's, not the shared one, and would misstate their age
            firsts.append(replace(client.create_task(request), created_at_ms=None))
        scheduler = PollScheduler(rate_per_s=rate, clock=clock)
        client.connection.within(scheduler.budget)
        counting = CountingClient(client, clock)

        async def everyone() -> list[tuple[TaskInfo, float]]:
            return await asyncio.gather(
                *(
                    _follow(scheduler, counting, first, audio)
                    for first, (audio, _) in zip(firsts, tasks, strict=True)
                )
            )

        try:
            seen = asyncio.run(everyone())
        finally:
            scheduler.close()
    latencies = []
    for (last, at), (_, seconds) in zip(seen, tasks, strict=True):
        if last.status is not TaskStatus.SUCCEED:
            raise AssertionError(f"task {last.task_id} ended {last.status.value}")
        latencies.append(at - (START + seconds))
    queries = [counting.by_task.get(first.task_id, 0) for first in firsts]
    return Figures(latencies, queries, busiest_second(counting.times), rate)


def audio_arg(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    try:
        values = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"seconds or a range such as 3-60, not {text!r}") from None
    if not 0 < values[0] <= values[1]:
        raise argparse.ArgumentTypeError(f"a positive range, low first, not {text!r}")
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=60)
    parser.add_argument("--audio", type=audio_arg, default=(7.3, 7.3), help="seconds or 3-60")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=10.0, help="the request budget a second")
    args = parser.parse_args()
    crowd = Crowd(visitors=args.visitors, audio_s=args.audio, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-crowd-") as folder:
        figures = run_crowd(crowd, Path(folder), rate=args.rate)
    audio = "-".join(f"{a:g}" for a in sorted(set(args.audio)))
    print(
        f"{args.visitors} visitors at once, tasks of 150-240 s + 9 s per audio second, "
        f"audio {audio} s, seed {args.seed}, cold start\n"
    )
    print("| measure | value |\n|---|---|")
    print(figures.table())


if __name__ == "__main__":
    main()
