"""What a job reports as it goes: one typed event per step, for the page and the terminal.

Each event says what happened (its class, and `step` for code that prefers a value) and
carries the words for people (`message`, a catalogued `Message`: English as a `str`, any
language with `in_language`) and the facts for code (the job, the task). The page and the
command line render the same events; neither decides what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

from avatar_core.catalogue import Message, sentence_for
from avatar_core.clock import SYSTEM, Clock
from avatar_core.errors import AvatarError
from avatar_core.inputs.preparation import PreparedInputs
from avatar_core.provider.models import TaskInfo, TaskStatus
from avatar_core.storage.journal import Job


class Step(str, enum.Enum):
    PREPARING = "preparing"
    IN_LINE = "in_line"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    RUNNING = "running"
    DOWNLOADING = "downloading"
    DONE = "done"
    FAILED = "failed"
    UNCLEAR = "unclear"


@dataclass(frozen=True)
class Progress:
    """One step of a job, for people (`message`) and for code (the rest)."""

    step: ClassVar[Step]
    ticks: ClassVar[bool] = False  # a step of the app's own that takes a while: its clock moves
    message: str
    elapsed_s: float = 0.0
    job: Job | None = None
    task: TaskInfo | None = None

    @property
    def video_path(self) -> Path | None:
        path = self.job.video_path if self.job else None
        return Path(path) if path else None


class Preparing(Progress):  # the inputs are being checked and fixed; nothing was sent
    step = Step.PREPARING


@dataclass(frozen=True)
class InLine(Progress):
    """The job waits in the line in front of creates (`line.py`): nothing was sent yet.
    `position` 1 is next; `estimate_s` is the expected wait, from the expected task time."""

    step = Step.IN_LINE
    position: int = 1
    estimate_s: float = 0.0


@dataclass(frozen=True)
class Submitting(Progress):
    """The job is journaled and its create is on its way; `inputs` are what is sent."""

    step = Step.SUBMITTING
    inputs: PreparedInputs | None = None


class Submitted(Progress):  # the provider has the task (its id is in `task`)
    step = Step.SUBMITTED


class Running(Progress):  # the provider is working on it (queued or processing)
    step = Step.RUNNING


class Downloading(Progress):  # it succeeded; the video is being copied home
    step = Step.DOWNLOADING


@dataclass(frozen=True)
class Failed(Progress):
    """The job ended without a video (`error` says why); its journal entry says so too."""

    step = Step.FAILED
    error: AvatarError | None = None


class Done(Progress):  # the video is home: `video_path`
    step = Step.DONE


class Unclear(Progress):  # not finished and not failed: a later resume or lookup goes on
    step = Step.UNCLEAR


async def final_progress(events: AsyncIterator[Progress]) -> Progress:
    """Run a flow to its end; its last event (for generate and follow, Done with the
    video's path: they raise when they fail)."""
    last: Progress | None = None
    async for last in events:  # noqa: B007 - only the last one matters
        pass
    if last is None:
        raise AvatarError(sentence_for("flow.no_step"))
    return last


def clock_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def waiting_message(task: TaskInfo, elapsed: float) -> Message:
    """What a person reads while the provider works."""
    if task.status is TaskStatus.SUBMITTED:
        what = sentence_for("wait.queued")
    elif task.status is TaskStatus.PROCESSING:
        what = sentence_for("wait.processing")
    else:
        what = sentence_for("wait.provider_says", status=task.raw_status)
    return sentence_for("wait.elapsed", what=what, clock=clock_text(elapsed))


async def with_heartbeat(
    events: AsyncIterator[Progress], every_s: float = 1.0, clock: Clock = SYSTEM
) -> AsyncIterator[Progress]:
    """Re-yield `events`; while the provider works (or the app does a long step of its
    own: `Progress.ticks`), refresh the elapsed time every `every_s` seconds of `clock` so
    a person sees the wait move (no request is made for it)."""
    iterator = events.__aiter__()
    pending: asyncio.Future[Progress] | None = None
    arrived = asyncio.Event()  # set once `pending` has its event
    last: Progress | None = None
    ticked_at = clock.now()
    try:
        while True:
            if pending is None:
                arrived.clear()
                pending = asyncio.ensure_future(iterator.__anext__())
                pending.add_done_callback(lambda _: arrived.set())
            if await clock.wait(arrived, every_s):
                try:
                    last = pending.result()
                except StopAsyncIteration:
                    return
                finally:
                    pending = None
                ticked_at = clock.now()
                yield last
            elif isinstance(last, Running) and last.task is not None:
                elapsed = last.elapsed_s + clock.now() - ticked_at
                yield replace(last, message=waiting_message(last.task, elapsed), elapsed_s=elapsed)
            elif last is not None and last.ticks:  # the app's own work (a join): its time
                yield replace(last, elapsed_s=last.elapsed_s + clock.now() - ticked_at)
    finally:
        if pending is not None:  # the person left (Stop, a closed tab): end the flow cleanly
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
