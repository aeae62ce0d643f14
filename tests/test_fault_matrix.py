"""The fault matrix, for real: each fault in tests/fault_cases.py is injected into a
simulator and met by `python -m avatar_core generate` (a subprocess, on real time) and by
the app's `/generate` (gradio_client, on a fake clock).

A row of each kind of fault (and every row about the data folder) runs the command as
`python -m avatar_core` itself; the others run it as a child forked from a process that
imported the command line once (tests/cli_children.py): the same `main(argv)`, its own
process, environment, exit code and output, without half a second of imports each.

Each must be survived, or end in one readable sentence with the right exit code; the
journal must stand where it should (a job the provider never created is `not_created`, a
paid one is never), and what can be resumed must resume. All faults run in a module
fixture - the CLI cases several at a time, each against its own simulator - and then each
case is judged by its own test. What each led to is the "fault matrix" sections of
RELIABILITY.md. The canary key used throughout must appear in none of it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import queue
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest
from app_harness import InProcessApp, generate, make_studio
from cli_children import run_cli_child
from fake_clock import FakeClock
from fault_cases import FAULTS, Fault
from gradio_client.exceptions import AppError
from live import (
    CANARY_KEY,
    Unavailable,
    assert_no_traceback,
    cli_env,
    jobs_of,
    last_line,
    newest_job,
    run_cli,
    small_disk,
)
from media import audio_bytes, image_bytes
from reliability import check_section, normalize, table

from avatar_core.simulator import Simulator
from avatar_core.storage.journal import Job, Journal, Stage

ASSETS = Path(__file__).resolve().parent.parent / "assets"
UNFINISHED = {Stage.CREATING, Stage.OUTCOME_UNKNOWN, Stage.RUNNING, Stage.DOWNLOADING}
NOT_RUN = "not run here"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Small inputs (a 50 KB video) for most faults; the assets (a 440 KB one) for disks.

    The small ones are this run's own bytes: Gradio keeps uploads under a folder named by
    their hash, shared by every app on the machine, and an app that cleans its cache when
    it stops would otherwise take this run's upload away mid-matrix."""
    folder = tmp_path_factory.mktemp("inputs")
    mark = uuid.uuid4().hex
    (folder / "face.jpg").write_bytes(image_bytes(320, 320, fmt="JPEG", comment=mark.encode()))
    pitch = 200 + int(mark[:4], 16) % 100
    (folder / "voice.mp3").write_bytes(audio_bytes(2.5, fmt="mp3", frequency=pitch))
    return {
        "small": (folder / "face.jpg", folder / "voice.mp3"),
        "big": (ASSETS / "astronaut.jpg", ASSETS / "hello.mp3"),
    }


# --- the command line --------------------------------------------------------------------


@dataclass
class CliRun:
    fault: Fault
    data_dir: Path
    generate: subprocess.CompletedProcess[str] | None = None
    jobs: list[Job] = field(default_factory=list)
    creates: int = 0
    create_requests: int = 0
    tasks: dict[str, str] = field(default_factory=dict)  # external id -> task id, provider's
    resume: subprocess.CompletedProcess[str] | None = None
    jobs_after_resume: list[Job] = field(default_factory=list)
    creates_after_resume: int = 0
    not_run: str | None = None
    files: dict[Path, bytes] = field(default_factory=dict)  # the data folder, read at the end


@contextlib.contextmanager
def _data_folder(fault: Fault, path: Path) -> Iterator[Callable[[], None]]:
    """The data folder for `fault` (a small tmpfs when the fault is a full disk); yields
    what makes room in it before `resume`."""
    if fault.disk_bytes is None:
        yield lambda: None
        return
    with small_disk(path, fault.disk_bytes) as grow:
        if fault.disk_full_first:
            Journal(path).close()
            with (path / "filler").open("wb") as filler, contextlib.suppress(OSError):
                while True:
                    filler.write(b"\0" * 65536)
        yield lambda: grow(fault.disk_bytes * 10)


# A row of each kind (the provider's errors, broken connections, timeouts, answers that are
# not what they should be, the task itself, the download) and every row about the data
# folder: the command started as a person starts it. The other rows: forked children. Of
# each kind a row with no `resume` after it where there is one (one start, not two).
THROUGH_PYTHON_M = frozenset({"none", "500-query", "reset-after-create",
                              "timeout-download", "html-query", "bad-key", "failed-task",
                              "truncated-once", "file-size-limit", "disk-full",
                              "disk-full-at-start"})  # fmt: skip


def _run_on_cli(fault: Fault, root: Path, inputs: dict[str, tuple[Path, Path]]) -> CliRun:
    """`generate` (and `resume`) against a simulator with `fault`: `python -m avatar_core`
    for the rows of THROUGH_PYTHON_M, with the product's pacing and back-off; a forked
    child with quicker ones for the others (cli_children.QUICK_WAITS: the first status
    check after 0.2 s, retries from 0.05 s; the same checks and retries, each sooner),
    except a `generate` with a deadline: what it says when the deadline passes is the
    status it saw last ("still submitted": the product's first check comes after it)."""
    run = CliRun(fault, root / "data")
    if fault.key in THROUGH_PYTHON_M:
        command = resume_command = run_cli
    else:
        resume_command = partial(run_cli_child, quick=True)
        command = run_cli_child if fault.deadline is not None else resume_command
    image, audio = inputs["big" if fault.big_inputs else "small"]
    try:
        with (
            Simulator(task_seconds=0.5, submit_seconds=0.1, work_dir=root / "sim") as sim,
            _data_folder(fault, run.data_dir) as make_room,
        ):
            fault.arrange(sim)
            extra = {"AVATAR_HTTP_TIMEOUT": f"{fault.http_timeout:g}"} if fault.http_timeout else {}
            if fault.create_timeout:
                extra["AVATAR_CREATE_TIMEOUT"] = f"{fault.create_timeout:g}"
            env = cli_env(sim.base_url or "", run.data_dir, key=CANARY_KEY, **extra)
            args = ["generate", "--image", str(image), "--audio", str(audio)]
            if fault.deadline is not None:
                args += ["--timeout", f"{fault.deadline:g}"]
            run.generate = command(*args, env=env, file_size_limit=fault.file_size_limit)
            if fault.disk_full_first:
                make_room()  # so that this process can open the journal to read it
            run.jobs, stats = jobs_of(run.data_dir), sim.stats
            run.creates, run.tasks = stats.creates, stats.tasks_by_external_id
            run.create_requests = stats.count("create")
            if fault.resume_to is not None:
                make_room()
                again = ["--timeout", f"{fault.resume_deadline:g}"] if fault.resume_deadline else []
                run.resume = resume_command("resume", *again, env=env)
                run.jobs_after_resume = jobs_of(run.data_dir)
                run.creates_after_resume = sim.stats.creates
            run.files = _files(run.data_dir)  # read before a tmpfs goes away
    except Unavailable as why:
        run.not_run = str(why)
    return run


def _files(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


# The slowest first, so that the pool ends together: a task that outlasts the deadline
# then `resume`, the `python -m` rows followed by `resume`, the unclear create's lookup 5 s
# later, then the other `python -m` rows (the product's pacing: the first check after 2 s)
# and the forked rows that still wait in real time (slow answers, Retry-After).
_SLOW_FIRST = ("deadline", "disk-full", "file-size-limit", "outcome-unknown",
               "timeout-download", "500-query", "reset-after-create", "html-query",
               "truncated-once", "failed-task", "none", "bad-key", "slow-create", "stuck",
               "expired-link", "truncated-always", "429-create")  # fmt: skip


def _start_cli_matrix(root: Path, inputs, pool: ThreadPoolExecutor) -> dict[str, Future[CliRun]]:
    slow_first = {key: n for n, key in enumerate(_SLOW_FIRST)}
    ordered = sorted(
        FAULTS, key=lambda f: (slow_first.get(f.key, len(slow_first)), FAULTS.index(f))
    )
    return {f.key: pool.submit(_run_on_cli, f, root / f.key, inputs) for f in ordered}


def _sentence(run: CliRun) -> str:
    assert run.generate is not None
    return last_line(run.generate.stderr).replace(str(run.data_dir), "<data>")


def assert_journal_agrees_with_the_provider(
    job: Job, tasks: dict[str, str], files: dict[Path, bytes] | None = None
) -> None:
    """`not_created` exactly when the provider has no task under our external id; a job
    whose create is in doubt waits for the lookup by that id; otherwise the task journaled
    is the provider's task for that id; `done` means the video is home (in `files` when the
    data folder is already gone)."""
    if job.stage is Stage.NOT_CREATED:
        assert job.job_id not in tasks, "a paid task was journaled as never created"
        assert job.task_id is None
    elif job.stage in (Stage.CREATING, Stage.OUTCOME_UNKNOWN):
        assert job.task_id is None, job
    else:
        assert tasks.get(job.job_id) == job.task_id, (job, tasks)
    if job.stage is Stage.DONE:
        video = Path(job.video_path or "")
        data = files[video] if files is not None else video.read_bytes()
        assert data[4:8] == b"ftyp", job


def test_every_unfinished_outcome_in_the_matrix_is_followed_by_a_resume():
    for fault in FAULTS:
        if fault.stage in UNFINISHED:
            assert fault.resume_to is not None, fault.key
        assert (fault.exit_code == 0) == (fault.stage is Stage.DONE), fault.key


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.key)
def test_the_cli_meets_each_fault_with_its_exit_code_sentence_and_journal(fault, cli_runs):
    run = cli_runs[fault.key]
    if run.not_run:
        pytest.skip(run.not_run)
    assert run.generate is not None
    assert run.generate.returncode == fault.exit_code, run.generate.stderr
    assert_no_traceback(run.generate.stderr, run.generate.stdout)
    assert re.search(fault.sentence, _sentence(run)), _sentence(run)
    if fault.exit_code == 0:
        assert run.files[Path(run.generate.stdout.strip())][4:8] == b"ftyp"
    else:
        assert run.generate.stdout == ""
    assert run.creates == fault.creates
    if fault.stage is None:
        assert run.jobs == [] and run.create_requests == 0, "sent without being journaled"
        return
    [job] = run.jobs
    assert job.stage is fault.stage, job
    assert run.create_requests == fault.create_requests, "a create was sent again"
    assert_journal_agrees_with_the_provider(job, run.tasks, run.files)
    if fault.resume_to is None:
        return
    assert run.resume is not None
    assert_no_traceback(run.resume.stderr, run.resume.stdout)
    assert run.resume.returncode == (0 if fault.resume_to is Stage.DONE else 1), run.resume.stderr
    [after] = run.jobs_after_resume
    assert after.stage is fault.resume_to, after
    assert run.creates_after_resume == run.creates, "resuming must never create a task"
    assert_journal_agrees_with_the_provider(after, run.tasks, run.files)


def _row_name(fault: Fault) -> str:
    return f"{fault.key} *" if fault.key in THROUGH_PYTHON_M else fault.key


def test_every_kind_of_fault_has_a_row_through_python_m():
    kinds = {"none", "429-create", "reset-before-create", "slow-create", "malformed-create",
             "code-1102-create", "failed-task", "lagging-link", "file-size-limit"}  # fmt: skip
    firsts = [i for i, fault in enumerate(FAULTS) if fault.key in kinds] + [len(FAULTS)]
    for start, end in itertools.pairwise(firsts):
        kind = {fault.key for fault in FAULTS[start:end]}
        assert kind & THROUGH_PYTHON_M, f"no row of {sorted(kind)} starts python -m avatar_core"
    assert all(f.key in THROUGH_PYTHON_M for f in FAULTS if f.disk_bytes or f.file_size_limit)


def _after_resume(run: CliRun) -> str:
    if run.resume is None:
        return "—"
    stage = run.jobs_after_resume[0].stage.value if run.jobs_after_resume else "?"
    return f"exit {run.resume.returncode}, {stage}"


def test_the_cli_fault_matrix_section_is_current(cli_runs):
    rows = []
    for fault in FAULTS:
        run = cli_runs[fault.key]
        if run.not_run:
            rows.append((_row_name(fault), fault.injected, NOT_RUN, run.not_run, "", "", ""))
            continue
        assert run.generate is not None
        rows.append(
            (
                _row_name(fault),
                fault.injected,
                run.generate.returncode,
                normalize(_sentence(run)),
                run.jobs[0].stage.value if run.jobs else "no job",
                run.creates,
                _after_resume(run),
            )
        )
    columns = (
        "fault",
        "what was done",
        "exit",
        "last line on stderr",
        "journal",
        "tasks",
        "resume",
    )
    body = (
        "`python -m avatar_core generate` as a subprocess against a simulator with the fault "
        "injected; `tasks` is how many tasks the provider created (never more than one); "
        "`resume` is `python -m avatar_core resume` run afterwards. Rows marked * start the "
        "command as `python -m avatar_core`; the others run the same `main(argv)` in a process "
        "forked from one that imported it once, with a quicker first status check (0.2 s; not "
        "for a `generate` with a deadline) and retry back-off (from 0.05 s).\n\n"
        + table(columns, rows)
    )
    check_section("fault-matrix-cli", body, lenient_marker=NOT_RUN)


# --- the app -----------------------------------------------------------------------------


@dataclass
class AppRun:
    fault: Fault
    answer: str | None  # the video's path
    error: str | None  # the AppError's message
    job: Job | None
    creates: int
    create_requests: int
    tasks: dict[str, str]
    followed: str | None = None  # `/status` afterwards: a path or an error
    job_after: Job | None = None


@dataclass
class Matrix:
    cli: dict[str, CliRun]
    app: dict[str, AppRun]
    app_files: dict[Path, bytes]  # the app's data folder at the end


@pytest.fixture(scope="module")
def matrix(tmp_path_factory, inputs) -> Matrix:
    """Every fault through the CLI (eight processes at a time, each with its own simulator)
    while the same faults go through in-process apps (APP_SHARDS of them). The app's settings say
    http_timeout_s=1 (its client waits 1 s, its downloads 2 s), as AVATAR_HTTP_TIMEOUT=1
    gives the CLI where a fault says so; the CLI processes never inherit anything else
    (cli_env drops AVATAR_*)."""
    root = tmp_path_factory.mktemp("matrix")
    with ThreadPoolExecutor(max_workers=8) as pool:
        cli = _start_cli_matrix(root / "cli", inputs, pool)
        app = _app_matrix(root / "app", inputs)
        return Matrix({k: f.result() for k, f in cli.items()}, app, _files(root / "app"))


@pytest.fixture(scope="module")
def cli_runs(matrix) -> dict[str, CliRun]:
    return matrix.cli


@pytest.fixture(scope="module")
def app_runs(matrix) -> dict[str, AppRun]:
    return matrix.app


APP_SHARDS = 3  # apps side by side, each with its own simulator and its share of the faults
# The app's faults that wait in real time (a late answer, a timeout, Retry-After), about 1 to
# 5 s each, the slowest first: taken first, so that the apps end together.
_APP_SLOW = ("429-create", "timeout-create", "slow-create", "timeout-download",
             "timeout-query", "stuck", "502-query", "none", "429-query")  # fmt: skip


def _app_matrix(root: Path, inputs) -> dict[str, AppRun]:
    """The app's faults on APP_SHARDS apps at once (most of the time is the faults' own
    real waits: slow answers, timeouts), each app taking the next fault when it is free,
    the slow ones first; the runs in the order of FAULTS. The apps are built one at a time
    (Gradio's Blocks context is global) and all stop at the end: an app that stops deletes
    its uploads, which the others' share (named by their hash)."""
    slow_first = {key: n for n, key in enumerate(_APP_SLOW)}
    faults = sorted((f for f in FAULTS if f.in_app), key=lambda f: slow_first.get(f.key, 99))
    waiting: queue.SimpleQueue[Fault] = queue.SimpleQueue()  # each app takes the next one
    for fault in faults:
        waiting.put(fault)
    with contextlib.ExitStack() as stack:
        shards = [stack.enter_context(_app_shard(root / f"shard-{n}")) for n in range(APP_SHARDS)]
        with ThreadPoolExecutor(APP_SHARDS) as pool:
            done = [
                pool.submit(_run_shard, shard, root / f"shard-{n}", inputs, waiting)
                for n, shard in enumerate(shards)
            ]
            runs = {key: run for shard in done for key, run in shard.result().items()}
    return {fault.key: runs[fault.key] for fault in FAULTS if fault.in_app}


@contextlib.contextmanager
def _app_shard(root: Path) -> Iterator[tuple[Simulator, InProcessApp]]:
    fake = FakeClock()
    with Simulator(task_seconds=20, submit_seconds=2, clock=fake.now, work_dir=root / "sim") as sim:
        studio = make_studio(sim, fake, root / "data", key=CANARY_KEY, http_timeout=1.0)
        app = InProcessApp(studio)
        try:
            yield sim, app
        finally:
            app.close()


def _run_shard(shard, root: Path, inputs, waiting: queue.SimpleQueue[Fault]) -> dict[str, AppRun]:
    """The faults this app takes from `waiting` (the next one as soon as it is free)."""
    sim, app = shard
    image, audio = inputs["small"]
    client = app.client()
    baseline = dataclasses.asdict(sim.options)
    runs: dict[str, AppRun] = {}
    while True:
        try:
            fault = waiting.get_nowait()
        except queue.Empty:
            return runs
        sim.reset()
        sim.options.update(**baseline)  # a profile is one fault's, not the next one's
        fault.arrange(sim)
        runs[fault.key] = _run_on_app(fault, client, sim, root / "data", image, audio)


def _run_on_app(fault, client, sim, data_dir, image, audio) -> AppRun:
    before = jobs_of(data_dir)
    answer = error = None
    try:
        answer = generate(client, image, audio)
    except AppError as exc:
        error = str(exc)
    stats = sim.stats
    job = newest_job(data_dir, before)
    run = AppRun(
        fault, answer, error, job, stats.creates, stats.count("create"), stats.tasks_by_external_id
    )
    if fault.resume_to is not None and run.job is not None:
        run.job_after = run.job
    if fault.resume_to is Stage.DONE and run.job is not None:
        try:
            run.followed = client.predict(run.job.task_id or run.job.job_id, api_name="/status")
        except AppError as exc:
            run.followed = str(exc)
        run.job_after = next(j for j in jobs_of(data_dir) if j.job_id == run.job.job_id)
    return run


@pytest.mark.parametrize("fault", [f for f in FAULTS if f.in_app], ids=lambda f: f.key)
def test_the_app_meets_each_fault_with_a_sentence_and_a_consistent_journal(fault, app_runs):
    run = app_runs[fault.key]
    if fault.exit_code == 0:
        assert run.error is None, run.error
        assert Path(run.answer or "").read_bytes()[4:8] == b"ftyp"
    else:
        assert run.answer is None and run.error is not None
        assert_no_traceback(run.error)
        assert "\n" not in run.error.strip()
        assert re.search(fault.app_expectation, run.error), run.error
    assert run.job is not None
    assert run.job.stage is fault.stage, run.job
    assert run.creates == fault.creates
    assert run.create_requests == fault.create_requests, "a create was sent again"
    assert_journal_agrees_with_the_provider(run.job, run.tasks)
    if fault.resume_to is Stage.DONE:
        assert Path(run.followed or "").is_file(), run.followed
    if fault.resume_to is not None:
        assert run.job_after is not None and run.job_after.stage is fault.resume_to


def test_the_app_fault_matrix_section_is_current(app_runs):
    rows = []
    for key, run in app_runs.items():
        said = "the video's path" if run.answer else f"AppError: {normalize(run.error or '')}"
        followed = "—"
        if run.followed is not None:
            shown = "the video's path" if Path(run.followed).is_file() else normalize(run.followed)
            followed = f"{shown} ({run.job_after.stage.value if run.job_after else '?'})"
        stage = run.job.stage.value if run.job else "no job"
        rows.append((key, said, stage, run.creates, followed))
    body = (
        "The real app in-process, driven by gradio_client's `/generate` (portrait, voice, "
        "prompt, mode) with the same faults on a fake clock; `/status` with the task id "
        "afterwards for jobs that can be finished.\n\n"
        + table(("fault", "`/generate` answer", "journal", "tasks", "`/status` afterwards"), rows)
    )
    check_section("fault-matrix-app", body)


# --- the canary key ------------------------------------------------------------------------


def test_the_canary_key_is_in_no_output_file_or_answer_of_the_whole_matrix(matrix):
    secret = CANARY_KEY.encode()
    for run in matrix.cli.values():
        for done in (run.generate, run.resume):
            if done is not None:
                assert CANARY_KEY not in done.stdout + done.stderr, run.fault.key
        for path, data in run.files.items():
            assert secret not in data, path
        for job in run.jobs + run.jobs_after_resume:
            assert CANARY_KEY not in repr(job)
    for run in matrix.app.values():
        for text in (run.answer, run.error, run.followed, repr(run.job), repr(run.job_after)):
            assert CANARY_KEY not in (text or ""), run.fault.key
    assert matrix.app_files, "the app's data folder holds the journal and the videos"
    for path, data in matrix.app_files.items():
        assert secret not in data, path
