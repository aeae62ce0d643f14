"""What the page shows, as Markdown and table rows: verdicts, status, details, cost, history.

Pure functions of the core's results; a string may carry one translated `t(key)`.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from avatar_core.errors import AvatarError, InputError
from avatar_core.inputs.fields import MAX_PROMPT_CHARS
from avatar_core.jobs.events import InLine, Progress
from avatar_core.jobs.limits import Allowance
from avatar_core.jobs.pricing import Estimate, format_money, format_rate
from avatar_core.storage.journal import Job, Stage
from ui.texts import t

STAGE_LABELS = {
    Stage.QUEUED: "in line",
    Stage.CREATING: "sending",
    Stage.OUTCOME_UNKNOWN: "unclear: may exist, look it up by its job id",
    Stage.NOT_CREATED: "not created",
    Stage.RUNNING: "running",
    Stage.DOWNLOADING: "downloading",
    Stage.DONE: "done",
    Stage.FAILED: "failed",
    Stage.LOST: "lost",
}
HISTORY_HEADERS = ["created", "status", "task id", "mode", "video s", "note", "job"]
STATUS_ICONS = {"info": "⏳", "done": "✅", "error": "❌", "stopped": "⏹️"}


def _bullets(lines: list[str] | tuple[str, ...], mark: str) -> str:
    return "".join(f"\n- {mark} {line}" for line in lines)


def verdict_ok(summary: str, changes: tuple[str, ...], warnings: tuple[str, ...]) -> str:
    """An accepted input: its summary, then what was fixed and what to watch."""
    return f"✅ {summary}" + _bullets(changes, "🔧") + _bullets(warnings, "⚠️")


def verdict_error(error: AvatarError) -> str:
    """A refusal: each problem of an input error (or the error itself) in a paragraph."""
    problems = error.problems if isinstance(error, InputError) else [str(error)]
    return "\n\n".join(f"❌ {p}" for p in problems)


def doctor_report(text: str) -> str:
    """The doctor's report as a block to copy into a bug report."""
    return f"```text\n{text}\n```"


def status(text: str, kind: str = "info") -> str:
    """The status line: an icon for `kind` (info, done, error, stopped), then the text."""
    return f"{STATUS_ICONS[kind]} {text}"


def in_line(progress: InLine) -> str:
    """A job's place in the line and the expected wait: "In line…, place **3** · ≈ 2 min"."""
    minutes = math.ceil(progress.estimate_s / 60)
    wait = "< 1 min" if progress.estimate_s < 60 else f"≈ {minutes} min"
    return status(f"{t('in_line')} **{progress.position}** · {wait}")


def details(progress: Progress) -> str:
    """The job's identifiers and facts under the video, once the job exists."""
    job = progress.job
    if job is None:
        return ""
    rows = [f"**Task id:** `{job.task_id}`" if job.task_id else "", f"**Job:** `{job.job_id}`"]
    if job.video_seconds:
        rows.append(f"**Video:** {job.video_seconds:.1f} s")
    if job.units_charged:
        rows.append(f"**Credits charged:** {job.units_charged}")
    if job.demo:
        rows.append("**Simulated** (demo mode)")
    return " · ".join(r for r in rows if r)


def cost_text(estimate: Estimate | None) -> str:
    """The estimate beside the mode (one translated label plus the numbers)."""
    if estimate is None:
        return str(t("cost_unknown"))
    return (
        f"💰 {t('cost_label')} **≈ {format_money(estimate.total)}** "
        f"({estimate.seconds:.1f} s × {format_rate(estimate.price_per_second)}, {estimate.mode})"
    )


def allowance_text(allowance: Allowance | None) -> str:
    """What a visitor has left today of its daily limit ("" when none applies)."""
    if allowance is None:
        return ""
    return f"{t('allowance_left')} **{allowance.left} / {allowance.limit}**"


def prompt_count(prompt: str | None) -> str:
    """How much of the prompt's limit is used, and what an empty or long one means."""
    used = len(prompt or "")
    if used > MAX_PROMPT_CHARS:
        return f"{used} / {MAX_PROMPT_CHARS} {t('chars_too_long')}"
    if not (prompt or "").strip():
        return f"{used} / {MAX_PROMPT_CHARS} {t('chars_empty')}"
    return f"{used} / {MAX_PROMPT_CHARS} {t('chars')}"


def stage_label(job: Job) -> str:
    return STAGE_LABELS[job.stage] + (" (demo)" if job.demo else "")


def history_rows(jobs: list[Job]) -> list[list[Any]]:
    """One row a job, in HISTORY_HEADERS' order; the job id last (a selection reads it)."""
    rows = []
    for job in jobs:
        when = dt.datetime.fromtimestamp(job.created_at).strftime("%Y-%m-%d %H:%M:%S")
        rows.append(
            [
                when,
                stage_label(job),
                job.task_id or "",
                job.mode,
                f"{job.video_seconds:.1f}" if job.video_seconds else "",
                job.error or "",
                job.job_id,
            ]
        )
    return rows


def history_note(job: Job, *, with_video: bool) -> str:
    """The line under a job picked in the history (its error too when it has no video)."""
    if with_video:
        return f"Task `{job.task_id}` · {STAGE_LABELS[job.stage]}"
    return f"Task `{job.task_id or '-'}` · {STAGE_LABELS[job.stage]} · {job.error or ''}"
