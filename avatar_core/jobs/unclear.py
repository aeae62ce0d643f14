"""Creates whose outcome is unclear: how long they are looked for, and what people read.

"Nothing was charged" needs proof: the request never left (the connection was refused)
or the provider refused it in so many words. A create whose answer was lost proves
neither, and a lookup by our external id that finds nothing proves nothing either (no
source shows that CometAPI answers such lookups for avatar tasks). Such a job stays
`outcome_unknown`: it is looked for again for a while, and the person is told that the
task may exist, how to look it up, and that sending it again may cost twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

from avatar_core.catalogue import Message, sentence_for
from avatar_core.errors import UnclearError
from avatar_core.jobs.services import ProcessServices
from avatar_core.provider.models import TaskInfo
from avatar_core.storage.journal import Job

UNCLEAR_WINDOW_S = 10 * 60.0  # how long a flow keeps looking for an unclear create
_FIRST_LOOKS_S = (5.0, 10.0, 20.0, 30.0)  # then once a minute
_LATER_LOOK_S = 60.0


def look_again_delays() -> Iterator[float]:
    """Seconds to wait before each new lookup of an unclear create."""
    yield from _FIRST_LOOKS_S
    while True:
        yield _LATER_LOOK_S


async def look_again(
    services: ProcessServices,
    look_for: Callable[[Job], tuple[Job, TaskInfo] | None],
    job: Job,
    deadline_s: float,
) -> tuple[Job, TaskInfo]:
    """Look for an unclear create by its external id (`look_for`, a paid step) now and
    then, for up to UNCLEAR_WINDOW_S (or the flow's deadline); UnclearError when it stays
    unfound."""
    began, lookups = services.now(), 1
    for delay in look_again_delays():
        if services.now() - began + delay > min(UNCLEAR_WINDOW_S, deadline_s):
            break
        await services.pause(delay)
        found = await services.paid(look_for, job)
        lookups += 1
        if found is not None:
            return found
    unclear = still_unclear(job.job_id, lookups)
    latest = await asyncio.to_thread(services.journal.get, job.job_id)
    await asyncio.to_thread(services.journal.update, latest or job, error=unclear.message)
    raise unclear


def _how_to_look_up(job_id: str) -> Message:
    return sentence_for("unclear.how_to_look_up", job_id=job_id)


def being_checked(job_id: str, why: str) -> Message:
    """The one sentence a person reads when a create's outcome becomes unclear."""
    reason = sentence_for("unclear.why", why=why) if why else ""
    return sentence_for(
        "unclear.being_checked",
        reason=reason,
        job_id=job_id,
        minutes=UNCLEAR_WINDOW_S / 60,
        how=_how_to_look_up(job_id),
    )


def still_unclear(job_id: str, lookups: int | None = None) -> UnclearError:
    """The error when looking for an unclear create found nothing (yet)."""
    looked = sentence_for("unclear.looked", lookups=lookups) if lookups else ""
    return UnclearError(
        sentence_for("unclear.still", job_id=job_id, looked=looked, how=_how_to_look_up(job_id)),
        job_id=job_id,
    )


def unknown_task(job_id: str, task_id: str) -> UnclearError:
    """The error when the provider's own task id is unknown on every query route."""
    return UnclearError(
        sentence_for("unclear.unknown_task", task_id=task_id, how=_how_to_look_up(task_id)),
        job_id=job_id,
    )
