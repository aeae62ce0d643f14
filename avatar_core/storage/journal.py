"""The journal: every job, recorded before its create is sent, updated at each step.

SQLite in the data folder, in WAL mode so the app, its workers and the CLI can write at
once. It never holds the API key, a visitor's id or media bytes: only ids, statuses,
times, hashes, sizes, keyed tags, the provider's result URL and the local file's path
(a job in line keeps its inputs beside it: `jobs/kept_inputs.py`). A stage is stored as its
text, so a new stage (`queued`: in the line in front of creates) needs no change to an
existing journal. Text to speech, which is paid too, has a table of its own (`speeches`,
kept by `speech_records.py`), so what a visitor spent in a day can be counted from the
journal after a restart.
"""

from __future__ import annotations

import contextlib
import enum
import os
import re
import shutil
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from avatar_core.catalogue import Message, message_from_json, message_to_json, sentence_for
from avatar_core.errors import StorageError
from avatar_core.storage.speech_records import SpeechRecords

JOURNAL_FILE = "journal.sqlite3"


class Stage(str, enum.Enum):
    QUEUED = "queued"  # journaled, in the line in front of creates: nothing sent yet
    CREATING = "creating"  # the create is being sent
    OUTCOME_UNKNOWN = "outcome_unknown"  # sent, but no clear answer: never resent
    NOT_CREATED = "not_created"  # refused, never sent (e.g. it left the line): no charge
    RUNNING = "running"  # the provider has it (task_id known)
    DOWNLOADING = "downloading"  # the provider finished; the video is being copied home
    DONE = "done"  # the video is in the data folder
    FAILED = "failed"  # the provider's task failed (reason in `error`)
    LOST = "lost"  # the provider no longer knows the task (e.g. a restarted demo simulator)

    @property
    def is_finished(self) -> bool:
        return self in (Stage.NOT_CREATED, Stage.DONE, Stage.FAILED, Stage.LOST)


@dataclass(frozen=True)
class Job:
    job_id: str  # ours; sent as the provider's external_task_id
    created_at: float
    updated_at: float
    base_url: str
    demo: bool
    stage: Stage
    mode: str = "std"
    prompt: str = ""
    audio_kind: str = "file"  # file | audio_id
    image_sha256: str | None = None
    audio_sha256: str | None = None
    audio_seconds: float | None = None
    task_id: str | None = None
    provider_status: str | None = None
    video_url: str | None = None
    video_path: str | None = None
    video_seconds: float | None = None
    units_charged: str | None = None
    task_seconds: float | None = None  # how long the provider took, by its own clock
    error: str | None = None
    owner: str | None = None  # whose key made it (a keyed hash); None: the app's own key
    creator: str | None = None  # "host:pid" of the process that sends its create
    visitor: str | None = None  # the visitor who asked (a keyed hash); None: the operator
    address: str | None = None  # the network address it asked from (a keyed hash)
    batch_key: str | None = None  # a batch row's identity (its content and position)


@dataclass(frozen=True)
class TaskDuration:
    """How long one finished task took at the provider, by its own clock."""

    mode: str
    demo: bool
    task_seconds: float
    audio_seconds: float | None


_COLUMNS = [f.name for f in fields(Job)]
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    base_url TEXT NOT NULL,
    demo INTEGER NOT NULL,
    stage TEXT NOT NULL,
    mode TEXT NOT NULL,
    prompt TEXT NOT NULL,
    audio_kind TEXT NOT NULL,
    image_sha256 TEXT,
    audio_sha256 TEXT,
    audio_seconds REAL,
    task_id TEXT,
    provider_status TEXT,
    video_url TEXT,
    video_path TEXT,
    video_seconds REAL,
    units_charged TEXT,
    task_seconds REAL,
    error TEXT,
    error_said TEXT,
    owner TEXT,
    creator TEXT,
    visitor TEXT,
    address TEXT,
    batch_key TEXT
);
CREATE INDEX IF NOT EXISTS jobs_task ON jobs(task_id);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_at);
"""
# Text to speech asked for, one row a request, written before the request is sent; and the
# indexes on jobs' visitors and batch rows (run after `_add_new_columns` has given an old
# journal the columns).
_SPEECH_SCHEMA = """
CREATE TABLE IF NOT EXISTS speeches (
    speech_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    owner TEXT,
    visitor TEXT,
    address TEXT,
    audio_id TEXT,
    task_id TEXT,
    seconds REAL,
    job_id TEXT
);
CREATE INDEX IF NOT EXISTS speeches_created ON speeches(created_at);
CREATE INDEX IF NOT EXISTS jobs_visitor ON jobs(visitor, created_at);
CREATE INDEX IF NOT EXISTS jobs_batch ON jobs(batch_key, created_at);
CREATE TABLE IF NOT EXISTS row_speeches (
    batch_key TEXT NOT NULL,
    place TEXT NOT NULL,
    owner TEXT,
    made_at REAL NOT NULL,
    audio_id TEXT,
    task_id TEXT,
    seconds REAL
);
CREATE INDEX IF NOT EXISTS row_speeches_key ON row_speeches(batch_key, made_at);
"""
# What a visitor (or an address: the column) asked for since a time, on our key.
_COUNTED = "owner IS NULL AND {column} = ? AND created_at >= ?"


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def creator_alive(creator: str | None) -> bool | None:
    """Whether the process that journaled a job still runs: None when that cannot be told
    from here (another machine, or no record)."""
    host, _, pid = (creator or "").rpartition(":")
    if not pid.isdigit() or host != socket.gethostname():
        return None
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def new_job_id() -> str:
    """An id unique per account, as `external_task_id` must be."""
    return "tas-" + uuid.uuid4().hex


def _row_to_job(row: sqlite3.Row) -> Job:
    values: dict[str, Any] = dict(row)
    values["stage"] = Stage(values["stage"])
    values["demo"] = bool(values["demo"])
    said = message_from_json(values.pop("error_said", None))
    if said is not None:  # the sentence, to be shown in each reader's language
        values["error"] = said
    return Job(**values)


def _stored(changes: dict[str, Any]) -> dict[str, Any]:
    """The columns to write for `changes`: stages by value, and an error that is a
    catalogued sentence kept as such too (`error_said`), beside its English text."""
    stored = {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in changes.items()}
    if "error" in changes:
        error = changes["error"]
        stored["error"] = None if error is None else str(error)
        stored["error_said"] = message_to_json(error) if isinstance(error, Message) else None
    return stored


class Journal(SpeechRecords):
    """Jobs in `<data_dir>/journal.sqlite3`. Safe across threads and processes."""

    def __init__(self, data_dir: Path | str, *, busy_timeout_s: float = 15.0) -> None:
        self.path = Path(data_dir) / JOURNAL_FILE
        self._timeout = busy_timeout_s
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                sentence_for("data.not_created", folder=self.path.parent, reason=exc.strerror)
            ) from None
        with self._connection() as db:
            _use_wal(db, self._timeout)
            db.executescript(_SCHEMA)
            _add_new_columns(db)
            db.executescript(_SPEECH_SCHEMA)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """One connection per thread, reused; every error becomes a StorageError."""
        db = getattr(self._local, "db", None)
        try:
            if db is None:
                db = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
                db.row_factory = sqlite3.Row
                db.execute("PRAGMA synchronous=NORMAL")
                self._local.db = db
            yield db
        except sqlite3.DatabaseError as exc:
            self._local.db = None
            raise _storage_error(self.path, exc) from None

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # --- writing --------------------------------------------------------------------------

    def create(
        self,
        *,
        base_url: str,
        demo: bool,
        job_id: str | None = None,
        stage: Stage = Stage.CREATING,
        **values: Any,
    ) -> Job:
        now = time.time()
        job = Job(
            job_id=job_id or new_job_id(),
            created_at=now,
            updated_at=now,
            base_url=base_url,
            demo=demo,
            stage=stage,
            creator=this_process(),
            **values,
        )
        row = [getattr(job, c) for c in _COLUMNS]
        row[_COLUMNS.index("stage")] = job.stage.value
        row[_COLUMNS.index("demo")] = int(job.demo)
        with self._connection() as db:
            db.execute(
                f"INSERT INTO jobs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(row))})",
                row,
            )
        return job

    def update(self, job: Job, **changes: Any) -> Job:
        """Write `changes` to the job; returns the job as it now is."""
        unknown = set(changes) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown job fields: {sorted(unknown)}")
        changes["updated_at"] = time.time()
        updated = replace(job, **changes)
        stored = _stored(changes)
        assignments = ", ".join(f"{k} = ?" for k in stored)
        # A job whose video is home is final: another process (a second resumer, the app
        # beside the CLI) working from an older copy must not take it back.
        guard = "" if changes.get("stage") is Stage.DONE else " AND stage != 'done'"
        with self._connection() as db:
            written = db.execute(
                f"UPDATE jobs SET {assignments} WHERE job_id = ?{guard}",
                [*stored.values(), job.job_id],
            ).rowcount
        if written == 0:
            return self.get(job.job_id) or updated
        return updated

    def advance(self, job: Job, expected: Stage, **changes: Any) -> Job | None:
        """Write `changes` only if the job is still at stage `expected`; None when it is not.

        How a job leaves the line (Stage.QUEUED): claimed for its create by one process
        only, even when two (the app and a `resume`) reach it at once; or ended unsent."""
        changes["updated_at"] = time.time()
        stored = _stored(changes)
        assignments = ", ".join(f"{k} = ?" for k in stored)
        with self._connection() as db:
            written = db.execute(
                f"UPDATE jobs SET {assignments} WHERE job_id = ? AND stage = ?",
                [*stored.values(), job.job_id, expected.value],
            ).rowcount
        return replace(job, **changes) if written == 1 else None

    # --- reading --------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        with self._connection() as db:
            row = db.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return _row_to_job(row) if row else None

    def find(
        self, task_or_job_id: str, *, owner: str | None = None, visitor: str | None = None
    ) -> Job | None:
        """`owner`'s job with this provider task id, or this job (external) id; with
        `visitor`, only if that visitor asked for it."""
        where, values = _whose(owner, visitor)
        with self._connection() as db:
            row = db.execute(
                f"SELECT * FROM jobs WHERE (task_id = ? OR job_id = ?) AND {where} "
                "ORDER BY created_at DESC",
                (task_or_job_id, task_or_job_id, *values),
            ).fetchone()
        return _row_to_job(row) if row else None

    def recent(
        self, limit: int = 50, *, owner: str | None = None, visitor: str | None = None
    ) -> list[Job]:
        """`owner`'s latest jobs, newest first (owner None: the app's own key's); with
        `visitor`, only those that visitor asked for."""
        where, values = _whose(owner, visitor)
        with self._connection() as db:
            rows = db.execute(
                f"SELECT * FROM jobs WHERE {where} ORDER BY created_at DESC LIMIT ?",
                (*values, limit),
            ).fetchall()
        return [_row_to_job(r) for r in rows]

    def batch_job(self, batch_key: str, *, owner: str | None = None) -> Job | None:
        """`owner`'s latest job for the batch row `batch_key` (None: never journaled)."""
        with self._connection() as db:
            row = db.execute(
                "SELECT * FROM jobs WHERE batch_key = ? AND owner IS ? "
                "ORDER BY created_at DESC LIMIT 1",
                (batch_key, owner),
            ).fetchone()
        return _row_to_job(row) if row else None

    def task_durations(self, limit: int = 50) -> list[TaskDuration]:
        """How long the latest finished tasks took, oldest first, per mode: the provider's
        own timestamps against the audio's length (the video's, when the audio's is not
        journaled: an audio id)."""
        with self._connection() as db:
            rows = db.execute(
                "SELECT mode, demo, task_seconds, COALESCE(audio_seconds, video_seconds) AS audio "
                "FROM jobs WHERE task_seconds IS NOT NULL ORDER BY created_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            TaskDuration(row["mode"], bool(row["demo"]), row["task_seconds"], row["audio"])
            for row in reversed(rows)
        ]

    # --- what visitors spend on the operator's key ---------------------------------------------

    def active_groups(self, visitor: str, since: float) -> set[str]:
        """`visitor`'s unfinished jobs on our key journaled since `since`, a long speech's
        parts as one (`speech:<key>`, the prefix of their batch key), others by job id."""
        open_stages = [s.value for s in Stage if not s.is_finished]
        marks = ", ".join("?" * len(open_stages))
        counted = _COUNTED.format(column="visitor")
        with self._connection() as db:
            rows = db.execute(
                f"SELECT job_id, batch_key FROM jobs WHERE {counted} AND stage IN ({marks})",
                (visitor, since, *open_stages),
            ).fetchall()
        return {speech_group(key) or job_id for job_id, key in rows}

    def spent_at(self, tag: str, since: float, *, by: str = "visitor") -> list[float]:
        """When the visitor `tag` (`by="address"`: anyone from the address `tag`) asked,
        since `since`, for each job (but those never created) and each speech on our key,
        oldest first."""
        counted = _COUNTED.format(column={"visitor": "visitor", "address": "address"}[by])
        with self._connection() as db:
            rows = db.execute(
                f"SELECT created_at FROM jobs WHERE {counted} AND stage != ? "
                f"UNION ALL SELECT created_at FROM speeches WHERE {counted}",
                (tag, since, Stage.NOT_CREATED.value, tag, since),
            ).fetchall()
        return sorted(row[0] for row in rows)

    def visitors_audio_seconds(
        self, since: float, *, visitor: str | None = None, except_audio: str | None = None
    ) -> float:
        """Seconds of voice visitors spent on our key since `since`: the jobs sent (those
        never created aside, and those still in line but for `visitor`'s own: a job in
        line holds only its own visitor's share until it is sent, but a long speech's
        part, admitted with its whole speech, holds everyone's), and the speeches made
        that no such job uses (a speech is paid for, and its video is to come), but the
        speech `except_audio` (the one the job being checked is made from)."""
        counted = (
            "SELECT job_id, audio_seconds FROM jobs WHERE owner IS NULL AND visitor IS NOT "
            "NULL AND created_at >= ? AND stage != ? AND (stage != ? OR visitor IS ? OR "
            f"batch_key LIKE '{SPEECH_PART_PREFIX}%')"
        )
        values = (since, Stage.NOT_CREATED.value, Stage.QUEUED.value, visitor)
        with self._connection() as db:
            jobs = db.execute(f"SELECT SUM(audio_seconds) FROM ({counted})", values).fetchone()
            speeches = db.execute(
                "SELECT SUM(seconds) FROM speeches WHERE owner IS NULL AND visitor IS NOT NULL "
                "AND created_at >= ? AND audio_id IS NOT ? AND (job_id IS NULL OR job_id NOT "
                f"IN (SELECT job_id FROM ({counted})))",
                (since, except_audio, *values),
            ).fetchone()
        return float(jobs[0] or 0.0) + float(speeches[0] or 0.0)

    def speech_used(self, audio_id: str, job_id: str) -> None:
        """The job `job_id` is made from the speech `audio_id` (made here): the speech's
        seconds are counted as the job's from now on (unless its job never leaves)."""
        with self._connection() as db:
            db.execute(
                "UPDATE speeches SET job_id = ? WHERE audio_id = ? AND (job_id IS NULL OR "
                "job_id IN (SELECT job_id FROM jobs WHERE stage = ?))",
                (job_id, audio_id, Stage.NOT_CREATED.value),
            )

    def queued_count(self, base_url: str, owner: str | None, *, demo: bool) -> int:
        """How many jobs of an endpoint (any demo simulator's, for `demo`) and key are in
        the line in front of creates."""
        place = "demo = 1" if demo else "demo = 0 AND base_url = ?"
        values = () if demo else (base_url,)
        with self._connection() as db:
            return db.execute(
                f"SELECT COUNT(*) FROM jobs WHERE stage = 'queued' AND owner IS ? AND {place}",
                (owner, *values),
            ).fetchone()[0]

    def unfinished(self) -> list[Job]:
        open_stages = [s.value for s in Stage if not s.is_finished]
        marks = ", ".join("?" * len(open_stages))
        with self._connection() as db:
            rows = db.execute(
                f"SELECT * FROM jobs WHERE stage IN ({marks}) ORDER BY created_at", open_stages
            ).fetchall()
        return [_row_to_job(r) for r in rows]


SPEECH_PART_PREFIX = "speech:"  # a long speech's part's batch key: speech:<key>:<n>


def speech_group(batch_key: str | None) -> str | None:
    """`speech:<key>` for a long speech's part's batch key (`speech:<key>:<n>`), else None."""
    if not batch_key or not batch_key.startswith(SPEECH_PART_PREFIX):
        return None
    return batch_key.rsplit(":", 1)[0]


def _whose(owner: str | None, visitor: str | None) -> tuple[str, tuple[str | None, ...]]:
    """The WHERE clause (and its values) for `owner`'s jobs, only `visitor`'s if given."""
    if visitor is None:
        return "owner IS ?", (owner,)
    return "owner IS ? AND visitor = ?", (owner, visitor)


# Columns a journal made by an earlier release may lack: every nullable one in _SCHEMA.
_NULLABLE_COLUMNS = re.findall(r"^\s+(\w+) (TEXT|REAL|INTEGER),?$", _SCHEMA, re.MULTILINE)
_SPEECH_COLUMNS = [("job_id", "TEXT")]  # added to the speeches table after its first release


def _use_wal(db: sqlite3.Connection, timeout_s: float) -> None:
    """Put the journal in WAL mode, waiting up to `timeout_s` for other processes: turning a
    new journal to WAL needs it alone, and SQLite says "locked" at once, without waiting,
    when another process opens it at that moment."""
    give_up = time.monotonic() + timeout_s
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = getattr(exc, "sqlite_errorcode", None) in (
                sqlite3.SQLITE_BUSY,
                sqlite3.SQLITE_LOCKED,
            )
            if not busy or time.monotonic() >= give_up:
                raise
            time.sleep(0.01)


def _add_new_columns(db: sqlite3.Connection) -> None:
    """Bring a journal from an earlier release up to this one's columns, in place.

    A journal outlives upgrades (a Space's persistent storage): without this, every write
    naming a newer column fails, and its paid tasks could never be finished.
    """
    for table, columns in (("jobs", _NULLABLE_COLUMNS), ("speeches", _SPEECH_COLUMNS)):
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if table == "speeches" and not present:
            continue  # made whole by _SPEECH_SCHEMA
        for name, kind in columns:
            if name not in present:
                try:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
                except sqlite3.OperationalError as exc:  # another process added it first
                    if "duplicate column" not in str(exc):
                        raise


def _disk_full(path: Path) -> bool:
    """SQLite reports a full disk as "disk I/O error" when it is its WAL index that cannot
    grow; the free space says which it was."""
    try:
        return shutil.disk_usage(path.parent).free < 1_000_000
    except OSError:
        return False


def _storage_error(path: Path, exc: sqlite3.DatabaseError) -> StorageError:
    text = str(exc).lower()
    if "full" in text or ("disk i/o" in text and _disk_full(path)):
        return StorageError(sentence_for("journal.disk_full", path=path))
    if "locked" in text or "busy" in text:
        return StorageError(sentence_for("journal.locked", path=path))
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StorageError(sentence_for("journal.damaged", path=path, reason=exc))
    if "disk i/o" in text or "readonly" in text or "unable to open" in text:
        return StorageError(sentence_for("journal.not_written", path=path, reason=exc))
    return StorageError(sentence_for("journal.unusable", path=path, reason=exc))
