"""The one flow, for the UI and the CLI alike: prepare, journal, submit, wait, store.

Each step is reported as a `Progress` event; failures are raised as AvatarError subclasses
after the journal has been brought up to date, so a consumer renders events and prints
`str(error)`. Two ways to wait share every step: `generate`/`follow`/`resume` block on
their own polling (the CLI), `agenerate`/`afollow` await the process's poll scheduler and
hold no thread while they wait (the app, where hundreds may wait at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from avatar_core import errors as e
from avatar_core.config import Secret, Settings
from avatar_core.demo import DEMO_KEY, demo_simulator
from avatar_core.inputs.audio import PreparedAudio, prepare_audio
from avatar_core.inputs.image import PreparedImage, prepare_image
from avatar_core.inputs.preparation import PreparedInputs, prepare_inputs
from avatar_core.provider.client import AvatarRequest, KlingClient
from avatar_core.provider.models import SpeechResult, TaskInfo, TaskStatus
from avatar_core.provider.retry import RetryPolicy
from avatar_core.provider.speech import check_speech_request
from avatar_core.storage.journal import Job, Journal, Stage, creator_alive
from avatar_core.storage.owners import owner_tag
from avatar_core.storage.videos import download_video, video_path
from avatar_core.waiting.callbacks import CallbackRegistry
from avatar_core.waiting.following import DEFAULT_DEADLINE_S, PollSchedule, follow_task
from avatar_core.waiting.scheduler import PollScheduler, default_scheduler

log = logging.getLogger(__name__)

Source = str | Path | bytes

# When the process sending a create cannot be asked (another machine), a job still
# `creating` this long after it was journaled has lost its create for good.
CREATE_GRACE_S = 15 * 60.0


class Step(str, enum.Enum):
    PREPARING = "preparing"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    WAITING = "waiting"
    DOWNLOADING = "downloading"
    DONE = "done"


@dataclass(frozen=True)
class Progress:
    """One step of a job, for people (`message`) and for code (the rest)."""

    step: Step
    message: str
    elapsed_s: float = 0.0
    job: Job | None = None
    task: TaskInfo | None = None
    inputs: PreparedInputs | None = None

    @property
    def video_path(self) -> Path | None:
        path = self.job.video_path if self.job else None
        return Path(path) if path else None


def final_progress(events: Iterable[Progress]) -> Progress:
    """Run a flow to its end; its last event (DONE, with the video's path)."""
    last: Progress | None = None
    for last in events:  # noqa: B007 - only the last one matters
        pass
    if last is None:
        raise e.AvatarError("Nothing happened: the flow produced no step.")
    return last


async def afinal_progress(events: AsyncIterator[Progress]) -> Progress:
    """`final_progress` for the async flows."""
    last: Progress | None = None
    async for last in events:  # noqa: B007 - only the last one matters
        pass
    if last is None:
        raise e.AvatarError("Nothing happened: the flow produced no step.")
    return last


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _clock_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


class Studio:
    """Jobs against one provider endpoint with one key, journaled in one data folder."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: KlingClient | None = None,
        journal: Journal | None = None,
        scheduler: PollScheduler | None = None,
        callbacks: CallbackRegistry | None = None,
        schedule: PollSchedule | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        owner: str | None = None,
    ) -> None:
        self.settings = settings
        self.demo = settings.demo_mode
        self.owner = owner  # whose jobs these are (None: the app's own key's)
        self.journal = journal or Journal(settings.data_dir)
        self.scheduler = scheduler or default_scheduler(settings.max_queries_per_s)
        for mode, seconds in self.journal.task_durations():  # pace polls from experience
            self.scheduler.model.learn(mode, seconds)
        if self.demo:  # the demo simulator's tasks take a known time
            for mode in ("std", "pro"):
                if not self.scheduler.model.known(mode):
                    self.scheduler.model.learn(mode, settings.demo_task_seconds)
        self.callbacks = callbacks or CallbackRegistry(self.scheduler)
        self._schedule = schedule
        self._retry = retry
        self._clock = clock
        self._sleep = sleep
        if client is None:
            if self.demo:
                base_url = demo_simulator(settings.demo_task_seconds).base_url
                key: Secret = Secret(DEMO_KEY)
            else:
                base_url, key = settings.base_url, settings.api_key  # type: ignore[assignment]
            client = KlingClient(base_url, key, retry=retry, sleep=sleep)
        self.client = client

    def with_key(self, key: str | None) -> Studio:
        """A studio for a person's own key (or demo mode), sharing journal and scheduler."""
        settings = self.settings.with_key(key)
        if settings.api_key == self.settings.api_key:
            return self
        return Studio(
            settings,
            journal=self.journal,
            scheduler=self.scheduler,
            callbacks=self.callbacks,
            schedule=self._schedule,
            retry=self._retry,
            clock=self._clock,
            sleep=self._sleep,
            owner=owner_tag(settings.data_dir, key) if key and key.strip() else None,
        )

    # --- blocking flows (the CLI) ---------------------------------------------------------

    def generate(
        self,
        image: Source,
        audio: Source | None = None,
        *,
        audio_id: str | None = None,
        prior_task_id: str | None = None,
        prompt: str | None = None,
        mode: str = "std",
        trim: bool = False,
        deadline_s: float = DEFAULT_DEADLINE_S,
    ) -> Iterator[Progress]:
        """The whole flow for new inputs; the last event is DONE with the video's path."""
        start = self._clock()
        yield Progress(Step.PREPARING, "Checking the portrait and the voice…")
        inputs = self._prepare(image, audio, audio_id, prompt, mode, trim)
        job = self._open_job(inputs)
        yield self._submitting(job, inputs, start)
        job, task = self._submit(job, self._request(job, inputs, prior_task_id, None))
        yield from self._finish(job, task, start=start, deadline_s=deadline_s)

    def follow(self, task_id: str, *, deadline_s: float = DEFAULT_DEADLINE_S) -> Iterator[Progress]:
        """Follow any task id (or one of our job ids) to the end and store its video."""
        start = self._clock()
        job = self._stored_job(task_id)
        if job is not None:
            yield Progress(Step.DONE, self._done_message(job), job=job)
            return
        job, task = self._adopt(task_id.strip())
        yield from self._finish(job, task, start=start, deadline_s=deadline_s)

    def resume(self, *, deadline_s: float = DEFAULT_DEADLINE_S) -> Iterator[Progress]:
        """Finish every unfinished job of this endpoint; a failed one does not stop the rest.

        Raises nothing for single jobs: their errors are journaled and reported as events.
        """
        for listed in self.journal.unfinished():
            job = self.journal.get(listed.job_id)  # another process may have moved it on
            if job is None or job.stage.is_finished or not self._owns(job):
                continue
            start = self._clock()
            try:
                found = self._reattach(job)
                if found is None:
                    settled = self.journal.get(job.job_id)
                    why = (
                        "never reached the provider; nothing was charged"
                        if settled and settled.stage is Stage.NOT_CREATED
                        else "is not known to the provider yet (its create may still be on "
                        "its way); it will be checked again next time"
                    )
                    yield Progress(Step.DONE, f"Job {job.job_id} {why}.")
                    continue
                yield from self._finish(*found, start=start, deadline_s=deadline_s)
            except e.AvatarError as error:
                yield Progress(
                    Step.DONE, f"Job {job.job_id}: {error}", job=self.journal.get(job.job_id)
                )

    def _finish(
        self, job: Job, task: TaskInfo, *, start: float, deadline_s: float
    ) -> Iterator[Progress]:
        yield self._submitted(job, task, start)
        for snapshot in follow_task(
            self.client.get_task,
            task.task_id,
            schedule=self._schedule,
            deadline_s=deadline_s,
            clock=self._clock,
            sleep=self._sleep,
            first=task,
        ):
            job, task = self._note(job, snapshot), snapshot
            if not snapshot.is_terminal:
                yield self._waiting(job, snapshot, start)
        job = self._conclude(job, task)
        yield self._downloading(job, task, start)
        job = self._store(job, task)
        yield Progress(
            Step.DONE, self._done_message(job), self._clock() - start, job=job, task=task
        )

    # --- awaiting flows (the app) ---------------------------------------------------------

    async def agenerate(
        self,
        image: Source,
        audio: Source | None = None,
        *,
        audio_id: str | None = None,
        prior_task_id: str | None = None,
        prompt: str | None = None,
        mode: str = "std",
        trim: bool = False,
        deadline_s: float = DEFAULT_DEADLINE_S,
    ) -> AsyncIterator[Progress]:
        """`generate` without holding a thread while the provider works."""
        start = self._clock()
        yield Progress(Step.PREPARING, "Checking the portrait and the voice…")
        inputs = await asyncio.to_thread(self._prepare, image, audio, audio_id, prompt, mode, trim)
        job = await asyncio.to_thread(self._open_job, inputs)
        yield self._submitting(job, inputs, start)
        secret, callback_url = None, None
        if self.settings.public_url:
            secret, callback_url = self.callbacks.new_url(self.settings.public_url)
        try:
            request = self._request(job, inputs, prior_task_id, callback_url)
            await asyncio.sleep(self.scheduler.budget.reserve())  # creates share the budget
            job, task = await asyncio.to_thread(self._submit, job, request)
            if secret:
                self.callbacks.bind(secret, self.client.base_url, task.task_id)
            async for progress in self._afinish(
                job, task, start=start, deadline_s=deadline_s, callbacks=secret is not None
            ):
                yield progress
        finally:
            self.callbacks.retire(secret)

    async def afollow(
        self, task_id: str, *, deadline_s: float = DEFAULT_DEADLINE_S
    ) -> AsyncIterator[Progress]:
        """`follow` without holding a thread while the provider works."""
        start = self._clock()
        job = await asyncio.to_thread(self._stored_job, task_id)
        if job is not None:
            yield Progress(Step.DONE, self._done_message(job), job=job)
            return
        job, task = await asyncio.to_thread(self._adopt, task_id.strip())
        async for progress in self._afinish(job, task, start=start, deadline_s=deadline_s):
            yield progress

    async def _afinish(
        self, job: Job, task: TaskInfo, *, start: float, deadline_s: float, callbacks: bool = False
    ) -> AsyncIterator[Progress]:
        yield self._submitted(job, task, start)
        async for snapshot in self.scheduler.watch(
            self.client, task, kind=job.mode, deadline_s=deadline_s, callbacks=callbacks
        ):
            job, task = await asyncio.to_thread(self._note, job, snapshot), snapshot
            if not snapshot.is_terminal:
                yield self._waiting(job, snapshot, start)
        job = await asyncio.to_thread(self._conclude, job, task)
        yield self._downloading(job, task, start)
        job = await asyncio.to_thread(self._store, job, task)
        yield Progress(
            Step.DONE, self._done_message(job), self._clock() - start, job=job, task=task
        )

    def check_key(self) -> None:
        """Raises AuthenticationError (or PermissionDeniedError) when the provider refuses
        this studio's key; costs nothing (a lookup of a task that does not exist)."""
        try:
            self.client.get_task("0")
        except e.NotFoundError:
            return

    # --- checking inputs alone (the page's verdicts) -------------------------------------

    def check_image(self, source: Source) -> PreparedImage:
        """The portrait as it would be sent; raises InputError with what is wrong."""
        return prepare_image(source, allow_private_urls=self.settings.allow_private_urls)

    def check_audio(self, source: Source, *, trim: bool = False) -> PreparedAudio:
        """The voice as it would be sent; raises InputError with what is wrong."""
        return prepare_audio(source, trim=trim, allow_private_urls=self.settings.allow_private_urls)

    # --- text to speech -------------------------------------------------------------------

    def speak(
        self, text: str, voice_id: str, language: str = "en", speed: float = 1.0
    ) -> SpeechResult:
        """Kling text-to-speech; its `audio_id` (and task id) can drive an avatar."""
        text, language, speed = check_speech_request(text, voice_id, language, speed)
        return self.client.text_to_speech(text, voice_id, language, speed)

    # --- the steps both ways share ----------------------------------------------------------

    def _prepare(self, image, audio, audio_id, prompt, mode, trim) -> PreparedInputs:
        return prepare_inputs(
            image,
            audio,
            audio_id=audio_id,
            prompt=prompt,
            mode=mode,
            trim=trim,
            allow_private_urls=self.settings.allow_private_urls,
        )

    def _open_job(self, inputs: PreparedInputs) -> Job:
        """Journal the job before anything is sent: a restart can then always find it."""
        return self.journal.create(
            base_url=self.client.base_url,
            demo=self.demo,
            owner=self.owner,
            mode=inputs.mode,
            prompt=inputs.prompt,
            audio_kind="file" if inputs.audio else "audio_id",
            image_sha256=_sha256(inputs.image.data),
            audio_sha256=_sha256(inputs.audio.data) if inputs.audio else None,
            audio_seconds=inputs.audio.duration_s if inputs.audio else None,
        )

    @staticmethod
    def _request(
        job: Job, inputs: PreparedInputs, prior_task_id: str | None, callback_url: str | None
    ) -> AvatarRequest:
        return AvatarRequest(
            image=inputs.image.base64,
            prompt=inputs.prompt,
            sound_file=inputs.audio.base64 if inputs.audio else None,
            audio_id=inputs.audio_id,
            mode=inputs.mode,
            task_id=prior_task_id or None,
            external_task_id=job.job_id,
            callback_url=callback_url,
        )

    def _submit(self, job: Job, request: AvatarRequest) -> tuple[Job, TaskInfo]:
        """Create the task once; on doubt, look it up by our external id instead of resending."""
        try:
            task = self.client.create_task(request)
        except e.CreateOutcomeUnknownError as unknown:
            job = self.journal.update(job, stage=Stage.OUTCOME_UNKNOWN, error=str(unknown))
            task = self._reconcile(job, unknown)
        except e.AvatarError as error:
            self.journal.update(job, stage=Stage.NOT_CREATED, error=str(error))
            raise
        job = self.journal.update(
            job,
            stage=Stage.RUNNING,
            task_id=task.task_id,
            provider_status=task.raw_status,
            error=None,
        )
        return job, task

    def _reconcile(self, job: Job, unknown: e.CreateOutcomeUnknownError) -> TaskInfo:
        """After a create with no clear answer: does the provider have our task?"""
        try:
            return self.client.get_task(job.job_id)
        except e.NotFoundError:
            self.journal.update(
                job,
                stage=Stage.NOT_CREATED,
                error="The provider has no task with this external id: nothing was charged.",
            )
            raise e.ProviderConnectionError(
                "The create request got no clear answer and the provider has no such task, so "
                "nothing was charged: press Generate again."
            ) from None
        except e.AvatarError:
            raise unknown from None

    def _owns(self, job: Job) -> bool:
        """Whether the job was sent to this studio's endpoint with this studio's key."""
        same_place = job.demo == self.demo and (self.demo or job.base_url == self.client.base_url)
        return same_place and job.owner == self.owner

    def _reattach(self, job: Job) -> tuple[Job, TaskInfo] | None:
        """An unfinished job's task as the provider now sees it; None if it never got there."""
        try:
            task = self.client.get_task(job.task_id or job.job_id)
        except e.NotFoundError:
            if job.task_id is None:
                if self._create_may_be_in_flight(job):
                    return None  # another process may still be sending it: look again later
                self.journal.update(
                    job,
                    stage=Stage.NOT_CREATED,
                    error="The create never reached the provider: nothing was charged.",
                )
                return None
            self.journal.update(
                job,
                stage=Stage.LOST,
                error="The provider no longer knows this task"
                + (" (the demo simulator was restarted)." if job.demo else "."),
            )
            raise e.NotFoundError(
                f"The provider no longer knows task {job.task_id}"
                + (": demo tasks end when the app stops." if job.demo else ": check the task id.")
            ) from None
        if job.task_id is None or job.stage in (Stage.OUTCOME_UNKNOWN, Stage.CREATING):
            job = self.journal.update(job, stage=Stage.RUNNING, task_id=task.task_id, error=None)
        return job, task

    @staticmethod
    def _create_may_be_in_flight(job: Job) -> bool:
        """A `creating` job whose process still runs (or, on another machine, is young)."""
        if job.stage is not Stage.CREATING:
            return False
        alive = creator_alive(job.creator)
        if alive is None:
            return time.time() - job.created_at < CREATE_GRACE_S
        return alive

    def _stored_job(self, task_id: str) -> Job | None:
        """This studio's job for this id if its video is already home."""
        job = self.journal.find(task_id.strip(), owner=self.owner)
        if job and job.stage is Stage.DONE and job.video_path and Path(job.video_path).is_file():
            return job
        return None

    def _adopt(self, task_id: str) -> tuple[Job, TaskInfo]:
        """The task, and its job (journaled now if this app did not create it)."""
        task = self.client.get_task(task_id)
        job = self.journal.find(task_id, owner=self.owner) or self.journal.find(
            task.task_id, owner=self.owner
        )
        if job is None:
            job = self.journal.create(
                base_url=self.client.base_url, demo=self.demo, owner=self.owner
            )
        if job.task_id is None or job.stage in (Stage.OUTCOME_UNKNOWN, Stage.CREATING):
            job = self.journal.update(job, stage=Stage.RUNNING, task_id=task.task_id)
        return job, task

    def _note(self, job: Job, snapshot: TaskInfo) -> Job:
        if snapshot.raw_status != job.provider_status:
            return self.journal.update(job, provider_status=snapshot.raw_status)
        return job

    def _conclude(self, job: Job, task: TaskInfo) -> Job:
        """Journal how the task ended; raises when it ended without a video."""
        if task.status is TaskStatus.FAILED:
            reason = task.status_message or "no reason given"
            self.journal.update(job, stage=Stage.FAILED, error=reason)
            raise e.TaskFailedError(
                f"The provider could not make this video: {reason.rstrip('.')}. Nothing more will "
                "happen with this task; change the inputs and try again.",
                task_id=task.task_id,
                reason=reason,
            )
        if not task.video_url:
            self.journal.update(job, stage=Stage.FAILED, error="no video link in the result")
            raise e.ServerError(
                f"Task {task.task_id} succeeded but the provider sent no video link: look it up "
                "again later."
            )
        return self.journal.update(
            job,
            stage=Stage.DOWNLOADING,
            video_url=task.video_url,
            video_seconds=task.video_duration_s,
            units_charged=task.units_charged,
            task_seconds=task.seconds_taken,
        )

    def _store(self, job: Job, task: TaskInfo) -> Job:
        """Copy the video home (provider links expire); the job stays resumable if it fails."""
        fresh = self.journal.get(job.job_id)
        if (
            fresh
            and fresh.stage is Stage.DONE
            and fresh.video_path
            and Path(fresh.video_path).is_file()
        ):
            return fresh  # another process brought it home meanwhile
        try:
            path = download_video(
                task.video_url or "",
                video_path(self.settings.data_dir, task.task_id),
                retry=self._retry,
                sleep=self._sleep,
            )
        except e.AvatarError as error:
            self.journal.update(job, error=str(error))
            raise
        return self.journal.update(job, stage=Stage.DONE, video_path=str(path), error=None)

    # --- the words ------------------------------------------------------------------------

    def _submitting(self, job: Job, inputs: PreparedInputs, start: float) -> Progress:
        return Progress(
            Step.SUBMITTING,
            "Sending the task to the provider…",
            self._clock() - start,
            job=job,
            inputs=inputs,
        )

    def _submitted(self, job: Job, task: TaskInfo, start: float) -> Progress:
        return Progress(
            Step.SUBMITTED,
            f"Task {task.task_id} accepted by the provider.",
            self._clock() - start,
            job=job,
            task=task,
        )

    def _waiting(self, job: Job, task: TaskInfo, start: float) -> Progress:
        elapsed = self._clock() - start
        return Progress(Step.WAITING, waiting_message(task, elapsed), elapsed, job=job, task=task)

    def _downloading(self, job: Job, task: TaskInfo, start: float) -> Progress:
        return Progress(
            Step.DOWNLOADING,
            "The video is ready; copying it into the data folder…",
            self._clock() - start,
            job=job,
            task=task,
        )

    @staticmethod
    def _done_message(job: Job) -> str:
        parts = [f"Done: task {job.task_id}"]
        if job.video_seconds:
            parts.append(f"{job.video_seconds:.1f} s of video")
        if job.units_charged:
            parts.append(f"{job.units_charged} units charged")
        return ", ".join(parts) + "."


def waiting_message(task: TaskInfo, elapsed: float) -> str:
    """What a person reads while the provider works."""
    what = {
        TaskStatus.SUBMITTED: "Queued at the provider",
        TaskStatus.PROCESSING: "The provider is making the video",
    }.get(task.status, f"The provider says '{task.raw_status}'")
    return f"{what}… {_clock_text(elapsed)} elapsed."


async def with_heartbeat(
    events: AsyncIterator[Progress], every_s: float = 1.0
) -> AsyncIterator[Progress]:
    """Re-yield `events`; while waiting on the provider, refresh the elapsed time every
    `every_s` seconds so a person sees the wait move (no request is made for it)."""
    iterator = events.__aiter__()
    pending: asyncio.Future[Progress] | None = None
    last: Progress | None = None
    ticked_at = time.monotonic()
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=every_s)
            if done:
                try:
                    last = pending.result()
                except StopAsyncIteration:
                    return
                finally:
                    pending = None
                ticked_at = time.monotonic()
                yield last
            elif last is not None and last.step is Step.WAITING and last.task is not None:
                elapsed = last.elapsed_s + time.monotonic() - ticked_at
                yield replace(last, message=waiting_message(last.task, elapsed), elapsed_s=elapsed)
    finally:
        if pending is not None:  # the person left (Stop, a closed tab): end the flow cleanly
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
