"""The simulator's parts: its options and its state, with nothing about serving HTTP.

The routes are given these parts, and `Simulator` holds the same ones, so a test that
steers the simulator and a request that reaches it see one state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from avatar_core.simulator.accounts import Accounts
from avatar_core.simulator.callbacks import CallbackTicker
from avatar_core.simulator.faults import FaultQueue
from avatar_core.simulator.options import SimulatorOptions
from avatar_core.simulator.ratelimit import RequestRate
from avatar_core.simulator.stats import Stats, StatsRecorder
from avatar_core.simulator.tasks import Clock, TaskBook
from avatar_core.simulator.tts import AudioStore


@dataclass(frozen=True)
class SimulatorParts:
    options: SimulatorOptions
    accounts: Accounts
    faults: FaultQueue
    book: TaskBook
    audio: AudioStore
    stats: StatsRecorder
    rate: RequestRate
    callbacks: CallbackTicker

    @classmethod
    def build(
        cls,
        options: SimulatorOptions,
        *,
        clock: Clock,
        accepted_keys: Iterable[str] | None,
        work_dir: Path,
    ) -> SimulatorParts:
        """Fresh parts keeping their files (results, audios, inputs) under `work_dir`."""
        results = work_dir / "results"
        book = TaskBook(
            clock=clock, options=options, results_dir=results, inputs_dir=work_dir / "inputs"
        )
        stats = StatsRecorder()
        return cls(
            options=options,
            accounts=Accounts(accepted_keys),
            faults=FaultQueue(),
            book=book,
            audio=AudioStore(results / "audio"),
            stats=stats,
            rate=RequestRate(),
            callbacks=CallbackTicker(book, options, on_sent=stats.callback),
        )

    def stats_snapshot(self) -> Stats:
        """What the simulator has seen since start or the last reset."""
        return self.stats.snapshot(self.book.external_ids())

    def reset(self) -> None:
        """Forget tasks, audios, faults, plans, account states and stats; keep the options."""
        self.faults.clear()
        self.book.clear()
        self.audio.clear()
        self.accounts.clear_states()
        self.callbacks.clear()
        self.stats.reset()
