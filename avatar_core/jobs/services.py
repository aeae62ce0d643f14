"""What every studio of a process shares, whichever account it sends for: the journal, the
poll scheduler (and its request budget), the provider callbacks, the spending limits, the
line in front of creates, the prepared-input caches, and the clock the flows wait by.

One `ProcessServices` is made with the process's first studio (`open_studio`); a studio for
a person's pasted key (`Studio.with_key`) uses the same one, so nothing here is built again
per key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from avatar_core.clock import SYSTEM, Clock
from avatar_core.config import Settings
from avatar_core.inputs.preparation import InputPreparer
from avatar_core.jobs.limits import SpendingLimits
from avatar_core.jobs.line import FairLine
from avatar_core.provider.budget import PAID
from avatar_core.provider.retry import RetryPolicy
from avatar_core.storage.journal import Journal
from avatar_core.waiting.callbacks import CallbackRegistry
from avatar_core.waiting.durations import task_kind
from avatar_core.waiting.scheduler import PollScheduler

T = TypeVar("T")


class ProcessServices:
    """The services a process's studios share; `close` stops what was started here."""

    def __init__(
        self,
        settings: Settings,
        *,
        journal: Journal | None = None,
        scheduler: PollScheduler | None = None,
        callbacks: CallbackRegistry | None = None,
        inputs: InputPreparer | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock = SYSTEM,
        limits: SpendingLimits | None = None,
        line: FairLine | None = None,
    ) -> None:
        self.journal = journal or Journal(settings.data_dir)
        self._owns_scheduler = scheduler is None
        if scheduler is None:
            scheduler = PollScheduler(rate_per_s=settings.max_queries_per_s, clock=clock)
            learn_from_journal(scheduler, self.journal)
        self.scheduler = scheduler
        self.callbacks = callbacks or CallbackRegistry(self.scheduler)
        self.inputs = inputs or InputPreparer(allow_private_urls=settings.allow_private_urls)
        self.limits = limits or SpendingLimits(settings, self.journal)
        self.line = line or FairLine()  # shared by every studio of the process (`with_key`)
        self.retry = retry
        self.clock = clock

    def now(self) -> float:
        return self.clock.now()

    def since(self, start: float) -> float:
        return self.clock.now() - start

    async def pause(self, seconds: float) -> None:
        """Wait without holding a thread."""
        await self.clock.asleep(seconds)

    async def paid(self, step: Callable[..., T], *args: object) -> T:
        """A step of a paid job that asks the provider, in a thread, its first request's
        slot awaited first (holding no thread) ahead of anyone's questions."""
        return await self.scheduler.budget.run(step, *args, claim=PAID)

    def close(self) -> None:
        if self._owns_scheduler:
            self.scheduler.close()


def learn_from_journal(scheduler: PollScheduler, journal: Journal) -> None:
    """Pace checks from how long this data folder's finished tasks took (the app and the
    command line share the folder, so each learns what the other saw)."""
    for task in journal.task_durations():
        kind = task_kind(task.mode, task.demo)
        scheduler.model.learn(kind, task.task_seconds, task.audio_seconds)
