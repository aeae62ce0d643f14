"""Jobs found again: a task followed by its id, the unfinished jobs a restart resumes, and
the jobs a process that ended left in line (orphans), taken over and sent with their kept
inputs. `resume`, which works through many jobs, reports each job's end as an event instead
of raising."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

from avatar_core import errors as e
from avatar_core.catalogue import Message, sentence_for
from avatar_core.inputs.fields import check_task_id
from avatar_core.jobs.events import Done, Failed, Progress, Unclear
from avatar_core.jobs.flow import JobFlow, done_message
from avatar_core.jobs.line import Ticket
from avatar_core.jobs.merge import merged
from avatar_core.jobs.session import question_of
from avatar_core.jobs.steps import orphaned_in, video_stored
from avatar_core.jobs.unclear import still_unclear
from avatar_core.provider.client import AvatarRequest
from avatar_core.storage.journal import Job, Stage
from avatar_core.storage.visitors import OPERATOR, Visitor


class Recovery:
    """Following, resuming and taking over a session's jobs, through its flow."""

    def __init__(self, flow: JobFlow) -> None:
        self.flow = flow
        self.services = flow.services
        self.session = flow.session

    async def follow(
        self, task_id: str, *, deadline_s: float | None = None, visitor: Visitor = OPERATOR
    ) -> AsyncIterator[Progress]:
        """`Studio.follow`: a task id (or one of our job ids) to the end, its video stored."""
        services, session = self.services, self.session
        task_id = check_task_id(task_id)
        start = services.now()
        deadline_s = self.flow.deadline(deadline_s)
        known = await asyncio.to_thread(
            services.journal.find, task_id, owner=session.owner, visitor=session.scope(visitor)
        )
        if known is not None and video_stored(known):
            yield Done(done_message(known), job=known)
            return
        if known is not None and known.stage is Stage.QUEUED:
            async for progress in self._follow_queued(known, start, deadline_s):
                yield progress
            return
        if known is None and session.scope(visitor) is not None:
            raise e.NotYoursError(sentence_for("task.not_yours", task_id=task_id))
        job, task = await services.scheduler.budget.run(
            session.steps.job_for_task, task_id, known, claim=question_of(visitor)
        )
        async for progress in self.flow.finish(job, task, start=start, deadline_s=deadline_s):
            yield progress

    async def resume(self, *, deadline_s: float | None = None) -> AsyncIterator[Progress]:
        """`Studio.resume`: every unfinished job of this endpoint and key, each to its end."""
        deadline_s = self.flow.deadline(deadline_s)
        journal, steps = self.services.journal, self.session.steps
        flows: list[tuple[Job, AsyncIterator[Progress]]] = []
        to_send: list[tuple[Job, AvatarRequest]] = []
        for listed in await asyncio.to_thread(journal.unfinished):
            job = await asyncio.to_thread(journal.get, listed.job_id)
            if job is None or job.stage.is_finished or not steps.owns(job):
                continue  # another process moved it on, or it is not this key's
            if job.stage is not Stage.QUEUED:
                flows.append((job, self._resume_one(job, deadline_s)))
                continue
            left = await self._left_in_line(job, deadline_s)
            if isinstance(left, tuple):
                to_send.append(left)
            elif left is not None:
                flows.append((job, left))
        tickets = [self.flow.join(job) for job, _ in to_send]  # at once, in the journal's order
        try:
            for (job, request), ticket in zip(to_send, tickets, strict=True):
                flows.append((job, self._send_left(job, request, deadline_s, ticket)))
            async for progress in merged([_named(flow, job) for job, flow in flows]):
                yield progress
        finally:
            for ticket in tickets:  # those whose flow never started leave (still queued)
                self.services.line.leave(ticket)

    def _orphaned_in(self, job: Job) -> float | None:
        """0 when a job in line is an orphan (no live line holds it), the seconds until it
        is one if no line touches it meanwhile, None when a live line holds it."""
        if self.services.line.knows(job.job_id):
            return None
        return orphaned_in(job)

    async def _follow_queued(
        self, job: Job, start: float, deadline_s: float
    ) -> AsyncIterator[Progress]:
        """Following a job in line: a live line's job is that line's to send (a lookup
        says so); an orphan (`_orphaned_in`) is sent now, with its kept inputs."""
        if self._orphaned_in(job) != 0:
            raise e.TaskStillRunningError(
                sentence_for("line.still_waiting", job_id=job.job_id),
                task_id=job.job_id,
                status=Stage.QUEUED.value,
            )
        steps = self.session.steps
        job = await asyncio.to_thread(steps.take_over, job) or job
        request = await asyncio.to_thread(steps.kept, job)
        if request is None:
            latest = await asyncio.to_thread(self.services.journal.get, job.job_id)
            raise e.StorageError(_of_job_text(job, latest))
        flow = self.flow.through_line(
            job, request, start=start, deadline_s=deadline_s, withdraw=False
        )
        async with contextlib.aclosing(flow):
            async for progress in flow:
                yield progress

    async def _left_in_line(
        self, job: Job, deadline_s: float
    ) -> tuple[Job, AvatarRequest] | AsyncIterator[Progress] | None:
        """What `resume` does with a job in line: an orphan's job and kept create, to send
        (now this process's); None for a live line's job; else a flow: the end of one whose
        inputs are gone, or, for one whose creator cannot be asked and whose row is fresh,
        a look again once its grace has passed."""
        wait_s = self._orphaned_in(job)
        if wait_s is None:
            return None
        if wait_s > 0:
            return self._resume_after_grace(job, wait_s, deadline_s)
        return await self._take_left(job)

    async def _take_left(
        self, job: Job
    ) -> tuple[Job, AvatarRequest] | AsyncIterator[Progress] | None:
        """An orphan in line becomes this process's: its job and kept create; the end of
        one whose inputs are gone; None when it left the line meanwhile."""
        taken = await asyncio.to_thread(self.session.steps.take_over, job)
        if taken is None:
            return None
        request = await asyncio.to_thread(self.session.steps.kept, taken)
        if request is None:
            return self._lost_inputs(taken)
        return taken, request

    async def _resume_after_grace(
        self, job: Job, wait_s: float, deadline_s: float
    ) -> AsyncIterator[Progress]:
        """Look again once the grace has passed, and again while another line touches the
        row (an old container still running beside this one), within the deadline: the
        job is taken over once its row stays untouched for a whole grace."""
        services, line = self.services, self.services.line
        start = services.now()
        latest: Job | None = job
        while wait_s > 0:
            if services.since(start) + wait_s > deadline_s:
                return  # a later resume or a lookup looks again
            await services.pause(wait_s)
            latest = await asyncio.to_thread(services.journal.get, job.job_id)
            if latest is None or latest.stage is not Stage.QUEUED or line.knows(job.job_id):
                return  # moved on, or this process's line holds it
            wait_s = self._orphaned_in(latest)
            if wait_s is None:
                return  # a live process on this machine holds it
        assert latest is not None
        left = await self._take_left(latest)
        if isinstance(left, tuple):
            left = self._send_left(*left, deadline_s, self.flow.join(left[0]))
        if left is not None:
            async with contextlib.aclosing(left):
                async for progress in left:
                    yield progress

    async def _lost_inputs(self, job: Job) -> AsyncIterator[Progress]:
        latest = await asyncio.to_thread(self.services.journal.get, job.job_id)
        yield Failed(_of_job_text(job, latest), job=latest)

    async def _send_left(
        self, job: Job, request: AvatarRequest, deadline_s: float, ticket: Ticket | None = None
    ) -> AsyncIterator[Progress]:
        """A job left in line, in line again: sent with its kept inputs (once: the
        journal's claim). Stopped before its create, it stays in line for the next resume."""
        start = self.services.now()
        flow = self.flow.through_line(
            job, request, start=start, deadline_s=deadline_s, ticket=ticket, withdraw=False
        )
        try:
            async with contextlib.aclosing(flow):
                async for progress in flow:
                    yield progress
        except e.AvatarError as error:
            yield await self._ended(job, error)

    async def _resume_one(self, job: Job, deadline_s: float) -> AsyncIterator[Progress]:
        services = self.services
        start = services.now()
        try:
            found = await services.paid(self.session.steps.reattach, job)
            if found is None:
                settled = await asyncio.to_thread(services.journal.get, job.job_id)
                if settled is not None and settled.stage is Stage.CREATING:
                    message = sentence_for("job.not_known_yet", job_id=job.job_id)
                else:
                    message = _of_job(job, still_unclear(job.job_id))
                yield Unclear(message, job=settled)
                return
            async for progress in self.flow.finish(*found, start=start, deadline_s=deadline_s):
                yield progress
        except e.UnclearError as unclear:
            latest = await asyncio.to_thread(services.journal.get, job.job_id)
            yield Unclear(_of_job(job, unclear), job=latest)
        except e.AvatarError as error:
            yield await self._ended(job, error)

    async def _ended(self, job: Job, error: e.AvatarError) -> Progress:
        """A resumed job's end after `error`: Failed when the journal says it is finished,
        else Unclear (still running, or its video not yet home: the next resume goes on)."""
        latest = await asyncio.to_thread(self.services.journal.get, job.job_id)
        if latest is not None and latest.stage.is_finished:
            return Failed(_of_job(job, error), job=latest, error=error)
        return Unclear(_of_job(job, error), job=latest)


async def _named(flow: AsyncIterator[Progress], job: Job) -> AsyncIterator[Progress]:
    """A resumed job's events, its steps prefixed with its job (they come interleaved);
    its end (Done, Failed, Unclear) already names its task or its job."""
    async with contextlib.aclosing(flow):
        async for progress in flow:
            if not isinstance(progress, (Done, Failed, Unclear)):
                sentence = sentence_for(
                    "job.sentence", job_id=job.job_id, sentence=progress.message
                )
                progress = dataclasses.replace(progress, message=sentence)
            yield progress


def _of_job(job: Job, error: e.AvatarError) -> Message:
    """An error's sentence, prefixed with the job it is about (for `resume`)."""
    return sentence_for("job.sentence", job_id=job.job_id, sentence=error.message)


def _of_job_text(job: Job, latest: Job | None) -> Message:
    """A job's stored error, prefixed with the job it is about."""
    return sentence_for("job.sentence", job_id=job.job_id, sentence=latest.error if latest else "")
