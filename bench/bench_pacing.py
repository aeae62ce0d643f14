"""Pacing against a realistic provider: task time growing with the audio's length, scaled down.

    python bench/bench_pacing.py [--scale 60] [--tasks 10] [--seed 7]

The studio's own waiting (`Studio.generate`: the poll scheduler, the pacing and the duration
model) runs in this process against the project's simulator. The studio and the simulator
share a clock that runs `scale` times faster than real time, so a ten-minute task takes ten
seconds; every figure below is in the provider's (scaled) seconds. Each task's time is drawn
from a provider profile, a + b × audio seconds, ± a random share; the audio is 3 to 60 s.

For each profile it runs three waves of tasks at once, each task with a scheduler of its own:

- no model: the pacing with nothing to go by (its gap doubles up to the cap), for reference;
- cold start: a fresh data folder, so the prior (a guess from public reports) places checks;
- after ten tasks: a new studio taught by the journal of the cold wave's finished tasks.

and reports the added latency (from the provider's success to the studio seeing it: p50,
p95, mean) and the queries per task. A benchmark, not a test: it prints figures and judges
nothing. The success time is the create's answer plus the planned task time, so latencies
may read low by the create's round trip (a few milliseconds, times `scale`).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from avatar_core.clock import Clock  # noqa: E402
from avatar_core.config import Secret, Settings  # noqa: E402
from avatar_core.jobs.events import Downloading, Submitted  # noqa: E402
from avatar_core.jobs.services import learn_from_journal  # noqa: E402
from avatar_core.jobs.studio import Studio  # noqa: E402
from avatar_core.provider.client import ProviderClient  # noqa: E402
from avatar_core.simulator import Simulator  # noqa: E402
from avatar_core.simulator.tts import CHARS_PER_SECOND, encode_mp3, synthesize  # noqa: E402
from avatar_core.storage.journal import Journal  # noqa: E402
from avatar_core.waiting.durations import DurationModel  # noqa: E402
from avatar_core.waiting.scheduler import PollScheduler  # noqa: E402

IMAGE = ROOT / "assets" / "astronaut.jpg"
KEY = "bench-key"
AUDIO_SECONDS = (3, 8, 15, 30, 45, 60)


@dataclass(frozen=True)
class Profile:
    name: str
    base_s: float
    per_audio_s: float
    jitter: float  # ± this share of the task time, uniformly

    def task_seconds(self, audio_s: float, rng: random.Random) -> float:
        return (self.base_s + self.per_audio_s * audio_s) * (1 + rng.uniform(-1, 1) * self.jitter)


PROFILES = (
    Profile("as reported (180 s + 9 s per audio second, ±15 %)", 180.0, 9.0, 0.15),
    Profile("faster than guessed (60 s + 3 s per audio second, ±15 %)", 60.0, 3.0, 0.15),
    Profile("slower than guessed (300 s + 15 s per audio second, ±15 %)", 300.0, 15.0, 0.15),
)


class ScaledClock(Clock):
    """Provider seconds that pass `scale` times faster than real ones."""

    def __init__(self, scale: float, start: float = 1000.0) -> None:
        self.scale, self._start, self._origin = scale, start, time.monotonic()

    def now(self) -> float:
        return self._start + (time.monotonic() - self._origin) * self.scale

    def sleep(self, seconds: float) -> None:
        time.sleep(max(seconds, 0.0) / self.scale)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0) / self.scale)

    async def wait(self, event: asyncio.Event, timeout: float | None) -> bool:
        return await super().wait(event, None if timeout is None else timeout / self.scale)


@dataclass
class Outcome:
    audio_s: float
    task_s: float
    latency_s: float


def make_voices(folder: Path) -> dict[float, Path]:
    """A speech-like MP3 of each length in AUDIO_SECONDS."""
    voices = {}
    for seconds in AUDIO_SECONDS:
        text = ("talking avatar " * 100)[: round(seconds * CHARS_PER_SECOND["en"])]
        path = folder / f"voice-{seconds}s.mp3"
        encode_mp3(synthesize(text, "uk_man2"), path)
        voices[float(seconds)] = path
    return voices


def make_studio(sim: Simulator, clock: ScaledClock, data: Path, model: DurationModel) -> Studio:
    settings = Settings(api_key=Secret(KEY), base_url=sim.base_url or "", data_dir=data)
    scheduler = PollScheduler(clock=clock, model=model)
    client = ProviderClient(settings.base_url, KEY, timeout=60, clock=clock)
    return Studio(settings, client=client, scheduler=scheduler, clock=clock)


async def one_task(
    studio: Studio, sim: Simulator, clock: ScaledClock, voice: Path, task: tuple[float, float],
    turn: asyncio.Lock,
) -> Outcome:  # fmt: skip
    """Plan the task's time, create it (one create at a time, so plans meet their tasks),
    and time the studio's first sight of its success."""
    audio_s, task_s = task
    created = seen = 0.0
    await turn.acquire()
    sim.plan_task(task_seconds=task_s)
    try:
        async for event in studio.generate(IMAGE, voice, deadline_s=7200.0):
            if isinstance(event, Submitted):
                created = clock.now()
                turn.release()
            elif isinstance(event, Downloading):
                seen = clock.now()
    finally:
        if turn.locked() and not created:
            turn.release()
    return Outcome(audio_s, task_s, seen - (created + task_s))


async def wave(
    sim: Simulator,
    clock: ScaledClock,
    data: Path,
    voices: dict[float, Path],
    tasks: list[tuple[float, float]],
    model_for: Callable[[], DurationModel],
) -> tuple[list[Outcome], float]:
    """`tasks` ((audio seconds, task seconds) each) at once, a studio and a model each;
    with the queries a task the simulator answered."""
    turn = asyncio.Lock()
    studios = [make_studio(sim, clock, data, model_for()) for _ in tasks]
    before = sim.stats.count("query")
    try:
        outcomes = await asyncio.gather(
            *(
                one_task(studio, sim, clock, voices[task[0]], task, turn)
                for studio, task in zip(studios, tasks, strict=True)
            )
        )
        return outcomes, (sim.stats.count("query") - before) / len(tasks)
    finally:
        for studio in studios:
            studio.close()


def taught_by(data: Path) -> DurationModel:
    """A model as a new process's studio makes it: taught by the data folder's journal."""
    scheduler = PollScheduler(model=DurationModel())
    learn_from_journal(scheduler, Journal(data))
    scheduler.close()
    return scheduler.model


def summary(outcomes: list[Outcome], queries: float) -> str:
    latencies = sorted(o.latency_s for o in outcomes)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    return (
        f"{statistics.median(latencies):6.1f} / {p95:6.1f} / {statistics.mean(latencies):6.1f} s"
        f" | {queries:5.1f}"
    )


def run_profile(profile: Profile, args: argparse.Namespace, voices: dict[float, Path]) -> None:
    rng = random.Random(args.seed)
    lengths = [float(AUDIO_SECONDS[i % len(AUDIO_SECONDS)]) for i in range(args.tasks)]
    clock = ScaledClock(args.scale)
    print(f"\n{profile.name}\n{'':24}| latency p50 / p95 / mean   | queries per task")
    with tempfile.TemporaryDirectory(prefix="bench-pacing-") as folder:
        root = Path(folder)
        cold_data = root / "cold"
        waves: list[tuple[str, Path, Callable[[], DurationModel]]] = [
            ("no model", root / "none", lambda: DurationModel(priors={})),
            ("cold start (prior only)", cold_data, DurationModel),
            ("after ten tasks", root / "warm", lambda: taught_by(cold_data)),
        ]
        with Simulator(clock=clock.now, work_dir=root / "sim", render_max_side=160) as sim:
            for name, data, model_for in waves:
                tasks = [(audio, profile.task_seconds(audio, rng)) for audio in lengths]
                outcomes, queries = asyncio.run(wave(sim, clock, data, voices, tasks, model_for))
                print(f"{name:24}| {summary(outcomes, queries)}")
        fitted = taught_by(cold_data)
        for audio in (5.0, 60.0):
            found = fitted.expectation("std", audio)
            truth = profile.base_s + profile.per_audio_s * audio
            print(
                f"  learnt after ten: {audio:2.0f} s of audio -> {found.seconds:4.0f} s "
                f"± {found.spread_s:3.0f} (the profile's mean: {truth:4.0f} s)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=60.0, help="provider seconds a second")
    parser.add_argument("--tasks", type=int, default=10, help="tasks in each wave")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"scale {args.scale:g}x, {args.tasks} tasks a wave, audio {AUDIO_SECONDS} s")
    with tempfile.TemporaryDirectory(prefix="bench-voices-") as folder:
        voices = make_voices(Path(folder))
        for profile in PROFILES:
            run_profile(profile, args, voices)


if __name__ == "__main__":
    main()
