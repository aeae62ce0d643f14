"""The one flow, for the page and the command line alike: prepare, journal, submit, wait, store.

Every flow is an async generator of events (`events.py`): the page iterates it in its event
loop, the command line runs it with `asyncio.run`. Both wait through the same poll scheduler,
which holds no thread while the provider works, places each check by one pacing policy, and
keeps every request to the provider (creates, checks, lookups) within one budget: each
request takes its slot in the client's send, a paid job's before anyone's questions (`PAID`),
a visitor's questions in turn with other visitors' (`provider/budget.py`). Failures are
raised as AvatarError subclasses after the journal has been brought up to date; `resume`,
which works through many jobs, reports each job's end as an event instead.

Each flow is asked for by a `Visitor`: the operator (the command line, the default) sees
every job; a visitor of the app sees and looks up its own jobs only, and spends on the
operator's key within its limits (`limits.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypeVar

from avatar_core import errors as e
from avatar_core.config import DEFAULT_FOLLOW_DEADLINE_S, Secret, Settings
from avatar_core.inputs.audio import MAX_SECONDS as MAX_AUDIO_SECONDS
from avatar_core.inputs.audio import PreparedAudio
from avatar_core.inputs.fields import MODES, check_task_id
from avatar_core.inputs.image import PreparedImage
from avatar_core.inputs.preparation import InputPreparer, PreparedInputs
from avatar_core.inputs.text import check_text
from avatar_core.jobs.events import (
    Done,
    Downloading,
    Failed,
    InLine,
    Preparing,
    Progress,
    Running,
    Submitted,
    Submitting,
    Unclear,
    waiting_message,
)
from avatar_core.jobs.limits import Allowance, SpendingLimits
from avatar_core.jobs.line import FairLine, Ticket, place_message
from avatar_core.jobs.merge import merged
from avatar_core.jobs.steps import QUEUED_TOUCH_S, JobSteps, orphaned_in, video_home
from avatar_core.jobs.unclear import UNCLEAR_WINDOW_S, look_again_delays, still_unclear
from avatar_core.provider.budget import PAID, Claim, Priority, asking
from avatar_core.provider.client import AvatarRequest, ProviderClient
from avatar_core.provider.connection import ProviderConnection
from avatar_core.provider.doctor import DoctorReport, diagnose, key_label
from avatar_core.provider.models import SpeechResult, TaskInfo
from avatar_core.provider.profiles import (
    ProviderProfile,
    cometapi_profile,
    profile_for,
    provider_line,
)
from avatar_core.provider.retry import (
    TOO_MANY_TASKS,
    RetryPolicy,
    refused_create,
    refused_create_wait,
)
from avatar_core.provider.routes import RouteMemory
from avatar_core.provider.speech import check_speech_length, check_speech_request
from avatar_core.provider.speech_groups import estimated_seconds
from avatar_core.storage.journal import Job, Journal, Stage
from avatar_core.storage.kept_inputs import sweep_kept
from avatar_core.storage.owners import owner_tag
from avatar_core.storage.visitors import OPERATOR, Visitor, address_tag, visitor_tag
from avatar_core.waiting.callbacks import CallbackRegistry
from avatar_core.waiting.durations import Line, task_kind
from avatar_core.waiting.scheduler import PollScheduler
from avatar_core.words import Message, say

Source = str | Path | bytes
T = TypeVar("T")

DEFAULT_DEADLINE_S = DEFAULT_FOLLOW_DEADLINE_S  # Settings.follow_deadline_s when not told


class Studio:
    """Jobs against one provider endpoint with one key, journaled in one data folder.

    Made by `open_studio` (which also starts the demo simulator when there is no key); a
    person's pasted key gets a studio of its own from `with_key`, sharing the journal, the
    scheduler, the callbacks, the spending limits, the line in front of creates and the
    prepared-input caches.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        client: ProviderClient,
        journal: Journal | None = None,
        scheduler: PollScheduler | None = None,
        callbacks: CallbackRegistry | None = None,
        inputs: InputPreparer | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        owner: str | None = None,
        limits: SpendingLimits | None = None,
        line: FairLine | None = None,
    ) -> None:
        self.settings = settings
        self.demo = settings.demo_mode
        self.owner = owner  # whose jobs these are (None: the app's own key's)
        self.client = client
        self.journal = journal or Journal(settings.data_dir)
        self._owns_scheduler = scheduler is None
        if scheduler is None:
            scheduler = PollScheduler(rate_per_s=settings.max_queries_per_s)
            learn_from_journal(scheduler, self.journal)
        self.scheduler = scheduler
        self.callbacks = callbacks or CallbackRegistry(self.scheduler)
        self.inputs = inputs or InputPreparer(allow_private_urls=settings.allow_private_urls)
        self.steps = JobSteps(settings, client, self.journal, self.demo, owner, retry, sleep)
        self.limits = limits or SpendingLimits(settings, self.journal)
        self.line = line or FairLine()  # shared by every studio of the process (`with_key`)
        client.connection.within(self.scheduler.budget)  # the process's one budget
        self._retry = retry
        self._clock = clock
        self._sleep = sleep
        self._on_close: list[Callable[[], None]] = []

    def with_key(self, key: str | None) -> Studio:
        """A studio for a person's own key, sharing everything but the client.

        Nothing is learnt again: the duration model only learns from tasks that finish.
        """
        check_text(key or "", what="API key", field="key")
        settings = self.settings.with_key(key)
        if settings.account is None or settings.credentials == self.settings.credentials:
            return self
        routes = RouteMemory(settings.data_dir) if self.demo else self.client.routes
        client = provider_client(
            settings,
            profile_for(settings),
            self._retry,
            self._sleep,
            routes,
            connection=self.client.connection,  # the process's pool: no HTTP client per key
        )
        return Studio(
            settings,
            client=client,
            journal=self.journal,
            scheduler=self.scheduler,
            callbacks=self.callbacks,
            inputs=self.inputs,
            retry=self._retry,
            clock=self._clock,
            sleep=self._sleep,
            owner=owner_tag(settings.data_dir, settings.account.reveal()),
            limits=self.limits,
            line=self.line,
        )

    def visitor(self, visitor_id: str, address: str | None = None) -> Visitor:
        """The visitor known by `visitor_id` (a browser's kept id, or an API session's),
        asking from the network `address` (if known)."""
        data_dir = self.settings.data_dir
        return Visitor(
            visitor_tag(data_dir, visitor_id),
            shared=self.settings.shared_history,
            address=address_tag(data_dir, address) if address else None,
        )

    def _scope(self, visitor: Visitor) -> str | None:
        """Whose jobs `visitor` sees among this key's: None for all of them (the operator,
        a shared history, or a pasted key, whose holder sees what it made), else its own."""
        if visitor.is_operator or visitor.shared or self.owner is not None:
            return None
        return visitor.tag

    def _spender(self, visitor: Visitor) -> Visitor:
        """Who the limits count: the visitor on the operator's key, and in demo mode (free,
        but its videos fill the same disk and the same line); nobody on a pasted key (its
        holder's money)."""
        return visitor if self.owner is None else OPERATOR

    def on_close(self, action: Callable[[], None]) -> None:
        """Run `action` when the studio closes (e.g. stop the demo simulator)."""
        self._on_close.append(action)

    def close(self) -> None:
        self.client.close()
        if self._owns_scheduler:
            self.scheduler.close()
        for action in reversed(self._on_close):
            action()
        self._on_close.clear()

    # --- the flows ------------------------------------------------------------------------

    async def generate(
        self,
        image: Source,
        audio: Source | None = None,
        *,
        deadline_s: float | None = None,  # None: Settings.follow_deadline_s
        trim: bool = False,  # keep the first 60 s of a longer voice
        shorten_pauses: bool = False,  # pauses over 1.5 s inside the voice shortened
        keep_silence: bool = False,  # a long speech's part: its edges stay as they were cut
        audio_id: str | None = None,
        prior_task_id: str | None = None,  # the TTS task `audio_id` came from
        prompt: str | None = None,
        mode: str = "std",
        audio_seconds: float | None = None,  # how long the audio behind `audio_id` lasts
        visitor: Visitor = OPERATOR,
        batch_key: str | None = None,  # the batch row this job makes (journaled with it)
    ) -> AsyncIterator[Progress]:
        """The whole flow for new inputs; the last event is Done with the video's path.

        A visitor past one of its limits is refused before anything is prepared or sent. The
        job is journaled in line (its inputs kept) and waits for its turn (`line.py`),
        telling its place (InLine); a create the provider's limits refuse goes back to the
        front of the line. A create whose outcome is unclear is announced by an Unclear
        event, then looked for by its external id for up to UNCLEAR_WINDOW_S; it is never
        sent again.
        """
        start = self._clock()
        prior_task_id = check_task_id(prior_task_id) or None
        deadline_s = self._deadline(deadline_s)
        await asyncio.to_thread(functools.partial(self.check_allowed, visitor, audio_id=audio_id))
        yield Preparing(say("step.preparing"))
        inputs = await asyncio.to_thread(
            functools.partial(
                self.inputs.prepare,
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
        if self.settings.public_url:
            secret, callback_url = self.callbacks.new_url(self.settings.public_url)
        opening = _Opening(self.steps.leave_line)
        try:
            job, request = await opening.run(
                functools.partial(
                    self._open_job,
                    inputs,
                    visitor,
                    audio_seconds,
                    prior_task_id,
                    callback_url,
                    batch_key,
                )
            )
            flow = self._through_line(
                job, request, start=start, deadline_s=deadline_s, secret=secret, inputs=inputs
            )
            async with contextlib.aclosing(flow):  # Stop leaves the line at once
                async for progress in flow:
                    yield progress
        finally:
            self.callbacks.retire(secret)

    async def _through_line(
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
        ticket = ticket or self._join(job)
        touched = self._clock()
        try:
            refusals = 0
            while True:
                async for place in self.line.wait(ticket):
                    if self._clock() - touched >= QUEUED_TOUCH_S:  # alive: not an orphan
                        touched = self._clock()
                        await asyncio.to_thread(self.journal.advance, job, Stage.QUEUED)
                    yield InLine(place_message(place), self._since(start), job,
                                 position=place.position, estimate_s=place.estimate_s)  # fmt: skip
                yield Submitting(say("step.submitting"), self._since(start), job, inputs=inputs)
                try:
                    job, task = await self._paid(self._send, job, request)
                except e.UnclearError as unclear:
                    job = await asyncio.to_thread(self.journal.get, job.job_id) or job
                    yield Unclear(str(unclear), self._since(start), job)
                    job, task = await self._look_again(job, deadline_s)
                except e.RateLimitError as refused:
                    if not refused_create(refused):
                        raise
                    refusals += 1
                    job = await asyncio.to_thread(self.journal.get, job.job_id) or job
                    self._back_in_line(ticket, refused, refusals)
                    continue
                break
            self.line.started(ticket)
            if secret:
                self.callbacks.bind(secret, self.client.base_url, task.task_id)
            async for progress in self._finish(
                job,
                task,
                start=start,
                deadline_s=deadline_s,
                callbacks=secret is not None,
                ended=functools.partial(self.line.leave, ticket, ended=True),  # no slot to download
            ):
                yield progress
        finally:
            if withdraw:  # a no-op once claimed: the create is on its way, or made
                self.steps.leave_line(job)
            self.line.leave(ticket)

    def _send(self, job: Job, request: AvatarRequest) -> tuple[Job, TaskInfo]:
        """Claim the job in line and create its task. A visitor's job on the operator's key
        is checked against the day's seconds once more as it is claimed (a job in line
        holds only its own visitor's share of the day); refused, it leaves the line unsent."""
        if job.stage is Stage.QUEUED:
            counted = job.visitor if self.owner is None else None  # demo mode counts too
            try:
                with self.limits.sending(counted, job.audio_seconds, job.job_id):
                    job = self.steps.claim(job)
            except e.LimitReachedError as refused:
                self.steps.leave_line(job, refused.message)
                raise
        return self.steps.submit(job, request)

    def _join(self, job: Job) -> Ticket:
        """The journaled job's place at the end of its visitor's jobs in the line."""
        return self.line.join(
            self._account,
            job.visitor or "operator",
            job.job_id,
            limit=self.settings.max_running_tasks if self.owner is None else 0,
            task_s=self.scheduler.model.expected(task_kind(job.mode, job.demo), job.audio_seconds),
        )

    def _back_in_line(self, ticket: Ticket, refused: e.RateLimitError, refusals: int) -> None:
        """A create the provider's limits refused goes back to the front of the line."""
        busy = refused.code == TOO_MANY_TASKS
        wait_s = refused_create_wait(refused, refusals, self._retry or RetryPolicy())
        self.line.refused(ticket, busy=busy, wait_s=wait_s)

    @property
    def _account(self) -> str:
        """The provider account this studio's creates count against (base URL and key)."""
        return f"{self.client.base_url} {self.owner or 'operator'}"

    def _open_job(
        self,
        inputs: PreparedInputs,
        visitor: Visitor,
        audio_seconds: float | None,
        prior_task_id: str | None,
        callback_url: str | None,
        batch_key: str | None = None,
    ) -> tuple[Job, AvatarRequest]:
        """Journal the job in line with its inputs kept, if the visitor's limits let it be
        sent (checked meanwhile); the job and its create.

        `audio_seconds`: the length of the audio behind an audio id, when the caller knows
        it; `batch_key`: the batch row the job makes, if any.
        """
        seconds = self.steps.voice_seconds(inputs) or audio_seconds
        spender, audio_id = self._spender(visitor), inputs.audio_id
        with _ROOM, self.limits.admit(spender, video_seconds=seconds, audio_id=audio_id):
            self._check_room()
            job = self.steps.open_job(inputs, visitor, seconds, batch_key)
            if audio_id:  # the speech's seconds now count as this job's
                self.journal.speech_used(audio_id, job.job_id)
        request = self.steps.request(job, inputs, prior_task_id, callback_url)
        try:
            self.steps.keep(job, request)
        except e.AvatarError:
            self.steps.leave_line(job)
            raise
        return job, request

    def _check_room(self) -> None:
        """Refuse a job when its account's line is full (AVATAR_MAX_IN_LINE)."""
        most = self.settings.max_in_line
        waiting = self.steps.waiting_in_line() if most else 0
        if most and waiting >= most:
            raise e.LimitReachedError(say("line.full", waiting=waiting, limit=most))

    async def follow(
        self,
        task_id: str,
        *,
        deadline_s: float | None = None,
        visitor: Visitor = OPERATOR,
    ) -> AsyncIterator[Progress]:
        """Follow a task id (or one of our job ids) to the end and store its video.

        The operator may follow any task of the account; a visitor on the operator's key
        only its own jobs (anything else is refused without asking the provider).
        """
        task_id = check_task_id(task_id)
        start = self._clock()
        deadline_s = self._deadline(deadline_s)
        known = await asyncio.to_thread(
            self.journal.find, task_id, owner=self.owner, visitor=self._scope(visitor)
        )
        if known is not None and video_home(known):
            yield Done(done_message(known), job=known)
            return
        if known is not None and known.stage is Stage.QUEUED:
            async for progress in self._follow_queued(known, start, deadline_s):
                yield progress
            return
        if known is None and self._scope(visitor) is not None:
            raise e.NotYoursError(say("task.not_yours", task_id=task_id))
        job, task = await self.scheduler.budget.run(
            self.steps.adopt, task_id, known, claim=question_of(visitor), asleep=self._pause
        )
        async for progress in self._finish(job, task, start=start, deadline_s=deadline_s):
            yield progress

    async def resume(self, *, deadline_s: float | None = None) -> AsyncIterator[Progress]:
        """Finish every unfinished job of this endpoint and key; one failing stops no other.

        Each job ends in one Done, Failed or Unclear event; nothing is raised for one job.
        An unclear create gets one lookup here, not the flow's window of lookups. Jobs left
        in line by a process that ended (`steps.orphaned_in`) join this process's line
        first, in their journal order (ahead of anyone who comes later), then every job is
        sent as the line allows and followed at once; their other events name their job.
        """
        deadline_s = self._deadline(deadline_s)
        flows: list[tuple[Job, AsyncIterator[Progress]]] = []
        to_send: list[tuple[Job, AvatarRequest]] = []
        for listed in await asyncio.to_thread(self.journal.unfinished):
            job = await asyncio.to_thread(self.journal.get, listed.job_id)
            if job is None or job.stage.is_finished or not self.steps.owns(job):
                continue  # another process moved it on, or it is not this key's
            if job.stage is not Stage.QUEUED:
                flows.append((job, self._resume_one(job, deadline_s)))
                continue
            left = await self._left_in_line(job, deadline_s)
            if isinstance(left, tuple):
                to_send.append(left)
            elif left is not None:
                flows.append((job, left))
        tickets = [self._join(job) for job, _ in to_send]  # at once, in the journal's order
        try:
            for (job, request), ticket in zip(to_send, tickets, strict=True):
                flows.append((job, self._send_left(job, request, deadline_s, ticket)))
            async for progress in merged([_named(flow, job) for job, flow in flows]):
                yield progress
        finally:
            for ticket in tickets:  # those whose flow never started leave (still queued)
                self.line.leave(ticket)

    def _orphaned_in(self, job: Job) -> float | None:
        """0 when a job in line is an orphan (no live line holds it), the seconds until it
        is one if no line touches it meanwhile, None when a live line holds it."""
        if self.line.knows(job.job_id):
            return None
        return orphaned_in(job)

    async def _follow_queued(
        self, job: Job, start: float, deadline_s: float
    ) -> AsyncIterator[Progress]:
        """Following a job in line: a live line's job is that line's to send (a lookup
        says so); an orphan (`_orphaned_in`) is sent now, with its kept inputs."""
        if self._orphaned_in(job) != 0:
            raise e.TaskStillRunningError(
                say("line.still_waiting", job_id=job.job_id),
                task_id=job.job_id,
                status=Stage.QUEUED.value,
            )
        job = await asyncio.to_thread(self.steps.take_over, job) or job
        request = await asyncio.to_thread(self.steps.kept, job)
        if request is None:
            latest = await asyncio.to_thread(self.journal.get, job.job_id)
            raise e.StorageError(_of_job_text(job, latest))
        flow = self._through_line(job, request, start=start, deadline_s=deadline_s, withdraw=False)
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
        taken = await asyncio.to_thread(self.steps.take_over, job)
        if taken is None:
            return None
        request = await asyncio.to_thread(self.steps.kept, taken)
        if request is None:
            return self._lost_inputs(taken)
        return taken, request

    async def _resume_after_grace(
        self, job: Job, wait_s: float, deadline_s: float
    ) -> AsyncIterator[Progress]:
        """Look again once the grace has passed, and again while another line touches the
        row (an old container still running beside this one), within the deadline: the
        job is taken over once its row stays untouched for a whole grace."""
        start = self._clock()
        latest: Job | None = job
        while wait_s > 0:
            if self._since(start) + wait_s > deadline_s:
                return  # a later resume or a lookup looks again
            await self._pause(wait_s)
            latest = await asyncio.to_thread(self.journal.get, job.job_id)
            if latest is None or latest.stage is not Stage.QUEUED or self.line.knows(job.job_id):
                return  # moved on, or this process's line holds it
            wait_s = self._orphaned_in(latest)
            if wait_s is None:
                return  # a live process on this machine holds it
        assert latest is not None
        left = await self._take_left(latest)
        if isinstance(left, tuple):
            left = self._send_left(*left, deadline_s, self._join(left[0]))
        if left is not None:
            async with contextlib.aclosing(left):
                async for progress in left:
                    yield progress

    async def _lost_inputs(self, job: Job) -> AsyncIterator[Progress]:
        latest = await asyncio.to_thread(self.journal.get, job.job_id)
        yield Failed(_of_job_text(job, latest), job=latest)

    async def _send_left(
        self, job: Job, request: AvatarRequest, deadline_s: float, ticket: Ticket | None = None
    ) -> AsyncIterator[Progress]:
        """A job left in line, in line again: sent with its kept inputs (once: the
        journal's claim). Stopped before its create, it stays in line for the next resume."""
        start = self._clock()
        flow = self._through_line(
            job, request, start=start, deadline_s=deadline_s, ticket=ticket, withdraw=False
        )
        try:
            async with contextlib.aclosing(flow):
                async for progress in flow:
                    yield progress
        except e.AvatarError as error:
            latest = await asyncio.to_thread(self.journal.get, job.job_id)
            if latest is not None and latest.stage.is_finished:
                yield Failed(_of_job(job, error), job=latest, error=error)
            else:
                yield Unclear(_of_job(job, error), job=latest)

    async def _resume_one(self, job: Job, deadline_s: float) -> AsyncIterator[Progress]:
        start = self._clock()
        try:
            found = await self._paid(self.steps.reattach, job)
            if found is None:
                settled = await asyncio.to_thread(self.journal.get, job.job_id)
                if settled is not None and settled.stage is Stage.CREATING:
                    message = say("job.not_known_yet", job_id=job.job_id)
                else:
                    message = _of_job(job, still_unclear(job.job_id))
                yield Unclear(message, job=settled)
                return
            async for progress in self._finish(*found, start=start, deadline_s=deadline_s):
                yield progress
        except e.UnclearError as unclear:
            latest = await asyncio.to_thread(self.journal.get, job.job_id)
            yield Unclear(_of_job(job, unclear), job=latest)
        except e.AvatarError as error:
            latest = await asyncio.to_thread(self.journal.get, job.job_id)
            if latest is not None and latest.stage.is_finished:
                yield Failed(_of_job(job, error), job=latest, error=error)
            else:  # still running, or its video not yet home: the next resume goes on
                yield Unclear(_of_job(job, error), job=latest)

    async def _look_again(self, job: Job, deadline_s: float) -> tuple[Job, TaskInfo]:
        """Look for an unclear create by its external id now and then, for up to
        UNCLEAR_WINDOW_S (or the flow's deadline); UnclearError when it stays unfound."""
        began, lookups = self._clock(), 1
        for delay in look_again_delays():
            if self._clock() - began + delay > min(UNCLEAR_WINDOW_S, deadline_s):
                break
            await self._pause(delay)
            found = await self._paid(self.steps.look_for, job)
            lookups += 1
            if found is not None:
                return found
        unclear = still_unclear(job.job_id, lookups)
        latest = await asyncio.to_thread(self.journal.get, job.job_id)
        await asyncio.to_thread(self.journal.update, latest or job, error=unclear.message)
        raise unclear

    async def _finish(
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
        yield Submitted(say("step.submitted", task_id=task.task_id), self._since(start), job, task)
        if not task.is_terminal:  # the wait shows (and its clock ticks) from the start
            yield Running(waiting_message(task, self._since(start)), self._since(start), job, task)
        async for snapshot in self.scheduler.watch(
            self.client,
            task,
            kind=task_kind(job.mode, job.demo),
            audio_s=job.audio_seconds,
            deadline_s=deadline_s,
            callbacks=callbacks,
        ):
            job, task = await asyncio.to_thread(self.steps.note, job, snapshot), snapshot
            if not snapshot.is_terminal:
                elapsed = self._since(start)
                yield Running(waiting_message(snapshot, elapsed), elapsed, job, snapshot)
        if ended is not None:
            ended()
        job = await asyncio.to_thread(self.steps.conclude, job, task)
        yield Downloading(say("step.downloading"), self._since(start), job, task)
        with asking(PAID):  # a fresh link for the video is this job's own request
            job = await asyncio.to_thread(self.steps.store, job, task)
        yield Done(done_message(job), self._since(start), job, task)

    async def _paid(self, step: Callable[..., T], *args: object) -> T:
        """A step of a paid job that asks the provider, in a thread, its first request's
        slot awaited first (holding no thread) ahead of anyone's questions."""
        return await self.scheduler.budget.run(step, *args, claim=PAID, asleep=self._pause)

    async def _pause(self, seconds: float) -> None:
        """Wait without holding a thread; an injected sleep (tests' fake clock) is used as is."""
        if self._sleep is time.sleep:
            await asyncio.sleep(seconds)
        else:
            await asyncio.to_thread(self._sleep, seconds)

    def _deadline(self, deadline_s: float | None) -> float:
        return self.settings.follow_deadline_s if deadline_s is None else deadline_s

    def _since(self, start: float) -> float:
        return self._clock() - start

    # --- single requests --------------------------------------------------------------------

    def check_key(self, visitor: Visitor = OPERATOR) -> None:
        """Raises AuthenticationError (or PermissionDeniedError) when the provider refuses
        this studio's key, or cannot even read it (HTTP 431 or 400: it is no key); costs
        nothing (a lookup of a task that does not exist), a question of `visitor`'s."""
        try:
            with asking(question_of(visitor)):
                self.client.get_task("0")
        except e.NotFoundError:
            return
        except e.ProviderError as error:
            if could_not_read(error):
                raise unreadable_key(error.status or 0, self.settings) from None
            raise

    def diagnose(
        self, *, ask_about_a_job: bool = True, visitor: Visitor = OPERATOR
    ) -> DoctorReport:
        """The doctor's report on this studio's provider and key: free requests only, each
        a question of `visitor`'s in the request budget.

        `ask_about_a_job`: whether to look up this key's latest job (its ids are in the
        report); the page says False for the app's own key, whose jobs are its visitors'."""
        notes = ["demo mode: this is the built-in simulator, not CometAPI"] if self.demo else []
        if self.settings.api_key and self.settings.kling_access_key:
            notes.append(say("settings.both_set"))
        with asking(question_of(visitor)):
            return diagnose(
                self.client,
                provider=self.provider,
                key_label="the demo key" if self.demo else self._key_label(),
                known=self._made_here() if ask_about_a_job else None,
                notes=notes,
            )

    @property
    def provider_name(self) -> str:
        """ "cometapi", "kling" or "demo": whom this studio speaks to."""
        return "demo" if self.demo else self.client.profile.name

    @property
    def provider(self) -> str:
        """Which provider this studio speaks to, as the page and the command line say it:
        "Provider: Kling (api-singapore.klingai.com)", "Provider: CometAPI (...)", demo."""
        return provider_line(self.provider_name, self.client.base_url)

    def _key_label(self) -> str:
        settings = self.settings
        if self.client.profile.name == "kling" and settings.kling_access_key:
            secret = settings.kling_secret_key.reveal() if settings.kling_secret_key else None
            access = key_label(settings.kling_access_key.reveal())
            return f"access key {access}; secret key {key_label(secret)}"
        return key_label(settings.api_key.reveal() if settings.api_key else None)

    def _made_here(self) -> tuple[str, str] | None:
        """(external id, task id) of this key's latest task made from this data folder; in
        demo mode, of this run's simulator only (each run starts one that knows no other
        run's task: asking it for one would say lookups are not answered)."""
        for job in self.journal.recent(200, owner=self.owner):
            made_here = job.image_sha256 is not None  # adopted jobs were never sent by us
            this_simulator = not self.demo or job.base_url == self.client.base_url
            if made_here and this_simulator and job.task_id and self.steps.owns(job):
                return job.job_id, job.task_id
        return None

    def speak(
        self,
        text: str,
        voice_id: str,
        language: str | None = None,
        speed: float = 1.0,
        *,
        visitor: Visitor = OPERATOR,
    ) -> SpeechResult:
        """Kling text-to-speech; its `audio_id` (and task id) can drive an avatar.

        It is paid: made only when the visitor may still make the video it is for
        (`check_allowed(speech=True)`, every limit), journaled before it is sent, counted in
        the visitor's day and its seconds in the day's (until a video uses it). `language`
        None: the voice's first language. Raises InputError before the request when it would
        be refused, and after it when the speech cannot drive an avatar (2 to 60 s).
        """
        text, language, speed = check_speech_request(text, voice_id, language, speed)
        expected = min(estimated_seconds(text, speed), MAX_AUDIO_SECONDS)  # held till it is made
        with self.limits.admit(self._spender(visitor), speech=True, video_seconds=expected):
            speech_id = self.journal.open_speech(
                owner=self.owner, seconds=expected, **visitor.columns()
            )
        try:
            with asking(PAID):
                result = self.client.text_to_speech(text, voice_id, language, speed)
        except e.AvatarError:
            self.journal.drop_speech(speech_id)
            raise
        self.journal.speech_made(speech_id, result.audio_id, result.task_id, result.duration_s)
        check_speech_length(result)
        return result

    # --- what a visitor may see ---------------------------------------------------------------

    def history(self, visitor: Visitor = OPERATOR, limit: int = 100) -> list[Job]:
        """The latest jobs `visitor` may see on this key, newest first."""
        return self.journal.recent(limit, owner=self.owner, visitor=self._scope(visitor))

    def job_of(self, visitor: Visitor, job_or_task_id: str) -> Job | None:
        """The job `visitor` may see with this id (None: none, or not the visitor's)."""
        return self.journal.find(job_or_task_id, owner=self.owner, visitor=self._scope(visitor))

    def check_allowed(
        self, visitor: Visitor, *, speech: bool = False, audio_id: str | None = None
    ) -> None:
        """LimitReachedError (one sentence) when `visitor` may not start a job now (every
        limit, the day's seconds too, but for the speech `audio_id` it would speak, counted
        already); `speech`: nor a speech for a job (the one question the page's /tts and
        the MCP tools ask before paying for speech, see `speak`)."""
        self.limits.check(self._spender(visitor), speech=speech, audio_id=audio_id)

    def allowance(self, visitor: Visitor) -> Allowance | None:
        """What is left of the visitor's daily limit (None: no limit applies to it)."""
        return self.limits.allowance(self._spender(visitor))

    # --- inputs -----------------------------------------------------------------------------

    def check_image(self, source: Source) -> PreparedImage:
        """The portrait as it would be sent; raises InputError with what is wrong."""
        return self.inputs.image(source)

    def check_audio(self, source: Source, *, trim: bool = False) -> PreparedAudio:
        """The voice as it would be sent; raises InputError with what is wrong."""
        return self.inputs.audio(source, trim=trim)


_ROOM = threading.Lock()  # counting a line's jobs and journaling one more, at once


class _Opening:
    """A job being journaled in a thread, withdrawn (`withdraw`) if its flow stops before
    it has the job: whichever of the thread and the stop comes second withdraws it."""

    def __init__(self, withdraw: Callable[[Job], None]) -> None:
        self._withdraw = withdraw
        self._lock = threading.Lock()
        self._stopped = False
        self._job: Job | None = None

    async def run(
        self, open_job: Callable[[], tuple[Job, AvatarRequest]]
    ) -> tuple[Job, AvatarRequest]:
        try:
            return await asyncio.to_thread(self._open, open_job)
        except BaseException:
            with self._lock:
                self._stopped, job, self._job = True, self._job, None
            if job is not None:
                self._withdraw(job)
            raise

    def _open(self, open_job: Callable[[], tuple[Job, AvatarRequest]]) -> tuple[Job, AvatarRequest]:
        job, request = open_job()
        with self._lock:
            if not self._stopped:
                self._job = job
                return job, request
        self._withdraw(job)  # its flow stopped meanwhile
        return job, request


async def _named(flow: AsyncIterator[Progress], job: Job) -> AsyncIterator[Progress]:
    """A resumed job's events, its steps prefixed with its job (they come interleaved);
    its end (Done, Failed, Unclear) already names its task or its job."""
    async with contextlib.aclosing(flow):
        async for progress in flow:
            if not isinstance(progress, (Done, Failed, Unclear)):
                sentence = say("job.sentence", job_id=job.job_id, sentence=progress.message)
                progress = dataclasses.replace(progress, message=sentence)
            yield progress


def done_message(job: Job) -> Message:
    video = say("done.video", seconds=job.video_seconds) if job.video_seconds else ""
    if job.demo:  # the demo simulator's units are make-believe
        units = say("done.simulated")
    else:
        units = say("done.units", units=job.units_charged) if job.units_charged else ""
    return say("step.done", task_id=job.task_id, video=video, units=units)


def _of_job(job: Job, error: e.AvatarError) -> Message:
    """An error's sentence, prefixed with the job it is about (for `resume`)."""
    return say("job.sentence", job_id=job.job_id, sentence=error.message)


def _of_job_text(job: Job, latest: Job | None) -> Message:
    """A job's stored error, prefixed with the job it is about."""
    return say("job.sentence", job_id=job.job_id, sentence=latest.error if latest else "")


def question_of(visitor: Visitor) -> Claim:
    """Whom a visitor's questions to the provider (key checks, lookups) are for, in the
    request budget: its turn comes with its network's and its own."""
    return Claim(Priority.QUESTION, address=visitor.address or "", visitor=visitor.tag)


def could_not_read(error: e.ProviderError) -> bool:
    """Whether a key check's answer says the request could not even be read: HTTP 431
    (headers too large), or a 400 page from the provider's front server (the API itself
    answers a lookup of an unknown task in JSON)."""
    return error.status == 431 or (error.status == 400 and isinstance(error, e.ServerError))


def unreadable_key(status: int, settings: Settings) -> e.AuthenticationError:
    """A key the provider could not read: refused, in one sentence."""
    key = settings.account.reveal() if settings.account else ""
    message = say("provider.unreadable_key", status=status, length=len(key))
    return e.AuthenticationError(message, status=status)


def learn_from_journal(scheduler: PollScheduler, journal: Journal) -> None:
    """Pace checks from how long this data folder's finished tasks took (the app and the
    command line share the folder, so each learns what the other saw)."""
    for task in journal.task_durations():
        kind = task_kind(task.mode, task.demo)
        scheduler.model.learn(kind, task.task_seconds, task.audio_seconds)


def provider_client(
    settings: Settings,
    profile: ProviderProfile,
    retry: RetryPolicy | None,
    sleep: Callable[[float], None],
    routes: RouteMemory,
    connection: ProviderConnection | None = None,
) -> ProviderClient:
    """A client for `profile` with the settings' timeouts, remembering its query route in
    `routes`, sending on `connection` (None: a connection of its own, with the settings'
    request budget until a studio makes it the process's)."""
    return ProviderClient(
        profile.base_url,
        profile=profile,
        retry=retry,
        sleep=sleep,
        timeout=settings.http_timeout_s,
        create_timeout=settings.create_timeout_s,
        routes=routes,
        connection=connection,
    )


def open_studio(settings: Settings, **parts) -> Studio:
    """The studio for these settings: the provider's endpoint with the key, or (no key) the
    demo simulator, started here on loopback and stopped when the studio closes.

    `parts` are Studio's keyword arguments (tests pass their clock, journal or scheduler).
    """
    stop_demo: Callable[[], None] | None = None
    if "client" not in parts:
        if settings.demo_mode:
            from avatar_core.demo import DEMO_KEY, start_demo_simulator

            simulator = start_demo_simulator(settings.demo_task_seconds)
            profile = cometapi_profile(simulator.base_url or "", Secret(DEMO_KEY))
            stop_demo = simulator.stop
        else:
            profile = profile_for(settings)
        routes = RouteMemory(None if settings.demo_mode else settings.data_dir)
        parts["client"] = provider_client(
            settings, profile, parts.get("retry"), parts.get("sleep", time.sleep), routes
        )
    try:
        studio = Studio(settings, **parts)
    except BaseException:  # e.g. a damaged journal: leave nothing running behind
        parts["client"].close()
        if stop_demo is not None:
            stop_demo()
        raise
    if stop_demo is not None:
        studio.on_close(stop_demo)
    with contextlib.suppress(OSError):  # kept inputs no line will send (disk, privacy)
        sweep_kept(settings.data_dir, studio.journal)
    if settings.demo_mode:  # the demo simulator's tasks take a known time, whatever the audio
        for mode in MODES:
            demo_line = Line(settings.demo_task_seconds, 0.0)
            studio.scheduler.model.assume(task_kind(mode, demo=True), demo_line)
    return studio
