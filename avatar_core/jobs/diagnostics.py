"""Free questions about a session's provider and key: whether the key is accepted, and the
doctor's report. Each is a question of a visitor's in the request budget."""

from __future__ import annotations

from avatar_core import errors as e
from avatar_core.catalogue import sentence_for
from avatar_core.config import Settings
from avatar_core.jobs.session import ProviderSession, question_of
from avatar_core.provider.budget import asking
from avatar_core.provider.choice import doctor_notes
from avatar_core.provider.doctor import DoctorReport, diagnose
from avatar_core.storage.journal import Journal
from avatar_core.storage.visitors import OPERATOR, Visitor


def check_key(session: ProviderSession, visitor: Visitor = OPERATOR) -> None:
    """`Studio.check_key`: AuthenticationError (or PermissionDeniedError) when the provider
    refuses the session's key, or cannot even read it; costs nothing."""
    try:
        with asking(question_of(visitor)):
            session.client.get_task("0")
    except e.NotFoundError:
        return
    except e.ProviderError as error:
        if could_not_read(error):
            raise unreadable_key(error.status or 0, session.settings) from None
        raise


def diagnose_session(
    session: ProviderSession,
    journal: Journal,
    *,
    ask_about_a_job: bool = True,
    visitor: Visitor = OPERATOR,
) -> DoctorReport:
    """`Studio.diagnose`: the doctor's report on the session's provider and key."""
    with asking(question_of(visitor)):
        return diagnose(
            session.client,
            provider=session.provider,
            key_label=session.provider_kind.key_label(session.settings),
            known=_made_here(session, journal) if ask_about_a_job else None,
            notes=doctor_notes(session.settings),
        )


def _made_here(session: ProviderSession, journal: Journal) -> tuple[str, str] | None:
    """(external id, task id) of this key's latest task made from this data folder; in
    demo mode, of this run's simulator only (each run starts one that knows no other
    run's task: asking it for one would say lookups are not answered)."""
    for job in journal.recent(200, owner=session.owner):
        made_here = job.image_sha256 is not None  # jobs followed by a task id were never sent by us
        this_simulator = not session.demo or job.base_url == session.client.base_url
        if made_here and this_simulator and job.task_id and session.steps.owns(job):
            return job.job_id, job.task_id
    return None


def could_not_read(error: e.ProviderError) -> bool:
    """Whether a key check's answer says the request could not even be read: HTTP 431
    (headers too large), or a 400 page from the provider's front server (the API itself
    answers a lookup of an unknown task in JSON)."""
    return error.status == 431 or (error.status == 400 and isinstance(error, e.ServerError))


def unreadable_key(status: int, settings: Settings) -> e.AuthenticationError:
    """A key the provider could not read: refused, in one sentence."""
    key = settings.account.reveal() if settings.account else ""
    message = sentence_for("provider.unreadable_key", status=status, length=len(key))
    return e.AuthenticationError(message, status=status)
