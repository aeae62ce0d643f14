"""What the page shows, as Markdown and table rows: verdicts, status, details, cost, history.

Pure functions of the core's results; a string may carry one translated `t(key)`. The
core's sentences (catalogued `Message`s) and the labels around them are rendered here in
the visitor's `language` ("en" or "zh").
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
from avatar_core.words import in_language
from ui.texts import t, ui_text

STAGE_LABELS = {  # a job's stage -> its label's key in texts.json
    Stage.QUEUED: "stage_queued",
    Stage.CREATING: "stage_creating",
    Stage.OUTCOME_UNKNOWN: "stage_outcome_unknown",
    Stage.NOT_CREATED: "stage_not_created",
    Stage.RUNNING: "stage_running",
    Stage.DOWNLOADING: "stage_downloading",
    Stage.DONE: "stage_done",
    Stage.FAILED: "stage_failed",
    Stage.LOST: "stage_lost",
}
HISTORY_COLUMNS = ["created", "status", "task_id", "mode", "video_s", "note", "job"]
HISTORY_HEADERS = [ui_text(f"history_col_{column}", "en") for column in HISTORY_COLUMNS]
STATUS_ICONS = {"info": "⏳", "done": "✅", "error": "❌", "stopped": "⏹️"}


# What Markdown (and the HTML it lets through) would read as markup in a sentence that
# may carry text from outside (the provider's failure reason, a file's name).
_MARKUP = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "\\[", "]": "\\]", "\\": "\\\\"}
_AS_TEXT = str.maketrans(_MARKUP)


def as_text(text: str) -> str:
    """`text` shown as it is on a Markdown component: no tag, link or image of it acts."""
    return str(text).translate(_AS_TEXT)


def _bullets(lines: list[str] | tuple[str, ...], mark: str, language: str) -> str:
    return "".join(f"\n- {mark} {in_language(line, language)}" for line in lines)


def verdict_ok(
    summary: str, changes: tuple[str, ...], warnings: tuple[str, ...], language: str = "en"
) -> str:
    """An accepted input: its summary, then what was fixed and what to watch."""
    head = f"✅ {in_language(summary, language)}"
    return head + _bullets(changes, "🔧", language) + _bullets(warnings, "⚠️", language)


def verdict_error(error: AvatarError, language: str = "en") -> str:
    """A refusal: each problem of an input error (or the error itself) in a paragraph."""
    problems = error.problems if isinstance(error, InputError) else [error.message]
    return "\n\n".join(f"❌ {as_text(in_language(p, language))}" for p in problems)


def doctor_report(text: str) -> str:
    """The doctor's report as a block to copy into a bug report."""
    return f"```text\n{text}\n```"


def status(text: str, kind: str = "info", language: str = "en") -> str:
    """The status line: an icon for `kind` (info, done, error, stopped), then the text."""
    return f"{STATUS_ICONS[kind]} {as_text(in_language(text, language))}"


def in_line(progress: InLine, language: str = "en") -> str:
    """A job's place in the line and the expected wait: "In line…, place **3** · ≈ 2 min"."""
    minutes = math.ceil(progress.estimate_s / 60)
    wait = "< 1 min" if progress.estimate_s < 60 else f"≈ {minutes} min"
    line = f"{in_language(t('in_line'), language)} **{progress.position}** · {wait}"
    return f"{STATUS_ICONS['info']} {line}"  # the page's own words and markup


def details(progress: Progress, language: str = "en") -> str:
    """The job's identifiers and facts under the video, once the job exists."""
    job = progress.job
    if job is None:
        return ""

    def label(key: str) -> str:
        return f"**{ui_text(key, language)}:**"

    rows = [f"{label('detail_task_id')} `{job.task_id}`" if job.task_id else ""]
    rows.append(f"{label('detail_job')} `{job.job_id}`")
    if job.video_seconds:
        rows.append(f"{label('detail_video')} {job.video_seconds:.1f} s")
    if job.units_charged and not job.demo:
        rows.append(f"{label('detail_credits')} {job.units_charged}")
    if job.demo:
        rows.append(ui_text("detail_simulated", language))
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


def stage_label(job: Job, language: str = "en") -> str:
    label = ui_text(STAGE_LABELS[job.stage], language)
    return label + (ui_text("stage_demo", language) if job.demo else "")


def history_headers(language: str = "en") -> list[str]:
    """The History table's column names in `language`."""
    return [ui_text(f"history_col_{column}", language) for column in HISTORY_COLUMNS]


def history_rows(jobs: list[Job], language: str = "en") -> list[list[Any]]:
    """One row a job, in HISTORY_HEADERS' order; the job id last (a selection reads it)."""
    rows = []
    for job in jobs:
        when = dt.datetime.fromtimestamp(job.created_at).strftime("%Y-%m-%d %H:%M:%S")
        rows.append(
            [
                when,
                stage_label(job, language),
                job.task_id or "",
                job.mode,
                f"{job.video_seconds:.1f}" if job.video_seconds else "",
                in_language(job.error, language),
                job.job_id,
            ]
        )
    return rows


def history_note(job: Job, *, with_video: bool, language: str = "en") -> str:
    """The line under a job picked in the history (its error too when it has no video,
    in `language` when the journal kept it as a catalogued sentence)."""
    task, stage = ui_text("detail_task", language), ui_text(STAGE_LABELS[job.stage], language)
    if with_video:
        return f"{task} `{job.task_id}` · {stage}"
    return f"{task} `{job.task_id or '-'}` · {stage} · {as_text(in_language(job.error, language))}"
