"""Creates whose outcome is unclear: how long they are looked for, and what people read.

"Nothing was charged" needs proof: the request never left (the connection was refused)
or the provider refused it in so many words. A create whose answer was lost proves
neither, and a lookup by our external id that finds nothing proves nothing either (no
source shows that CometAPI answers such lookups for avatar tasks). Such a job stays
`outcome_unknown`: it is looked for again for a while, and the person is told that the
task may exist, how to look it up, and that sending it again may cost twice.
"""

from __future__ import annotations

from collections.abc import Iterator

from avatar_core.errors import UnclearError

UNCLEAR_WINDOW_S = 10 * 60.0  # how long a flow keeps looking for an unclear create
_FIRST_LOOKS_S = (5.0, 10.0, 20.0, 30.0)  # then once a minute
_LATER_LOOK_S = 60.0


def look_again_delays() -> Iterator[float]:
    """Seconds to wait before each new lookup of an unclear create."""
    yield from _FIRST_LOOKS_S
    while True:
        yield _LATER_LOOK_S


def _how_to_look_up(job_id: str) -> str:
    return f"`python -m avatar_core status {job_id}` or the page's task lookup"


def being_checked(job_id: str, why: str) -> str:
    """The one sentence a person reads when a create's outcome becomes unclear."""
    reason = f" ({why})" if why else ""
    return (
        f"The create request got no clear answer{reason}: the task may exist and be paid for, "
        f"so it was not sent again, and it is being looked for by its external id {job_id} "
        f"for up to {UNCLEAR_WINDOW_S / 60:.0f} minutes (look it up any time with "
        f"{_how_to_look_up(job_id)})."
    )


def still_unclear(job_id: str, lookups: int | None = None) -> UnclearError:
    """The error when looking for an unclear create found nothing (yet)."""
    looked = f" after {lookups} lookup(s) by its external id" if lookups else ""
    return UnclearError(
        f"Whether job {job_id} reached the provider is still unclear{looked}: the task may "
        f"exist and be paid for; look it up later with {_how_to_look_up(job_id)}, or in the "
        "CometAPI console, and generate again only if you accept that it may cost twice.",
        job_id=job_id,
    )


def unknown_task(job_id: str, task_id: str) -> UnclearError:
    """The error when the provider's own task id is unknown on every query route."""
    return UnclearError(
        f"The provider does not know task {task_id} on any query route just now: it is not "
        "marked failed and will be looked for again (`python -m avatar_core resume`, or "
        f"{_how_to_look_up(task_id)}).",
        job_id=job_id,
    )
