"""The steps of one job, each a short blocking call that leaves the journal up to date.

The flow (`studio.py`) runs them in threads and decides their order; here each step talks
to the provider or the data folder once and journals what it learnt before it returns or
raises, so a process killed between two steps leaves a job that `resume` can finish.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from avatar_core import errors as e
from avatar_core.config import Settings
from avatar_core.inputs.preparation import PreparedInputs
from avatar_core.provider.client import AvatarRequest, KlingClient
from avatar_core.provider.models import TaskInfo, TaskStatus
from avatar_core.provider.retry import RetryPolicy
from avatar_core.storage.journal import Job, Journal, Stage, creator_alive
from avatar_core.storage.videos import download_video, video_path
from avatar_core.storage.visitors import OPERATOR, Visitor

# When the process sending a create cannot be asked (another machine), a job still
# `creating` this long after it was journaled has lost its create for good.
CREATE_GRACE_S = 15 * 60.0


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class JobSteps:
    """The steps for one provider endpoint and key (`owner`), in one journal."""

    settings: Settings
    client: KlingClient
    journal: Journal
    demo: bool
    owner: str | None = None
    retry: RetryPolicy | None = None  # for the video download
    sleep: Callable[[float], None] = time.sleep

    # --- before the create ------------------------------------------------------------------

    def voice_seconds(self, inputs: PreparedInputs) -> float | None:
        """How long the voice lasts: the file's length, or the speech's if it was made here."""
        if inputs.audio:
            return inputs.audio.duration_s
        return self.journal.speech_seconds(inputs.audio_id)

    def open_job(
        self, inputs: PreparedInputs, visitor: Visitor = OPERATOR, seconds: float | None = None
    ) -> Job:
        """Journal the job before anything is sent: a restart can then always find it.

        `visitor` is who asked (its tags are journaled); `seconds` the voice's length
        (`voice_seconds`).
        """
        return self.journal.create(
            base_url=self.client.base_url,
            demo=self.demo,
            owner=self.owner,
            mode=inputs.mode,
            prompt=inputs.prompt,
            audio_kind="file" if inputs.audio else "audio_id",
            image_sha256=_sha256(inputs.image.data),
            audio_sha256=_sha256(inputs.audio.data) if inputs.audio else None,
            audio_seconds=seconds,
            **visitor.columns(),
        )

    @staticmethod
    def request(
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

    # --- the create -------------------------------------------------------------------------

    def submit(self, job: Job, request: AvatarRequest) -> tuple[Job, TaskInfo]:
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

    # --- finding tasks again ----------------------------------------------------------------

    def owns(self, job: Job) -> bool:
        """Whether the job was sent to this endpoint with this key."""
        same_place = job.demo == self.demo and (self.demo or job.base_url == self.client.base_url)
        return same_place and job.owner == self.owner

    def reattach(self, job: Job) -> tuple[Job, TaskInfo] | None:
        """An unfinished job's task as the provider now sees it; None if it never got there."""
        try:
            task = self.client.get_task(job.task_id or job.job_id)
        except e.NotFoundError:
            if job.task_id is None:
                if _create_may_be_in_flight(job):
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

    def adopt(self, task_id: str, known: Job | None = None) -> tuple[Job, TaskInfo]:
        """The task, and its job: `known`, else this owner's, else journaled now (a task
        this app did not create)."""
        task = self.client.get_task(task_id)
        job = (
            known
            or self.journal.find(task_id, owner=self.owner)
            or self.journal.find(task.task_id, owner=self.owner)
        )
        if job is None:
            job = self.journal.create(
                base_url=self.client.base_url, demo=self.demo, owner=self.owner
            )
        if job.task_id is None or job.stage in (Stage.OUTCOME_UNKNOWN, Stage.CREATING):
            job = self.journal.update(job, stage=Stage.RUNNING, task_id=task.task_id)
        return job, task

    # --- while and after the task runs ------------------------------------------------------

    def note(self, job: Job, snapshot: TaskInfo) -> Job:
        if snapshot.raw_status != job.provider_status:
            return self.journal.update(job, provider_status=snapshot.raw_status)
        return job

    def conclude(self, job: Job, task: TaskInfo) -> Job:
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

    def store(self, job: Job, task: TaskInfo) -> Job:
        """Copy the video home (provider links expire); the job stays resumable if it fails."""
        fresh = self.journal.get(job.job_id)
        if fresh and video_home(fresh):
            return fresh  # another process brought it home meanwhile
        try:
            path = download_video(
                task.video_url or "",
                video_path(self.settings.data_dir, task.task_id),
                retry=self.retry,
                sleep=self.sleep,
                timeout=self.settings.http_timeout_s,
            )
        except e.AvatarError as error:
            self.journal.update(job, error=str(error))
            raise
        return self.journal.update(job, stage=Stage.DONE, video_path=str(path), error=None)


def video_home(job: Job) -> bool:
    """Whether the job is done and its video is in the data folder."""
    return job.stage is Stage.DONE and bool(job.video_path) and Path(job.video_path).is_file()


def _create_may_be_in_flight(job: Job) -> bool:
    """A `creating` job whose process still runs (or, on another machine, is young)."""
    if job.stage is not Stage.CREATING:
        return False
    alive = creator_alive(job.creator)
    if alive is None:
        return time.time() - job.created_at < CREATE_GRACE_S
    return alive
