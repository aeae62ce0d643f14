"""Demo mode: with no key, a simulator on loopback stands in for the provider."""

from __future__ import annotations

from typing import TYPE_CHECKING

from avatar_core.catalogue import sentence_for
from avatar_core.provider.demo import DEMO_KEY

if TYPE_CHECKING:
    from avatar_core.simulator import Simulator

__all__ = ["DEMO_KEY", "DEMO_NOTICE", "start_demo_simulator"]  # DEMO_KEY: provider/demo.py
DEMO_NOTICE = sentence_for("demo.notice")


def start_demo_simulator(task_seconds: float = 8.0) -> Simulator:
    """A simulator for demo mode, started on a free loopback port; its owner stops it."""
    from avatar_core.simulator import Simulator

    simulator = Simulator(task_seconds=task_seconds, submit_seconds=min(1.0, task_seconds))
    simulator.start(host="127.0.0.1", port=0)
    return simulator
