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

import contextlib
from collections.abc import AsyncIterator, Callable

from avatar_core.clock import SYSTEM, Clock
from avatar_core.config import Settings
from avatar_core.inputs.audio import PreparedAudio
from avatar_core.inputs.fields import MODES
from avatar_core.inputs.image import PreparedImage
from avatar_core.inputs.preparation import InputPreparer
from avatar_core.jobs.diagnostics import check_key, diagnose_session
from avatar_core.jobs.events import Progress
from avatar_core.jobs.flow import JobFlow, Source
from avatar_core.jobs.kept_inputs import sweep_kept
from avatar_core.jobs.limits import Allowance, SpendingLimits
from avatar_core.jobs.line import FairLine
from avatar_core.jobs.paid_speech import speak
from avatar_core.jobs.recovery import Recovery
from avatar_core.jobs.services import ProcessServices
from avatar_core.jobs.session import ProviderSession, provider_client
from avatar_core.jobs.speech_history import ENTRY_PREFIX, entry_of, one_entry_a_speech
from avatar_core.provider.base import Provider
from avatar_core.provider.choice import provider_of
from avatar_core.provider.client import ProviderClient
from avatar_core.provider.doctor import DoctorReport
from avatar_core.provider.models import SpeechResult
from avatar_core.provider.retry import RetryPolicy
from avatar_core.provider.routes import RouteMemory
from avatar_core.storage.journal import Job, Journal
from avatar_core.storage.visitors import OPERATOR, Visitor, address_tag, visitor_tag
from avatar_core.waiting.callbacks import CallbackRegistry
from avatar_core.waiting.durations import LinearDuration, task_kind
from avatar_core.waiting.scheduler import PollScheduler

HISTORY_LOOKUP = 500  # the latest jobs a speech's entry is looked for among


class Studio:
    """Jobs against one provider endpoint with one key, journaled in one data folder.

    A facade over the process's shared services (`services.py`), the account's provider
    session (`session.py`), the job flow (`flow.py`), the recovery of jobs found again
    (`recovery.py`), the diagnostics (`diagnostics.py`) and paid speech (`paid_speech.py`).
    Made by `open_studio` (which also starts the demo simulator when there is no key); a
    person's pasted key gets a studio of its own from `with_key`: a new session over the
    same services.
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
        clock: Clock = SYSTEM,
        owner: str | None = None,
        limits: SpendingLimits | None = None,
        line: FairLine | None = None,
    ) -> None:
        services = ProcessServices(
            settings,
            journal=journal,
            scheduler=scheduler,
            callbacks=callbacks,
            inputs=inputs,
            retry=retry,
            clock=clock,
            limits=limits,
            line=line,
        )
        self._assemble(services, ProviderSession(settings, client, services, owner))
        self._owns_services = True

    def _assemble(self, services: ProcessServices, session: ProviderSession) -> None:
        self.services, self.session = services, session
        self.settings, self.demo, self.owner = session.settings, session.demo, session.owner
        self.client, self.steps = session.client, session.steps
        self.journal, self.scheduler = services.journal, services.scheduler
        self.callbacks, self.inputs = services.callbacks, services.inputs
        self.limits, self.line = services.limits, services.line
        self.flow = JobFlow(services, session)
        self.recovery = Recovery(self.flow)
        self._owns_services = False
        self._on_close: list[Callable[[], None]] = []

    @property
    def provider_kind(self) -> Provider:
        """Whom this studio speaks to (provider/: CometAPI, Kling's own API, demo)."""
        return self.session.provider_kind

    @property
    def provider(self) -> str:
        """Which provider this studio speaks to, as the page and the command line say it."""
        return self.session.provider

    def with_key(self, key: str | None) -> Studio:
        """A studio for a person's own key, sharing everything but the provider session.

        Nothing is learnt again: the duration model only learns from tasks that finish.
        """
        session = self.session.for_key(key, self.services)
        if session is None:
            return self
        studio = Studio.__new__(Studio)
        studio._assemble(self.services, session)
        return studio

    def visitor(self, visitor_id: str, address: str | None = None) -> Visitor:
        """The visitor known by `visitor_id` (a browser's kept id, or an API session's),
        asking from the network `address` (if known)."""
        data_dir = self.settings.data_dir
        return Visitor(
            visitor_tag(data_dir, visitor_id),
            shared=self.settings.shared_history,
            address=address_tag(data_dir, address) if address else None,
        )

    def on_close(self, action: Callable[[], None]) -> None:
        """Run `action` when the studio closes (e.g. stop the demo simulator)."""
        self._on_close.append(action)

    def close(self) -> None:
        self.client.close()
        if self._owns_services:
            self.services.close()
        for action in reversed(self._on_close):
            action()
        self._on_close.clear()

    # --- the flows ------------------------------------------------------------------------

    def generate(
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
        return self.flow.generate(
            image, audio, deadline_s=deadline_s, trim=trim, shorten_pauses=shorten_pauses,
            keep_silence=keep_silence, audio_id=audio_id, prior_task_id=prior_task_id,
            prompt=prompt, mode=mode, audio_seconds=audio_seconds, visitor=visitor,
            batch_key=batch_key,
        )  # fmt: skip

    def follow(
        self, task_id: str, *, deadline_s: float | None = None, visitor: Visitor = OPERATOR
    ) -> AsyncIterator[Progress]:
        """Follow a task id (or one of our job ids) to the end and store its video.

        The operator may follow any task of the account; a visitor on the operator's key
        only its own jobs (anything else is refused without asking the provider).
        """
        return self.recovery.follow(task_id, deadline_s=deadline_s, visitor=visitor)

    def resume(self, *, deadline_s: float | None = None) -> AsyncIterator[Progress]:
        """Finish every unfinished job of this endpoint and key; one failing stops no other.

        Each job ends in one Done, Failed or Unclear event; nothing is raised for one job.
        An unclear create gets one lookup here, not the flow's window of lookups. Jobs left
        in line by a process that ended (`steps.orphaned_in`) join this process's line
        first, in their journal order (ahead of anyone who comes later), then every job is
        sent as the line allows and followed at once; their other events name their job.
        """
        return self.recovery.resume(deadline_s=deadline_s)

    # --- single requests --------------------------------------------------------------------

    def check_key(self, visitor: Visitor = OPERATOR) -> None:
        """Raises AuthenticationError (or PermissionDeniedError) when the provider refuses
        this studio's key, or cannot even read it (HTTP 431 or 400: it is no key); costs
        nothing (a lookup of a task that does not exist), a question of `visitor`'s."""
        check_key(self.session, visitor)

    def diagnose(
        self, *, ask_about_a_job: bool = True, visitor: Visitor = OPERATOR
    ) -> DoctorReport:
        """The doctor's report on this studio's provider and key: free requests only, each
        a question of `visitor`'s in the request budget.

        `ask_about_a_job`: whether to look up this key's latest job (its ids are in the
        report); the page says False for the app's own key, whose jobs are its visitors'."""
        return diagnose_session(
            self.session, self.journal, ask_about_a_job=ask_about_a_job, visitor=visitor
        )

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
        return speak(self.services, self.session, text, voice_id, language, speed, visitor=visitor)

    # --- what a visitor may see ---------------------------------------------------------------

    def history(self, visitor: Visitor = OPERATOR, limit: int = 100) -> list[Job]:
        """The latest jobs `visitor` may see on this key, newest first, a long speech's
        parts as one entry (`speech_history.SpeechEntry`: its joined video, or how far
        its parts got)."""
        scope = self.session.scope(visitor)
        jobs = self.journal.recent(limit, owner=self.owner, visitor=scope)
        return one_entry_a_speech(jobs, self.settings.data_dir)

    def job_of(self, visitor: Visitor, job_or_task_id: str) -> Job | None:
        """The job (or a speech's entry, `speech-<key>`) `visitor` may see with this id
        (None: none, or not the visitor's)."""
        if job_or_task_id.startswith(ENTRY_PREFIX):
            scope = self.session.scope(visitor)
            jobs = self.journal.recent(HISTORY_LOOKUP, owner=self.owner, visitor=scope)
            return entry_of(jobs, job_or_task_id, self.settings.data_dir)
        scope = self.session.scope(visitor)
        return self.journal.find(job_or_task_id, owner=self.owner, visitor=scope)

    def check_allowed(
        self, visitor: Visitor, *, speech: bool = False, audio_id: str | None = None
    ) -> None:
        """LimitReachedError (one sentence) when `visitor` may not start a job now (every
        limit, the day's seconds too, but for the speech `audio_id` it would speak, counted
        already); `speech`: nor a speech for a job (the one question the page's /tts and
        the MCP tools ask before paying for speech, see `speak`)."""
        self.limits.check(self.session.spender(visitor), speech=speech, audio_id=audio_id)

    def allowance(self, visitor: Visitor) -> Allowance | None:
        """What is left of the visitor's daily limit (None: no limit applies to it)."""
        return self.limits.allowance(self.session.spender(visitor))

    # --- inputs -----------------------------------------------------------------------------

    def check_image(self, source: Source) -> PreparedImage:
        """The portrait as it would be sent; raises InputError with what is wrong."""
        return self.inputs.image(source)

    def check_audio(self, source: Source, *, trim: bool = False) -> PreparedAudio:
        """The voice as it would be sent; raises InputError with what is wrong."""
        return self.inputs.audio(source, trim=trim)


def open_studio(settings: Settings, **parts) -> Studio:
    """The studio for these settings: the provider's endpoint with the key, or (no key) the
    demo simulator, started here on loopback and stopped when the studio closes.

    `parts` are Studio's keyword arguments (tests pass their clock, journal or scheduler).
    """
    stop_demo: Callable[[], None] | None = None
    if "client" not in parts:
        provider, where = provider_of(settings), None
        if provider.simulated:
            from avatar_core.demo import start_demo_simulator

            simulator = start_demo_simulator(settings.demo_task_seconds)
            where, stop_demo = simulator.base_url or "", simulator.stop
        profile = provider.profile(settings, where)
        routes = RouteMemory(None if settings.demo_mode else settings.data_dir)
        parts["client"] = provider_client(
            settings, profile, parts.get("retry"), parts.get("clock", SYSTEM), routes
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
            demo_duration = LinearDuration(settings.demo_task_seconds, 0.0)
            studio.scheduler.model.assume(task_kind(mode, demo=True), demo_duration)
    return studio
