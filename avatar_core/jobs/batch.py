"""Running a checked batch: every row through the same flow as `generate`, a few at once.

Each row is a `Studio.generate` flow (or, for text to speech, `Studio.speak` and then the
flow with its audio id), journaled with the row's identity (`BatchRow.key`). Running the
same file again looks each row up in the journal first:

- done: nothing is sent; its video is copied into the output folder if it is not there;
- running, or its create unclear: it is followed (`Studio.follow`), never sent again;
- refused at create (`not_created`: the provider refused it, nothing was charged): sent
  again;
- failed at the provider (or lost): reported again with its reason, and sent again only
  when asked (`retry_failed`): the task ended, so no task for it can still exist;
- never journaled: sent.

A row's text to speech, paid too and made before its job is journaled, is kept with the
row's identity and used again by a rerun, never paid twice (`batch_speech.py`).

Two bounds, both for this machine: `PREPARING_AT_ONCE` rows read and fix their inputs at
once (two cores), and `jobs` rows at once are under way (each holds its prepared inputs
until its create is answered). When each create is sent is the line's to decide
(`line.py`): as many at once as the account runs (`AVATAR_MAX_RUNNING_TASKS`, or learnt
from the provider's refusals), fairly among the app's visitors.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import enum
import io
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from avatar_core import errors as e
from avatar_core.catalogue import Message, in_language, sentence_for
from avatar_core.jobs.batch_rows import BatchRow
from avatar_core.jobs.batch_speech import forget, speak_once
from avatar_core.jobs.events import Done, InLine, Progress, Running, Submitted, Submitting
from avatar_core.jobs.long_text import TextSpeech, long_text_run
from avatar_core.jobs.long_voice import SpeechDone
from avatar_core.jobs.steps import video_stored
from avatar_core.jobs.studio import Studio
from avatar_core.jobs.video_flow import make_video
from avatar_core.storage.atomic import write_atomically
from avatar_core.storage.journal import Job, Stage

PREPARING_AT_ONCE = 2  # rows whose inputs are read and fixed at once (memory, two cores)
DEFAULT_JOBS = 10  # rows under way at once (memory); the line decides the creates
RESULTS_FILE = "results.csv"
RESULT_COLUMNS = ("row", "task_id", "status", "seconds", "video", "error")


class RowState(str, enum.Enum):
    """Where a row is; its value is the status column of results.csv."""

    WAITING = "waiting"  # for its turn
    PREPARING = "preparing"  # its inputs are read and fixed (and its speech made)
    IN_LINE = "in line"  # journaled, waiting in the line in front of creates: not sent yet
    RUNNING = "running"  # journaled; sent, or followed from an earlier run
    DONE = "done"  # its video is in the output folder
    FAILED = "failed"  # it ended without a video (the error says whether to run it again)
    UNCLEAR = "unclear"  # running or its create unclear: running the file again follows it

    @property
    def ended(self) -> bool:
        return self in (RowState.DONE, RowState.FAILED, RowState.UNCLEAR)


@dataclass
class RowResult:
    """What became of one row (so far)."""

    row: BatchRow
    state: RowState = RowState.WAITING
    job_id: str | None = None
    task_id: str | None = None
    seconds: float | None = None  # from journaling the job to its video at home
    video: Path | None = None
    error: str = ""  # a catalogued Message where the sentence is this program's
    sent: bool = False  # whether this run sent its create
    place: int | None = None  # its place in line (1: next), while IN_LINE
    spoken_before: bool = False  # its speech was made by an earlier run, not paid again


Listener = Callable[[RowResult], None]


def video_name(row: BatchRow) -> str:
    return f"row-{row.number:03d}.mp4"


def failed_before(job: Job) -> Message:
    """Why a row failed in an earlier run, and how to send it again."""
    reason = job.error.rstrip(".") if job.error else sentence_for("batch.no_reason")
    return sentence_for("batch.failed_before", reason=reason)


def refused_its_audio(error: Exception) -> bool:
    """Whether the provider refused a create for its audio id (gone, unknown), as its own
    words say; a refusal for the picture, the prompt or a parameter keeps the row's speech,
    so that running the file again does not pay for it again."""
    if not isinstance(error, (e.InvalidRequestError, e.NotFoundError)):
        return False
    return "audio" in (error.detail or "").lower()


class BatchRun:
    """The rows of one checked file, run against `studio`, their videos into `out_dir`."""

    def __init__(
        self,
        studio: Studio,
        rows: list[BatchRow],
        out_dir: Path,
        *,
        jobs: int = DEFAULT_JOBS,
        retry_failed: bool = False,
        deadline_s: float | None = None,
        listener: Listener | None = None,
    ) -> None:
        self.studio = studio
        self.out_dir = Path(out_dir)
        self.results = [RowResult(row) for row in rows]
        self.jobs = max(1, jobs)
        self.retry_failed = retry_failed
        self.deadline_s = deadline_s
        self.listener = listener or (lambda _: None)  # told of each row whose state changed

    async def run(self) -> list[RowResult]:
        """Every row to an end (done, failed or unclear); one row's failure stops no other."""
        self._preparing = asyncio.Semaphore(PREPARING_AT_ONCE)
        self._under_way = asyncio.Semaphore(self.jobs)
        await asyncio.gather(*(self._one(result) for result in self.results))
        return self.results

    # --- one row ------------------------------------------------------------------------------

    async def _one(self, result: RowResult) -> None:
        try:
            prior = await asyncio.to_thread(self._journaled, result.row)
            if prior is not None and video_stored(prior):
                await asyncio.to_thread(self._deliver, result, prior)
            elif prior is not None and prior.stage in (Stage.FAILED, Stage.LOST):
                if self.retry_failed:
                    await self._make(result, None)
                else:
                    self._note(result, prior)
                    self._end(result, RowState.FAILED, failed_before(prior))
            else:
                await self._make(result, prior)
        except Exception as error:  # one row's end, whatever it is, stops no other row
            await asyncio.to_thread(self._failed, result, error)

    async def _make(self, result: RowResult, prior: Job | None) -> None:
        """Follow the row's task when one may exist, else send it; then deliver its video."""
        async with self._under_way:
            if prior is not None and (prior.stage is Stage.DONE or not prior.stage.is_finished):
                self._note(result, prior)
                flow = self.studio.follow(prior.task_id or prior.job_id, deadline_s=self.deadline_s)
                job = await self._through(result, flow)
            else:  # never journaled, or refused at create (nothing charged)
                job = await self._send(result)
        await asyncio.to_thread(self._deliver, result, job)

    async def _send(self, result: RowResult) -> Job | SpeechDone:
        """Prepare (a few rows at once), speak if the row says so, and run the flow."""
        await self._preparing.acquire()
        released = False

        def let_go() -> None:  # once the inputs are prepared and the job journaled
            nonlocal released
            if not released:
                released = True
                self._preparing.release()

        try:
            self._set(result, RowState.PREPARING)
            flow = await self._flow(result)
            return await self._through(result, flow, on_journaled=let_go)
        finally:
            let_go()

    async def _flow(self, result: RowResult) -> AsyncIterator[Progress]:
        """The row's flow (`make_video`): a voice longer than a task takes, or a text longer
        than one speech, made in parts and joined (its parts' jobs tagged with the speech,
        the whole checked at once); else one job tagged with the row. A short text's
        speech is made here, once (`batch_speech`)."""
        row = result.row
        options = {"prompt": row.prompt or None, "mode": row.mode, "deadline_s": self.deadline_s}
        if not row.speaks:
            image, audio = row.source("image"), row.source("audio")
            if row.in_parts:  # longer than a part: measured again there, made in parts
                return make_video(self.studio, image, audio, batch_key=row.key, **options)
            return self.studio.generate(image, audio, batch_key=row.key, **options)
        text = TextSpeech(row.tts_text, row.voice_id, row.voice_language or None)
        run = await asyncio.to_thread(
            long_text_run, self.studio, row.source("image"), text, **options
        )
        if run is not None:
            return run.run()
        speech, result.spoken_before = await asyncio.to_thread(speak_once, self.studio, row)
        return self.studio.generate(
            row.source("image"), None, audio_id=speech.audio_id, prior_task_id=speech.task_id,
            audio_seconds=speech.duration_s, batch_key=row.key, **options,
        )  # fmt: skip

    async def _through(
        self,
        result: RowResult,
        flow: AsyncIterator[Progress],
        on_journaled: Callable[[], None] | None = None,
    ) -> Job | SpeechDone:
        """Run a flow to its end, noting the job and its task; the job when its video is
        home (a speech made in parts: its end, with the joined video)."""
        if on_journaled is None:  # following a task the journal knows
            self._set(result, RowState.RUNNING)
        done: Job | None = None
        start = time.monotonic()
        async for event in flow:  # to its end, so the flow closes itself
            if event.job is not None:
                result.job_id = event.job.job_id
            if isinstance(event, (Submitted, Running)) and event.task is not None:
                result.task_id = event.task.task_id
            if event.job is not None and on_journaled is not None:
                on_journaled()  # in line or on its way: the next row may prepare
            if isinstance(event, InLine):
                moved = result.place != event.position
                result.place = event.position
                self._set(result, RowState.IN_LINE, news=moved)
            if isinstance(event, Submitting):
                result.sent, result.place = True, None
                self._set(result, RowState.RUNNING)
            if isinstance(event, SpeechDone) and event.video_path is not None:
                result.task_id = event.key or result.task_id  # what `status` knows it by
                return replace(event, elapsed_s=time.monotonic() - start)
            if isinstance(event, Done):
                done = event.job
        if done is None:
            raise e.AvatarError(sentence_for("batch.no_video"))
        return done

    # --- the journal and the output folder ----------------------------------------------------

    def _journaled(self, row: BatchRow) -> Job | None:
        """This row's latest job on this studio's endpoint and key (None: never journaled)."""
        job = self.studio.journal.batch_job(row.key, owner=self.studio.owner)
        return job if job is not None and self.studio.steps.owns(job) else None

    def _deliver(self, result: RowResult, job: Job | SpeechDone) -> None:
        """The job's video (a speech's: the joined video) into the output folder (copied
        only if it is not there yet)."""
        if isinstance(job, SpeechDone):
            source, seconds = Path(job.video_path or ""), job.elapsed_s
        else:
            self._note(result, job)
            source, seconds = Path(job.video_path or ""), job.updated_at - job.created_at
        target = self.out_dir / video_name(result.row)
        try:
            if not (target.is_file() and target.stat().st_size == source.stat().st_size):
                write_atomically(target, copy_from=source)
        except OSError as exc:
            reason = exc.strerror or exc
            self._end(
                result,
                RowState.FAILED,
                sentence_for("batch.not_copied", source=source, target=target, reason=reason),
            )
            return
        result.video = target
        result.seconds = round(seconds, 1)
        self._end(result, RowState.DONE)

    def _failed(self, result: RowResult, error: Exception) -> None:
        """Say how the row ended, from the journal: failed (it ended) or unclear (it may
        still run; running the file again follows it)."""
        if not isinstance(error, e.AvatarError):
            error = e.AvatarError(
                sentence_for("cli.unexpected", kind=type(error).__name__, error=error)
            )
        job = self.studio.journal.get(result.job_id) if result.job_id else None
        if job is not None:
            self._note(result, job)
        sentence = error.message
        if job is None and isinstance(error, e.InputError):  # e.g. a speech too long
            self._end(result, RowState.FAILED, sentence_for("batch.no_task_sent", error=sentence))
        elif job is None or job.stage is Stage.NOT_CREATED:
            if result.spoken_before and refused_its_audio(error):
                forget(self.studio, result.row)  # its kept audio id was refused: speak again
            self._end(result, RowState.FAILED, sentence_for("batch.not_created", error=sentence))
        elif job.stage.is_finished:
            self._end(result, RowState.FAILED, sentence)
        else:
            self._end(result, RowState.UNCLEAR, sentence_for("batch.unclear", error=sentence))

    @staticmethod
    def _note(result: RowResult, job: Job) -> None:
        result.job_id, result.task_id = job.job_id, job.task_id or result.task_id

    def _set(self, result: RowResult, state: RowState, *, news: bool = False) -> None:
        """Tell the listener of a new state (or, `news`, of a new place in line)."""
        if result.state is not state or news:
            result.state = state
            self.listener(result)

    def _end(self, result: RowResult, state: RowState, error: str = "") -> None:
        result.error = error
        self._set(result, state)


# --- one batch at a time per data folder ---------------------------------------------------

LOCK_FILE = "batch.lock"


@contextlib.contextmanager
def one_batch_at_a_time(data_dir: Path) -> Iterator[None]:
    """Hold the data folder's batch lock while a batch runs: two runs of one file at once
    would both find a row unsent and send it twice. Released when the process ends, however
    it ends. (Where the system has no `fcntl`, Windows, there is no lock.)"""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = Path(data_dir) / LOCK_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+")
    except OSError as exc:
        raise e.StorageError(
            sentence_for("batch.lock", path=path, reason=exc.strerror or exc)
        ) from None
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise e.AvatarError(sentence_for("batch.another", folder=path.parent)) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# --- results.csv ---------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A cell a spreadsheet shows as text: never read as a formula (the provider's words
    reach the error column)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _result_rows(results: list[RowResult], language: str) -> Iterator[list[str]]:
    for result in results:
        row = result.row.number, result.task_id, result.state.value, result.seconds
        error = in_language(result.error, language)
        yield [_cell(value) for value in (*row, result.video, error)]


def write_results(out_dir: Path, results: list[RowResult], language: str = "en") -> Path:
    """`results.csv` in `out_dir`, replaced whole (a reader never sees half of it); its
    status column holds the states' values (done, failed…), its errors are in `language`."""
    target = Path(out_dir) / RESULTS_FILE
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(RESULT_COLUMNS)
    writer.writerows(_result_rows(results, language))
    try:
        write_atomically(target, table.getvalue())
    except OSError as exc:
        raise e.StorageError(
            sentence_for("batch.results_not_written", path=target, reason=exc.strerror or exc)
        ) from None
    return target
