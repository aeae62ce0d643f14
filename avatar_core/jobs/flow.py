"""A job's flow from new inputs to its video at home: prepared, journaled in line, sent when
the line gives it a slot, followed by the poll scheduler, its video stored.

Every flow is an async generator of events (`events.py`). Failures are raised as
AvatarError subclasses after the journal has been brought up to date.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from avatar_core import errors as e
from avatar_core.catalogue import Message, sentence_for
from avatar_core.inputs.fields import check_task_id
from avatar_core.inputs.preparation import PreparedInputs
from avatar_core.jobs.admission import JournalingWithdrawnOnStop, open_job
from avatar_core.jobs.events import (
    Done,
    Downloading,
    InLine,
    Preparing,
    Progress,
    Running,
    Submitted,
    Submitting,
    Unclear,
    waiting_message,
)
from avatar_core.jobs.line import Ticket, place_message
from avatar_core.jobs.services import ProcessServices
from avatar_core.jobs.session import ProviderSession
from avatar_core.jobs.steps import QUEUED_TOUCH_S
from avatar_core.jobs.unclear import look_again
from avatar_core.provider.budget import PAID, asking
from avatar_core.provider.client import AvatarRequest
from avatar_core.provider.models import TaskInfo
from avatar_core.provider.retry import (
    TOO_MANY_TASKS,
    RetryPolicy,
    refused_create,
    refused_create_wait,
)
from avatar_core.storage.journal import Job, Stage
from avatar_core.storage.visitors import OPERATOR, Visitor
from avatar_core.waiting.durations import task_kind

Source = str | Path | bytes


class JobFlow:
    """The flow of a session's jobs through the process's line, scheduler and journal."""

    def __init__(self, services: ProcessServices, session: ProviderSession) -> None:
        self.services = services
        self.session = session

    async def generate(
        self,
        image: Source,
        audio: Source | None = None,
        *,
        deadline_s: float | None = None,
        trim: bool = False,
        shorten_pauses: bool = False,
        keep_silence: bool = False,
        audio_id: str | None = None,
        prior_task_id: str | None = None,
        prompt: str | None = None,
        mode: str = "std",
        audio_seconds: float | None = None,
        visitor: Visitor = OPERATOR,
        batch_key: str | None = None,
    ) -> AsyncIterator[Progress]:
        """`Studio.generate`: the whole flow for new inputs, Done last."""
        services = self.services
        start = services.now()
        prior_task_id = check_task_id(prior_task_id) or None
        deadline_s = self.deadline(deadline_s)
        check = functools.partial(services.limits.check, self.session.spender(visitor))
        await asyncio.to_thread(check, audio_id=audio_id)
        yield Preparing(sentence_for("step.preparing"))
        inputs = await asyncio.to_thread(
            functools.partial(
                services.inputs.prepare,
                image,
                audio,
                audio_id=audio_id,
                prompt=prompt,
                mode=mode,
                trim=trim,
                shorten_pauses=shorten_pauses,
                keep_silence=keep_silence,
            )
        )
        secret, callback_url = None, None
        if self.session.settings.public_url:
            secret, callback_url = services.callbacks.new_url(self.session.settings.public_url)
        journaling = JournalingWithdrawnOnStop(self.session.steps.leave_line)
        try:
            job, request = await journaling.run(
                functools.partial(
                    self.open_job, inputs, visitor, audio_seconds, prior_task_id, callback_url,
                    batch_key,
                )
            )  # fmt: skip
            flow = self.through_line(
                job, request, start=start, deadline_s=deadline_s, secret=secret, inputs=inputs
            )
            async with contextlib.aclosing(flow):  # Stop leaves the line at once
                async for progress in flow:
                    yield progress
        finally:
            services.callbacks.retire(secret)

    def open_job(
        self,
        inputs: PreparedInputs,
        visitor: Visitor,
        audio_seconds: float | None,
        prior_task_id: str | None,
        callback_url: str | None,
        batch_key: str | None = None,
    ) -> tuple[Job, AvatarRequest]:
        """The job journaled in line, its inputs kept, and its create (`admission.py`)."""
        return open_job(
            self.services, self.session, inputs, visitor, audio_seconds, prior_task_id,
            callback_url, batch_key,
        )  # fmt: skip

    async def through_line(
        self,
        job: Job,
        request: AvatarRequest,
        *,
        start: float,
        deadline_s: float,
        secret: str | None = None,
        inputs: PreparedInputs | None = None,
        ticket: Ticket | None = None,
        withdraw: bool = True,
    ) -> AsyncIterator[Progress]:
        """A journaled job in line: its place while it waits, its create, then the wait.

        Its slot is given back once the follow ends, however it ends. A job whose flow
        stops before its create is on its way (Stop, a closed tab, a cancel at any await
        up to the claim) is journaled as never sent, its inputs deleted (`withdraw`; else,
        for a job a resume or a lookup sends, it stays in line for the next one). The
        journal's claim (queued to creating) decides a race with the create's thread.
        `ticket`: its place, when it joined the line already.
        """
        services, line = self.services, self.services.line
        ticket = ticket or self.join(job)
        touched = services.now()
        try:
            refusals = 0
            while True:
                async for place in line.wait(ticket):
                    if services.now() - touched >= QUEUED_TOUCH_S:  # alive: not an orphan
                        touched = services.now()
                        await asyncio.to_thread(services.journal.advance, job, Stage.QUEUED)
                    yield InLine(place_message(place), services.since(start), job,
                                 position=place.position, estimate_s=place.estimate_s)  # fmt: skip
                yield Submitting(
                    sentence_for("step.submitting"), services.since(start), job, inputs=inputs
                )
                try:
                    job, task = await services.paid(self._send, job, request)
                except e.UnclearError as unclear:
                    job = await asyncio.to_thread(services.journal.get, job.job_id) or job
                    yield Unclear(str(unclear), services.since(start), job)
                    job, task = await look_again(services, self.session.steps.look_for, job,
                                                 deadline_s)  # fmt: skip
                except e.RateLimitError as refused:
                    if not refused_create(refused):
                        raise
                    refusals += 1
                    job = await asyncio.to_thread(services.journal.get, job.job_id) or job
                    self._back_in_line(ticket, refused, refusals)
                    continue
                break
            line.started(ticket)
            if secret:
                services.callbacks.bind(secret, self.session.client.base_url, task.task_id)
            async for progress in self.finish(
                job,
                task,
                start=start,
                deadline_s=deadline_s,
                callbacks=secret is not None,
                ended=functools.partial(line.leave, ticket, ended=True),  # no slot to download
            ):
                yield progress
        finally:
            if withdraw:  # a no-op once claimed: the create is on its way, or made
                self.session.steps.leave_line(job)
            line.leave(ticket)

    def _send(self, job: Job, request: AvatarRequest) -> tuple[Job, TaskInfo]:
        """Claim the job in line and create its task. A visitor's job on the operator's key
        is checked against the day's seconds once more as it is claimed (a job in line
        holds only its own visitor's share of the day); refused, it leaves the line unsent."""
        steps = self.session.steps
        if job.stage is Stage.QUEUED:
            counted = job.visitor if self.session.owner is None else None  # demo mode counts too
            try:
                with self.services.limits.sending(counted, job.audio_seconds, job.job_id):
                    job = steps.claim(job)
            except e.LimitReachedError as refused:
                steps.leave_line(job, refused.message)
                raise
        return steps.submit(job, request)

    def join(self, job: Job) -> Ticket:
        """The journaled job's place at the end of its visitor's jobs in the line."""
        session, model = self.session, self.services.scheduler.model
        return self.services.line.join(
            session.account,
            job.visitor or "operator",
            job.job_id,
            limit=session.settings.max_running_tasks if session.owner is None else 0,
            task_s=model.expected(task_kind(job.mode, job.demo), job.audio_seconds),
        )

    def _back_in_line(self, ticket: Ticket, refused: e.RateLimitError, refusals: int) -> None:
        """A create the provider's limits refused goes back to the front of the line."""
        busy = refused.code == TOO_MANY_TASKS
        wait_s = refused_create_wait(refused, refusals, self.services.retry or RetryPolicy())
        self.services.line.refused(ticket, busy=busy, wait_s=wait_s)

    async def finish(
        self,
        job: Job,
        task: TaskInfo,
        *,
        start: float,
        deadline_s: float,
        callbacks: bool = False,
        ended: Callable[[], None] | None = None,
    ) -> AsyncIterator[Progress]:
        """From an accepted task to its video at home; `ended` is called once the task is
        seen to end (its slot in the line is free while the video comes home)."""
        services, steps = self.services, self.session.steps
        since = services.since
        yield Submitted(
            sentence_for("step.submitted", task_id=task.task_id), since(start), job, task
        )
        if not task.is_terminal:  # the wait shows (and its clock ticks) from the start
            yield Running(waiting_message(task, since(start)), since(start), job, task)
        async for snapshot in services.scheduler.watch(
            self.session.client,
            task,
            kind=task_kind(job.mode, job.demo),
            audio_s=job.audio_seconds,
            deadline_s=deadline_s,
            callbacks=callbacks,
        ):
            job, task = await asyncio.to_thread(steps.record_status, job, snapshot), snapshot
            if not snapshot.is_terminal:
                elapsed = since(start)
                yield Running(waiting_message(snapshot, elapsed), elapsed, job, snapshot)
        if ended is not None:
            ended()
        job = await asyncio.to_thread(steps.conclude, job, task)
        yield Downloading(sentence_for("step.downloading"), since(start), job, task)
        with asking(PAID):  # a fresh link for the video is this job's own request
            job = await asyncio.to_thread(steps.store, job, task)
        yield Done(done_message(job), since(start), job, task)

    def deadline(self, deadline_s: float | None) -> float:
        settings = self.session.settings
        return settings.follow_deadline_s if deadline_s is None else deadline_s


def done_message(job: Job) -> Message:
    video = sentence_for("done.video", seconds=job.video_seconds) if job.video_seconds else ""
    if job.demo:  # the demo simulator's units are make-believe
        units = sentence_for("done.simulated")
    else:
        units = sentence_for("done.units", units=job.units_charged) if job.units_charged else ""
    return sentence_for("step.done", task_id=job.task_id, video=video, units=units)
