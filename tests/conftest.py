"""Shared fixtures: a fake clock that the simulator and the client share, so tasks move
through their statuses without any test sleeping for real."""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from pathlib import Path

import pytest

ASSETS = Path(__file__).resolve().parent.parent / "assets"

# Gradio keeps uploads at paths named by their content, and an app deletes the files it made
# when it stops: two test processes (or a test and an app it started) uploading the same media
# into one shared cache would delete each other's uploads. Each test process has its own.
os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="gradio-tests-")


class FakeTime:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    async def asleep(self, seconds: float) -> None:
        """For the poll scheduler: time moves, nobody waits."""
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def simulator(fake_time, tmp_path):
    """A simulator on loopback whose tasks follow the fake clock."""
    from avatar_core.simulator import Simulator

    sim = Simulator(
        task_seconds=20.0, submit_seconds=2.0, clock=fake_time.clock, work_dir=tmp_path / "sim"
    )
    sim.start(host="127.0.0.1", port=0)
    yield sim
    sim.stop()


@pytest.fixture
def gateway(fake_time, tmp_path):
    """Start simulators in a gateway profile, on the fake clock (tasks take 20 s unless
    told): `gateway("no-external-ids", video_link_misses=6)`."""
    from avatar_core.simulator import Simulator

    made: list[Simulator] = []

    def start(profile: str, **options) -> Simulator:
        options = {"task_seconds": 20.0, "submit_seconds": 2.0, **options}
        sim = Simulator(
            profile=profile,
            clock=fake_time.clock,
            work_dir=tmp_path / f"sim-{len(made)}",
            **options,
        )
        sim.start()
        made.append(sim)
        return sim

    yield start
    for sim in made:
        sim.stop()


@pytest.fixture
def client(simulator, fake_time):
    from avatar_core.provider.client import KlingClient

    with KlingClient(simulator.base_url, "test-key", sleep=fake_time.sleep, timeout=10) as c:
        yield c


@pytest.fixture(scope="session")
def portrait_path() -> Path:
    return ASSETS / "astronaut.jpg"


@pytest.fixture(scope="session")
def speech_path() -> Path:
    return ASSETS / "hello.mp3"
