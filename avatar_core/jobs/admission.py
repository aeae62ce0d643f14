"""A new job's way into the line: admitted by the visitor's limits and the line's room,
journaled in line with its create kept in the data folder, and withdrawn again if its flow
stops while it is being journaled."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from avatar_core import errors as e
from avatar_core.catalogue import sentence_for
from avatar_core.inputs.preparation import PreparedInputs
from avatar_core.jobs.services import ProcessServices
from avatar_core.jobs.session import ProviderSession
from avatar_core.provider.client import AvatarRequest
from avatar_core.storage.journal import Job
from avatar_core.storage.visitors import Visitor

_ROOM = threading.Lock()  # counting a line's jobs and journaling one more, at once


def open_job(
    services: ProcessServices,
    session: ProviderSession,
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
    steps = session.steps
    seconds = steps.voice_seconds(inputs) or audio_seconds
    spender, audio_id = session.spender(visitor), inputs.audio_id
    with _ROOM, services.limits.admit(spender, video_seconds=seconds, audio_id=audio_id):
        _check_room(session)
        job = steps.open_job(inputs, visitor, seconds, batch_key)
        if audio_id:  # the speech's seconds now count as this job's
            services.journal.speech_used(audio_id, job.job_id)
    request = create_request(job, inputs, prior_task_id, callback_url)
    try:
        steps.keep(job, request)
    except e.AvatarError:
        steps.leave_line(job)
        raise
    return job, request


def create_request(
    job: Job, inputs: PreparedInputs, prior_task_id: str | None, callback_url: str | None
) -> AvatarRequest:
    """The create a journaled job sends: its inputs, under its job id as external id."""
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


def _check_room(session: ProviderSession) -> None:
    """Refuse a job when its account's line is full (AVATAR_MAX_IN_LINE)."""
    most = session.settings.max_in_line
    waiting = session.steps.waiting_in_line() if most else 0
    if most and waiting >= most:
        raise e.LimitReachedError(sentence_for("line.full", waiting=waiting, limit=most))


class JournalingWithdrawnOnStop:
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
