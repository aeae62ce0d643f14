"""`batch FILE.csv [--out DIR]`: many videos from a spreadsheet, resumable.

Every row is checked before anything is sent (exit 2 naming each bad row and column);
then the rows run as the same flows as `generate`, a few at once, with a progress bar on
stderr; `results.csv` and the videos (`row-NNN.mp4`) go into the output folder, whose path
is printed on stdout. Running the same file again sends nothing twice (`jobs/batch.py`).
Exit codes: 0 every row done; 1 some row failed (listed at the end); 2 a bad file.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TextIO

from avatar_core.catalogue import sentence_for
from avatar_core.cli.batch_progress import BatchProgress
from avatar_core.cli.codes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from avatar_core.cli.jobs import cli_studio
from avatar_core.config import terminal_language
from avatar_core.errors import InputError, StorageError
from avatar_core.jobs.batch import (
    DEFAULT_JOBS,
    RESULTS_FILE,
    BatchRun,
    RowState,
    one_batch_at_a_time,
    write_results,
)
from avatar_core.jobs.batch_rows import (
    COLUMNS,
    MAX_ROWS,
    BatchRow,
    SpeechLimits,
    check_rows,
    read_rows,
)
from avatar_core.jobs.studio import Studio


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        wrong = sentence_for("batch.not_positive", text=text)
        raise argparse.ArgumentTypeError(wrong.in_language(terminal_language()))
    return number


def add_batch_command(subparsers: argparse._SubParsersAction) -> None:
    """Register `batch FILE.csv [--out DIR] [--jobs N] [--retry-failed] [--timeout S]`."""
    batch = subparsers.add_parser(
        "batch",
        help=sentence_for("cli:batch"),
        description=sentence_for("cli:batch_about", columns=", ".join(COLUMNS), most=MAX_ROWS),
    )
    batch.add_argument("file", type=Path, metavar="FILE.csv")
    batch.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help=sentence_for("cli:batch_out"),
    )
    batch.add_argument(
        "--jobs",
        type=_positive,
        default=DEFAULT_JOBS,
        metavar="N",
        help=sentence_for("cli:jobs", jobs=DEFAULT_JOBS),
    )
    batch.add_argument(
        "--retry-failed",
        action="store_true",
        help=sentence_for("cli:retry_failed"),
    )
    batch.add_argument(
        "--timeout",
        type=float,
        default=None,
        help=sentence_for("cli:batch_timeout"),
    )
    batch.set_defaults(handler=run_batch)


def default_out(csv_file: Path) -> Path:
    """`<the CSV's folder>/<its name>-videos`."""
    return csv_file.parent / f"{csv_file.stem}-videos"


def _out_folder(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            sentence_for("batch.out_folder", folder=folder, reason=exc.strerror or exc)
        ) from None
    return folder


def run_batch(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    rows = read_rows(args.file)
    folder = (args.out or default_out(args.file)).expanduser().resolve()
    language = getattr(args, "language", "en")  # set by `main` from LANG
    studio = cli_studio(err, language)
    try:
        print(
            sentence_for("batch.checking", rows=len(rows)).in_language(language),
            file=err,
            flush=True,
        )
        try:
            limits = SpeechLimits(
                studio.client.profile.max_part_seconds, studio.settings.max_speech_seconds
            )
            rows = check_rows(rows, studio.inputs, limits)
        except InputError as bad:
            refused = InputError(sentence_for("batch.nothing_sent", file=args.file))
            raise InputError.gather([bad, refused]) from None
        checked = sentence_for("batch.checked", rows=len(rows)).in_language(language)
        print(checked, file=err, flush=True)
        with one_batch_at_a_time(studio.settings.data_dir):
            return _run(_batch(args, studio, rows, folder), folder, out, err, language)
    finally:
        studio.close()


def _batch(
    args: argparse.Namespace, studio: Studio, rows: list[BatchRow], folder: Path
) -> BatchRun:
    return BatchRun(
        studio,
        rows,
        _out_folder(folder),
        jobs=args.jobs,
        retry_failed=args.retry_failed,
        deadline_s=args.timeout,
    )


def _run(run: BatchRun, folder: Path, out: TextIO, err: TextIO, language: str) -> int:
    progress = BatchProgress(run.results, err, language)
    run.listener = progress
    stopped = False
    try:
        asyncio.run(run.run())
    except KeyboardInterrupt:
        stopped = True
    finally:
        progress.close()
        results = write_results(folder, run.results, language)
    if stopped:
        stopped_line = sentence_for("batch.stopped", results=results).in_language(language)
        print(stopped_line, file=err, flush=True)
        return EXIT_INTERRUPTED
    return _summary(run, results, out, err, language)


def _summary(run: BatchRun, results: Path, out: TextIO, err: TextIO, language: str) -> int:
    not_done = [r for r in run.results if r.state is not RowState.DONE]
    done = len(run.results) - len(not_done)
    for result in not_done:
        line = sentence_for("batch.row_ended", row=result.row.number, state=result.state.value,
                   error=result.error)  # fmt: skip
        print(line.in_language(language), file=err)
    summary = sentence_for("batch.summary", done=done, rows=len(run.results), results=RESULTS_FILE,
                  folder=results.parent)  # fmt: skip
    print(summary.in_language(language), file=err, flush=True)
    print(results, file=out, flush=True)
    return EXIT_FAILED if not_done else EXIT_OK
