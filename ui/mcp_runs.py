"""The MCP tools' jobs, each running in a task the app owns, not in the tool call.

An MCP call must answer within about a minute, while a job may wait in line, then be
made for minutes. So `make_talking_avatar_video` starts its flow here and only watches
it for a while: when the call answers, the job goes on (in line, sent, followed and its
video stored), and `follow_avatar_task` watches the same run again. Closing a flow would
mean Stop (the job withdrawn from the line), so a run is never closed by a caller.

A run is known by its own id until its job is journaled, then by its job id and by its
task id too; only with the session code that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import ui.mcp_answers as answers
from avatar_core.errors import AvatarError
from avatar_core.jobs.events import InLine, Progress, Unclear

log = logging.getLogger(__name__)

MAX_RUNS = 64  # jobs under way for MCP callers at once (each holds its prepared inputs)
KEPT_ENDED = 256  # ended runs still known by their ids (the newest)


@dataclass
class Run:
    """One job's flow and what it last said."""

    run_id: str
    code: str
    last: Progress | None = None
    place: str = ""  # the latest place in line told ("1st in line, under a minute.")
    error: AvatarError | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    news: asyncio.Event = field(default_factory=asyncio.Event)  # ended, or unclear
    task: asyncio.Task[None] | None = None

    @property
    def job_id(self) -> str:
        job = self.last.job if self.last is not None else None
        return job.job_id if job is not None else ""

    @property
    def task_id(self) -> str:
        job = self.last.job if self.last is not None else None
        return (job.task_id or "") if job is not None else ""

    def known_as(self, ref: str) -> bool:
        return bool(ref) and ref in (self.run_id, self.job_id, self.task_id)

    async def watch(self, wait_s: float, *, until_ended: bool = False) -> None:
        """Wait up to `wait_s` for the run to end (or, unless `until_ended`, to become
        unclear); the run goes on either way."""
        event = self.ended if until_ended else self.news
        with contextlib.suppress(asyncio.TimeoutError):  # not the builtin before 3.11
            await asyncio.wait_for(event.wait(), timeout=max(wait_s, 0.0))


class Runs:
    """The runs of one app (see `runs_of`)."""

    def __init__(self) -> None:
        self._runs: OrderedDict[str, Run] = OrderedDict()

    def under_way(self) -> int:
        return sum(1 for run in self._runs.values() if not run.ended.is_set())

    def start(self, flow: AsyncIterator[Progress], code: str) -> Run:
        """Run `flow` to its end in a task of the running loop."""
        run = Run(run_id=f"mcp-{secrets.token_hex(8)}", code=code)
        run.task = asyncio.get_running_loop().create_task(_drive(run, flow))
        self._runs[run.run_id] = run
        ended = [key for key, each in self._runs.items() if each.ended.is_set()]
        for key in ended[: max(len(ended) - KEPT_ENDED, 0)]:
            del self._runs[key]
        return run

    def find(self, ref: str, code: str) -> Run | None:
        """The run known as `ref` (run, job or task id) started with `code`."""
        ref = (ref or "").strip()
        for run in reversed(self._runs.values()):
            if run.code == code and run.known_as(ref):
                return run
        return None


async def _drive(run: Run, flow: AsyncIterator[Progress]) -> None:
    try:
        async with contextlib.aclosing(flow):  # type: ignore[type-var]
            async for progress in flow:
                run.last = progress
                if isinstance(progress, InLine):
                    run.place = progress.message
                if isinstance(progress, Unclear):
                    run.news.set()
    except AvatarError as error:
        run.error = error
    except Exception:
        log.exception("an MCP job stopped on an unexpected error")
        run.error = AvatarError(answers.BROKE)
    finally:
        run.ended.set()
        run.news.set()


_RUNS: weakref.WeakKeyDictionary[object, Runs] = weakref.WeakKeyDictionary()


def runs_of(owner: object) -> Runs:
    """The runs of the app `owner` stands for (its Sessions): they live as long as it."""
    runs = _RUNS.get(owner)
    if runs is None:
        runs = _RUNS[owner] = Runs()
    return runs
