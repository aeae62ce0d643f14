"""The steps of one job, each a short blocking call that leaves the journal up to date.

The flow (`studio.py`) runs them in threads and decides their order; here each step talks
to the provider or the data folder once and journals what it learnt before it returns or
raises, so a process killed between two steps leaves a job that `resume` can finish.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from avatar_core import errors as e
from avatar_core.catalogue import sentence_for
from avatar_core.clock import SYSTEM, Clock
from avatar_core.config import Settings
from avatar_core.inputs.preparation import PreparedInputs
from avatar_core.jobs.kept_inputs import forget_request, keep_request, kept_request
from avatar_core.jobs.unclear import being_checked, still_unclear, unknown_task
from avatar_core.media.video_download import download_video
from avatar_core.provider.client import AvatarRequest, ProviderClient
from avatar_core.provider.models import TaskInfo, TaskStatus
from avatar_core.provider.retry import RetryPolicy, refused_create
from avatar_core.storage.journal import Job, Journal, Stage, creator_alive, this_process
from avatar_core.storage.videos import video_path
from avatar_core.storage.visitors import OPERATOR, Visitor

log = logging.getLogger(__name__)

# When the process sending a create cannot be asked (another machine), a job still
# `creating` this long after it was journaled is no longer being sent: its outcome is
# unclear (the create may or may not have arrived), never "not created".
CREATE_GRACE_S = 15 * 60.0
# A job in line whose creator cannot be asked (another machine: a Space or a container
# restarted under a new hostname) is an orphan once its row has not been touched for this
# long; a line touches the rows of its waiting jobs every QUEUED_TOUCH_S.
QUEUED_GRACE_S = 3 * 60.0
QUEUED_TOUCH_S = 30.0
# Kling deletes tasks after 30 days: a task unknown everywhere after that is lost.
TASK_LIFETIME_S = 30 * 24 * 3600.0


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class JobSteps:
    """The steps for one provider endpoint and key (`owner`), in one journal."""

    settings: Settings
    client: ProviderClient
    journal: Journal
    demo: bool
    owner: str | None = None
    retry: RetryPolicy | None = None  # for the video download
    clock: Clock = SYSTEM  # what the video download waits with between attempts

    # --- before the create ------------------------------------------------------------------

    def voice_seconds(self, inputs: PreparedInputs) -> float | None:
        """How long the voice lasts: the file's length, or the speech's if it was made here."""
        if inputs.audio:
            return inputs.audio.duration_s
        return self.journal.speech_seconds(inputs.audio_id)

    def open_job(
        self,
        inputs: PreparedInputs,
        visitor: Visitor = OPERATOR,
        seconds: float | None = None,
        batch_key: str | None = None,
    ) -> Job:
        """Journal the job, in line, before anything is sent: a restart can always find it.

        `visitor` is who asked (its tags are journaled); `seconds` the voice's length
        (`voice_seconds`); `batch_key` the identity of the batch row it makes, if any.
        """
        return self.journal.create(
            base_url=self.client.base_url,
            demo=self.demo,
            stage=Stage.QUEUED,
            owner=self.owner,
            mode=inputs.mode,
            prompt=inputs.prompt,
            audio_kind="file" if inputs.audio else "audio_id",
            image_sha256=_sha256(inputs.image.data),
            audio_sha256=_sha256(inputs.audio.data) if inputs.audio else None,
            audio_seconds=seconds,
            batch_key=batch_key,
            **visitor.columns(),
        )

    # --- the create -------------------------------------------------------------------------

    def keep(self, job: Job, request: AvatarRequest) -> None:
        """Keep a job's create in the data folder while it waits in line."""
        keep_request(self.settings.data_dir, job.job_id, request)

    def kept(self, job: Job) -> AvatarRequest | None:
        """A job in line's kept create; None (and the job ended, unsent) when it is gone."""
        request = kept_request(self.settings.data_dir, job.job_id)
        if request is None:
            why = sentence_for("line.inputs_lost")
            self.journal.advance(job, Stage.QUEUED, stage=Stage.NOT_CREATED, error=why)
        return request

    def waiting_in_line(self) -> int:
        """How many jobs of this endpoint and key wait in line (any process's)."""
        return self.journal.queued_count(self.client.base_url, self.owner, demo=self.demo)

    def take_over(self, job: Job) -> Job | None:
        """An orphan in line becomes this process's to send (so other processes see its
        line alive); None when it left the line meanwhile."""
        return self.journal.advance(job, Stage.QUEUED, creator=this_process())

    def leave_line(self, job: Job, why: str | None = None) -> None:
        """A job leaves the line unsent (Stop; or `why`, e.g. the day's seconds were used up
        meanwhile): journaled as never created, its inputs gone. A job whose create is
        already on its way is left to its create."""
        left = why or sentence_for("line.left")
        if self.journal.advance(job, Stage.QUEUED, stage=Stage.NOT_CREATED, error=left):
            forget_request(self.settings.data_dir, job.job_id)

    def submit(self, job: Job, request: AvatarRequest) -> tuple[Job, TaskInfo]:
        """Create the task once; on doubt, look it up by our external id instead of resending.

        A job in line is claimed first (UnclearError when another process sent it). Raises
        UnclearError (the job stays `outcome_unknown`) when the create's answer was lost and
        the lookup finds nothing; a create the provider's limits turned away (nothing made)
        goes back in line (`queued`) and its error is raised for the line; `not_created` is
        journaled for a create that never left or that the provider refused.
        """
        if job.stage is Stage.QUEUED:
            job = self.claim(job)
        try:
            task = self.client.create_task(request)
        except e.CreateOutcomeUnknownError as unknown:
            self._answered(job)
            job = self.journal.update(job, stage=Stage.OUTCOME_UNKNOWN, error=unknown.message)
            found = self.look_for(job)
            if found is None:
                why = being_checked(job.job_id, unknown.why)
                raise e.UnclearError(why, job_id=job.job_id) from None
            return found
        except e.AvatarError as error:
            if refused_create(error):
                back = sentence_for("line.refused_for_now", reason=str(error).rstrip("."))
                self.journal.advance(job, Stage.CREATING, stage=Stage.QUEUED, error=back)
                raise
            self._answered(job)
            self.journal.update(job, stage=Stage.NOT_CREATED, error=error.message)
            raise
        self._answered(job)
        return self._running(job, task), task

    def claim(self, job: Job) -> Job:
        """The job in line, journaled as being sent by this process (UnclearError when
        another process claimed it first)."""
        claimed = self.journal.advance(
            job, Stage.QUEUED, stage=Stage.CREATING, creator=this_process(), error=None
        )
        if claimed is None:
            raise e.UnclearError(
                sentence_for("line.sent_by_another", job_id=job.job_id), job_id=job.job_id
            )
        return claimed

    def _answered(self, job: Job) -> None:
        """The create has its answer: the inputs kept for the line are no longer needed."""
        forget_request(self.settings.data_dir, job.job_id)

    def look_for(self, job: Job) -> tuple[Job, TaskInfo] | None:
        """One lookup of an unclear create by our external id; the job (journaled running)
        and its task when the provider has it, None when this lookup cannot tell."""
        try:
            task = self.client.get_task(job.job_id)
        except e.AvatarError as error:
            log.info("job %s not found by its external id (%s)", job.job_id, type(error).__name__)
            return None
        return self._running(job, task), task

    def _running(self, job: Job, task: TaskInfo) -> Job:
        """Journal that the provider has the job's task."""
        return self.journal.update(
            job,
            stage=Stage.RUNNING,
            task_id=task.task_id,
            provider_status=task.raw_status,
            error=None,
        )

    # --- finding tasks again ----------------------------------------------------------------

    def owns(self, job: Job) -> bool:
        """Whether the job was sent to this endpoint with this key."""
        same_place = job.demo == self.demo and (self.demo or job.base_url == self.client.base_url)
        return same_place and job.owner == self.owner

    def reattach(self, job: Job) -> tuple[Job, TaskInfo] | None:
        """An unfinished job's task as the provider now sees it; None while that cannot be
        told (a create on its way, or an unclear one: the job stays unfinished)."""
        try:
            task = self.client.get_task(job.task_id or job.job_id)
        except e.NotFoundError:
            if job.task_id is None:
                if not _create_may_be_in_flight(job) and job.stage is Stage.CREATING:
                    self.journal.update(
                        job, stage=Stage.OUTCOME_UNKNOWN, error=still_unclear(job.job_id).message
                    )
                return None
            self._task_unknown(job)
        if job.task_id is None or job.stage in (Stage.OUTCOME_UNKNOWN, Stage.CREATING):
            job = self.journal.update(job, stage=Stage.RUNNING, task_id=task.task_id, error=None)
        return job, task

    def _task_unknown(self, job: Job) -> NoReturn:
        """The provider does not know a task it gave us: lost for a restarted demo
        simulator or after Kling's 30 days, otherwise unclear (kept, looked for again)."""
        assert job.task_id is not None
        if job.demo or time.time() - job.created_at > TASK_LIFETIME_S:
            self.journal.update(
                job,
                stage=Stage.LOST,
                error=sentence_for(
                    "job.lost", why=sentence_for("job.lost_demo") if job.demo else ""
                ),
            )
            key = "task.forgotten_demo" if job.demo else "task.forgotten"
            raise e.NotFoundError(sentence_for(key, task_id=job.task_id)) from None
        unclear = unknown_task(job.job_id, job.task_id)
        self.journal.update(job, error=unclear.message)
        raise unclear from None

    def job_for_task(self, task_id: str, known: Job | None = None) -> tuple[Job, TaskInfo]:
        """The task, and its job: `known`, else this owner's, else our unclear job sent
        under the task's external id, else journaled now (a task this app did not create).

        One of our unclear jobs that is still not found stays unclear."""
        try:
            task = self.client.get_task(task_id)
        except e.NotFoundError:
            ours = known or self.journal.find(task_id, owner=self.owner)
            if ours is not None and ours.task_id is None and not ours.stage.is_finished:
                raise still_unclear(ours.job_id) from None
            raise
        job = (
            known
            or self.journal.find(task_id, owner=self.owner)
            or self.journal.find(task.task_id, owner=self.owner)
            or self._unclear_job(task.external_task_id)
        )
        if job is None:
            job = self.journal.create(
                base_url=self.client.base_url, demo=self.demo, owner=self.owner
            )
        if job.task_id is None or job.stage in (Stage.OUTCOME_UNKNOWN, Stage.CREATING):
            job = self.journal.update(job, stage=Stage.RUNNING, task_id=task.task_id)
        return job, task

    def _unclear_job(self, external_id: str | None) -> Job | None:
        """Our job sent under `external_id`, while its task id is not known yet."""
        job = self.journal.find(external_id, owner=self.owner) if external_id else None
        return job if job is not None and job.task_id is None else None

    # --- while and after the task runs ------------------------------------------------------

    def record_status(self, job: Job, snapshot: TaskInfo) -> Job:
        """Journal the provider's status of the task when it changed."""
        if snapshot.raw_status != job.provider_status:
            return self.journal.update(job, provider_status=snapshot.raw_status)
        return job

    def conclude(self, job: Job, task: TaskInfo) -> Job:
        """Journal how the task ended; raises when it ended without a video."""
        if task.status is TaskStatus.FAILED:
            reason = task.status_message or "no reason given"
            self.journal.update(job, stage=Stage.FAILED, error=reason)
            raise e.TaskFailedError(
                sentence_for("task.failed", reason=reason.rstrip(".")),
                task_id=task.task_id,
                reason=reason,
            )
        if not task.video_url:
            self.journal.update(job, stage=Stage.FAILED, error=sentence_for("job.no_video_link"))
            raise e.ServerError(sentence_for("task.no_video_link", task_id=task.task_id))
        return self.journal.update(
            job,
            stage=Stage.DOWNLOADING,
            video_url=task.video_url,
            video_seconds=task.video_duration_s,
            units_charged=task.units_charged,
            task_seconds=task.seconds_taken,
        )

    def store(self, job: Job, task: TaskInfo) -> Job:
        """Copy the video into the data folder (provider links expire); the job stays
        resumable if it fails."""
        fresh = self.journal.get(job.job_id)
        if fresh and video_stored(fresh):
            return fresh  # another process brought it home meanwhile
        try:
            path = self._download_with_fresh_link(job, task)
        except e.AvatarError as error:
            self.journal.update(job, error=error.message)
            raise
        return self.journal.update(job, stage=Stage.DONE, video_path=str(path), error=None)

    def _download_with_fresh_link(self, job: Job, task: TaskInfo) -> Path:
        """The video's link, retried while its storage may lag the success; then the task
        is asked again for a fresh link; only then is the link called expired."""
        try:
            return self._download(task.video_url or "", task.task_id)
        except e.VideoLinkGoneError as gone:
            log.info("video link of task %s: HTTP %d; asking for a fresh one", task.task_id,
                     gone.status)  # fmt: skip
        again = self.client.get_task(task.task_id)
        link = again.video_url or task.video_url or ""
        if link != job.video_url:
            self.journal.update(job, video_url=link)
        try:
            return self._download(link, task.task_id)
        except e.VideoLinkGoneError as gone:
            raise e.VideoLinkGoneError(
                sentence_for("video.link_gone_again", status=gone.status),
                status=gone.status,
            ) from None

    def _download(self, url: str, task_id: str) -> Path:
        return download_video(
            url,
            video_path(self.settings.data_dir, task_id),
            retry=self.retry,
            clock=self.clock,
            timeout=self.settings.http_timeout_s,
            fresh_link=True,
        )


def video_stored(job: Job) -> bool:
    """Whether the job is done and its video is stored in the data folder."""
    return job.stage is Stage.DONE and bool(job.video_path) and Path(job.video_path).is_file()


def orphaned_in(job: Job, now: float | None = None) -> float | None:
    """For a job in line that no line of this process holds: 0 when it is an orphan (its
    creator ended, or is this process; or, when the creator cannot be asked, its row has
    not been touched for QUEUED_GRACE_S), the seconds until it would be one if no line
    touches it meanwhile, None when a live process on this machine holds it."""
    if job.creator == this_process():
        return 0.0
    alive = creator_alive(job.creator)
    if alive is None:
        now = time.time() if now is None else now
        return max(job.updated_at + QUEUED_GRACE_S - now, 0.0)
    return None if alive else 0.0


def _create_may_be_in_flight(job: Job) -> bool:
    """A `creating` job whose process still runs (or, on another machine, is young)."""
    if job.stage is not Stage.CREATING:
        return False
    alive = creator_alive(job.creator)
    if alive is None:
        return time.time() - job.created_at < CREATE_GRACE_S
    return alive
