"""The one flow, for the UI and the CLI alike: prepare, journal, submit, wait, store.

Each step is reported as a `Progress` event from a generator; failures are raised as
AvatarError subclasses after the journal has been brought up to date, so a consumer
renders events and prints `str(error)`.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import errors as e
from .client import AvatarRequest, KlingClient
from .config import Secret, Settings
from .demo import DEMO_KEY, demo_simulator
from .following import DEFAULT_DEADLINE_S, PollSchedule, follow_task
from .journal import Job, Journal, Stage
from .preparation import PreparedInputs, prepare_inputs
from .results import download_video, video_path
from .retry import RetryPolicy
from .speech import check_speech_request
from .tasks import SpeechResult, TaskInfo, TaskStatus

log = logging.getLogger(__name__)


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
        schedule: PollSchedule | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.demo = settings.demo_mode
        self.journal = journal or Journal(settings.data_dir)
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
        """A studio for a person's own key (or demo mode), sharing this journal."""
        settings = self.settings.with_key(key)
        if settings.api_key == self.settings.api_key:
            return self
        return Studio(
            settings,
            journal=self.journal,
            schedule=self._schedule,
            retry=self._retry,
            clock=self._clock,
            sleep=self._sleep,
        )

    # --- whole flows ----------------------------------------------------------------------

    def generate(
        self,
        image: str | Path | bytes,
        audio: str | Path | bytes | None = None,
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
        inputs = prepare_inputs(
            image,
            audio,
            audio_id=audio_id,
            prompt=prompt,
            mode=mode,
            trim=trim,
            allow_private_urls=self.settings.allow_private_urls,
        )
        job = self.journal.create(
            base_url=self.client.base_url,
            demo=self.demo,
            mode=inputs.mode,
            prompt=inputs.prompt,
            audio_kind="file" if inputs.audio else "audio_id",
            image_sha256=_sha256(inputs.image.data),
            audio_sha256=_sha256(inputs.audio.data) if inputs.audio else None,
            audio_seconds=inputs.audio.duration_s if inputs.audio else None,
        )
        yield Progress(
            Step.SUBMITTING,
            "Sending the task to the provider…",
            self._clock() - start,
            job=job,
            inputs=inputs,
        )
        request = AvatarRequest(
            image=inputs.image.base64,
            prompt=inputs.prompt,
            sound_file=inputs.audio.base64 if inputs.audio else None,
            audio_id=inputs.audio_id,
            mode=inputs.mode,
            task_id=prior_task_id or None,
            external_task_id=job.job_id,
        )
        job, task = self._submit(job, request)
        yield from self._finish(job, task, start=start, deadline_s=deadline_s)

    def follow(self, task_id: str, *, deadline_s: float = DEFAULT_DEADLINE_S) -> Iterator[Progress]:
        """Follow any task id (or one of our job ids) to the end and store its video."""
        start = self._clock()
        task_id = task_id.strip()
        job = self.journal.find(task_id)
        stored = job is not None and job.stage is Stage.DONE and job.video_path
        if stored and Path(job.video_path).is_file():
            yield Progress(Step.DONE, self._done_message(job), job=job)
            return
        task = self.client.get_task(task_id)
        if job is None:
            job = self.journal.find(task.task_id) or self._adopt(task)
        if job.task_id is None or job.stage in (Stage.OUTCOME_UNKNOWN, Stage.CREATING):
            job = self.journal.update(job, stage=Stage.RUNNING, task_id=task.task_id)
        yield from self._finish(job, task, start=start, deadline_s=deadline_s)

    def resume(self, *, deadline_s: float = DEFAULT_DEADLINE_S) -> Iterator[Progress]:
        """Finish every unfinished job of this endpoint; a failed one does not stop the rest.

        Raises nothing for single jobs: their errors are journaled and reported as events.
        """
        for job in self.journal.unfinished():
            if job.demo != self.demo or (not self.demo and job.base_url != self.client.base_url):
                continue
            try:
                yield from self._resume_job(job, deadline_s=deadline_s)
            except e.AvatarError as error:
                yield Progress(
                    Step.DONE, f"Job {job.job_id}: {error}", job=self.journal.get(job.job_id)
                )

    def speak(
        self, text: str, voice_id: str, language: str = "en", speed: float = 1.0
    ) -> SpeechResult:
        """Kling text-to-speech; its `audio_id` (and task id) can drive an avatar."""
        text, language, speed = check_speech_request(text, voice_id, language, speed)
        return self.client.text_to_speech(text, voice_id, language, speed)

    # --- the steps ------------------------------------------------------------------------

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

    def _resume_job(self, job: Job, *, deadline_s: float) -> Iterator[Progress]:
        start = self._clock()
        lookup = job.task_id or job.job_id
        try:
            task = self.client.get_task(lookup)
        except e.NotFoundError:
            if job.task_id is None:
                self.journal.update(
                    job,
                    stage=Stage.NOT_CREATED,
                    error="The create never reached the provider: nothing was charged.",
                )
                yield Progress(
                    Step.DONE, f"Job {job.job_id} never reached the provider; nothing was charged."
                )
                return
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
        if job.task_id is None:
            job = self.journal.update(job, stage=Stage.RUNNING, task_id=task.task_id)
        yield from self._finish(job, task, start=start, deadline_s=deadline_s)

    def _finish(
        self, job: Job, task: TaskInfo, *, start: float, deadline_s: float
    ) -> Iterator[Progress]:
        """Wait for the task, then store its video; journal every change."""
        yield Progress(
            Step.SUBMITTED,
            f"Task {task.task_id} accepted by the provider.",
            self._clock() - start,
            job=job,
            task=task,
        )
        for snapshot in follow_task(
            self.client.get_task,
            task.task_id,
            schedule=self._schedule,
            deadline_s=deadline_s,
            clock=self._clock,
            sleep=self._sleep,
            first=task,
        ):
            if snapshot.raw_status != job.provider_status:
                job = self.journal.update(job, provider_status=snapshot.raw_status)
            task = snapshot
            if not snapshot.is_terminal:
                elapsed = self._clock() - start
                yield Progress(
                    Step.WAITING,
                    self._waiting_message(snapshot, elapsed),
                    elapsed,
                    job=job,
                    task=snapshot,
                )
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
        job = self.journal.update(
            job,
            stage=Stage.DOWNLOADING,
            video_url=task.video_url,
            video_seconds=task.video_duration_s,
            units_charged=task.units_charged,
        )
        yield Progress(
            Step.DOWNLOADING,
            "The video is ready; copying it into the data folder…",
            self._clock() - start,
            job=job,
            task=task,
        )
        try:
            path = download_video(
                task.video_url,
                video_path(self.settings.data_dir, task.task_id),
                retry=self._retry,
                sleep=self._sleep,
            )
        except e.AvatarError as error:
            self.journal.update(job, error=str(error))
            raise
        job = self.journal.update(job, stage=Stage.DONE, video_path=str(path), error=None)
        yield Progress(
            Step.DONE, self._done_message(job), self._clock() - start, job=job, task=task
        )

    def _adopt(self, task: TaskInfo) -> Job:
        """Journal a task this app did not create (looked up by id), so it shows in history."""
        job = self.journal.create(base_url=self.client.base_url, demo=self.demo, job_id=None)
        return self.journal.update(job, stage=Stage.RUNNING, task_id=task.task_id)

    @staticmethod
    def _waiting_message(task: TaskInfo, elapsed: float) -> str:
        what = {
            TaskStatus.SUBMITTED: "Queued at the provider",
            TaskStatus.PROCESSING: "The provider is making the video",
        }.get(task.status, f"The provider says '{task.raw_status}'")
        return f"{what}… {_clock_text(elapsed)} elapsed."

    @staticmethod
    def _done_message(job: Job) -> str:
        parts = [f"Done: task {job.task_id}"]
        if job.video_seconds:
            parts.append(f"{job.video_seconds:.1f} s of video")
        if job.units_charged:
            parts.append(f"{job.units_charged} units charged")
        return ", ".join(parts) + "."
