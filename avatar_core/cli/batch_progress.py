"""What a batch shows while it runs, on stderr.

On a terminal, a tqdm bar counts the rows that ended and shows done, failed, running, in
line (journaled, waiting for the line to send their create: nothing sent yet) and waiting,
with one line above it as each row ends. Elsewhere (CI, a pipe, a file) there is no bar
and no control character: one plain line when a row takes or changes its place in line,
when it is sent and when it ends, each with the counts.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import TextIO

from tqdm import tqdm

from avatar_core.catalogue import sentence_for
from avatar_core.jobs.batch import RowResult, RowState


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # a closed or odd stream
        return False


def row_line(result: RowResult, language: str = "en") -> str:
    """One row's news, for people."""
    number, task = result.row.number, result.task_id
    if result.state is RowState.RUNNING and result.sent:
        line = sentence_for("batch.row_sent", row=number)
    elif result.state is RowState.RUNNING:
        line = sentence_for("batch.row_following", row=number, task_id=task)
    elif result.state is RowState.DONE:
        name = result.video.name if result.video else "?"
        when = "" if result.sent else sentence_for("batch.earlier_run")
        line = sentence_for("batch.row_done", row=number, name=name, task_id=task, when=when)
    elif result.state is RowState.PREPARING:
        line = sentence_for("batch.row_preparing", row=number)
    elif result.state is RowState.IN_LINE:
        line = sentence_for("batch.row_in_line", row=number, place=result.place or 1)
    else:
        line = sentence_for(
            "batch.row_state", row=number, state=result.state.value, error=result.error
        )
    return line.in_language(language)


class BatchProgress:
    """A listener for `BatchRun`: call it with each row whose state changed."""

    def __init__(self, results: list[RowResult], err: TextIO, language: str = "en") -> None:
        self._results = results
        self._err = err
        self._language = language
        self._lock = threading.Lock()  # rows end in worker threads too
        self._bar = None
        if _is_terminal(err):
            self._bar = tqdm(
                total=len(results), file=err, unit="row", desc="batch", dynamic_ncols=True
            )
            self._bar.set_postfix_str(self.counts())

    def counts(self) -> str:
        """done, failed (unclear), running, in line and waiting rows, in words (a row being
        prepared counts as running: its inputs are being fixed, its speech made)."""
        seen = Counter(result.state for result in self._results)
        unclear = seen[RowState.UNCLEAR]
        counts = sentence_for(
            "batch.counts",
            done=seen[RowState.DONE],
            failed=seen[RowState.FAILED],
            unclear=sentence_for("batch.count_unclear", count=unclear) if unclear else "",
            running=seen[RowState.RUNNING] + seen[RowState.PREPARING],
            in_line=seen[RowState.IN_LINE],
            waiting=seen[RowState.WAITING],
        )
        return counts.in_language(self._language)

    def __call__(self, result: RowResult) -> None:
        with self._lock:
            if self._bar is None:
                if result.state is not RowState.PREPARING:
                    ended = sum(r.state.ended for r in self._results)
                    line = sentence_for(
                        "batch.plain_line",
                        ended=ended,
                        rows=len(self._results),
                        news=row_line(result, self._language),
                        counts=self.counts(),
                    )
                    print(line.in_language(self._language), file=self._err, flush=True)  # fmt: skip
                return
            if result.state.ended:
                self._bar.write(row_line(result, self._language), file=self._err)
            self._bar.set_postfix_str(self.counts(), refresh=not result.state.ended)
            if result.state.ended:
                self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
