"""What the page shows, as Markdown and table rows: verdicts, status, details, cost, history.

Pure functions of the core's results; a string may carry one translated `page_text(key)`. The
core's sentences (catalogued `Message`s) and the labels around them are rendered here in
the visitor's `language` ("en" or "zh").
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from avatar_core.catalogue import in_language, sentence_for
from avatar_core.errors import AvatarError, InputError
from avatar_core.inputs.fields import MAX_PROMPT_CHARS
from avatar_core.jobs.events import Done, InLine, Progress, clock_text
from avatar_core.jobs.limits import Allowance
from avatar_core.jobs.long_voice import Joining
from avatar_core.jobs.pricing import Estimate, format_money, format_rate
from avatar_core.provider.models import TaskStatus
from avatar_core.storage.journal import Job, Stage
from avatar_core.units import about
from ui.texts import page_text, ui_text

STAGE_LABELS = {  # a job's stage -> its label's key in page.json
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
ENDED_WITHOUT_VIDEO = (Stage.FAILED, Stage.LOST, Stage.NOT_CREATED, Stage.OUTCOME_UNKNOWN)
HISTORY_COLUMNS = ["created", "status", "task_id", "mode", "video_s", "note", "job"]
HISTORY_HEADERS = [ui_text(f"history_col_{column}", "en") for column in HISTORY_COLUMNS]
STATUS_ICONS = {"info": "⏳", "done": "✅", "error": "❌", "stopped": "⏹️"}
# The prompt's named styles (page.json: style_<name> and style_<name>_prompt); the first
# is the default, asking for natural expressions and blinking (without an expressive
# prompt the avatar tends to stare).
PROMPT_STYLES = ("natural", "calm", "lively", "minimal", "friendly")
# Speech guessed from a text before it is made: characters a second, by language.
CHARS_PER_SECOND = {"en": 14.0, "zh": 4.5}


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


def done_status(done: Done, language: str = "en") -> str:
    """ "✅ Done: your video is ready, 2.0 s of video, simulated: nothing charged." (the
    task's id is in the details)."""
    job = done.job
    text = ui_text("video_ready", language)
    if job is not None and job.video_seconds:
        text += in_language(sentence_for("done.video", seconds=job.video_seconds), language)
    if job is not None and job.demo:
        text += in_language(sentence_for("done.simulated"), language)
    elif job is not None and job.units_charged:
        text += in_language(sentence_for("done.units", units=job.units_charged), language)
    return f"{STATUS_ICONS['done']} {text}{'。' if language == 'zh' else '.'}"


def expected(seconds: float | None, language: str = "en") -> str:
    """ " · usually about 4 min" after the elapsed time ("" when nothing is known)."""
    if not seconds:
        return ""
    return f" · {ui_text('expected', language)} {in_language(about(seconds), language)}"


def with_expected(status: str, seconds: float | None, language: str = "en") -> str:
    """`status` with the expected time after it; a Chinese sentence's full stop moves to
    the end ("已用时 0:05 · 通常约 1 分钟。", not "已用时 0:05。 · 通常 约 1 分钟")."""
    suffix = expected(seconds, language)
    if not suffix or language != "zh" or not status.endswith("。"):
        return status + suffix
    return status.removesuffix("。") + suffix.replace(" 约", "约") + "。"


def colon(language: str) -> str:
    """The colon after a label: full-width in Chinese."""
    return "：" if language == "zh" else ": "


def in_line(progress: InLine, language: str = "en") -> str:
    """A job's place in the line and the expected wait: "In line…, place **3** · ≈ 2 min"."""
    minutes = math.ceil(progress.estimate_s / 60)
    shown = minutes_text(minutes, language)
    wait = f"< {minutes_text(1, language)}" if progress.estimate_s < 60 else f"≈ {shown}"
    line = f"{in_language(page_text('in_line'), language)} **{progress.position}** · {wait}"
    return f"{STATUS_ICONS['info']} {line}"  # the page's own words and markup


def details(progress: Progress, language: str = "en") -> str:
    """The job's identifiers and facts under the video, once the job exists."""
    job = progress.job
    if job is None:
        return ""

    def label(key: str) -> str:
        return f"**{ui_text(key, language)}{colon(language).strip()}**"

    if job.task_id:  # the job's own id only while the provider's is not known
        rows = [f"{label('detail_task_id')} `{job.task_id}`"]
    else:
        rows = [f"{label('detail_job')} `{job.job_id}`"]
    if job.video_seconds:
        rows.append(f"{label('detail_video')} {seconds_text(job.video_seconds, language)}")
    if job.units_charged and not job.demo:
        rows.append(f"{label('detail_credits')} {job.units_charged}")
    if job.demo:
        rows.append(ui_text("detail_simulated", language))
    return " · ".join(r for r in rows if r)


def seconds_text(seconds: float, language: str = "en", *, decimals: int = 1) -> str:
    """ "6.6 s" in English, "6.6 秒" in Chinese."""
    value = f"{seconds:.{decimals}f}"
    return sentence_for("unit.seconds", value=value).in_language(language)


def minutes_text(minutes: int, language: str = "en") -> str:
    """ "3 min" in English, "3 分钟" in Chinese."""
    return sentence_for("unit.minutes", value=minutes).in_language(language)


def style_key(style: str | None) -> str:
    """The page.json key of a style's prompt (the default style's for an unknown one)."""
    return f"style_{style if style in PROMPT_STYLES else PROMPT_STYLES[0]}_prompt"


def guessed_speech_seconds(text: str | None, language: str) -> float | None:
    """How long the speech of `text` will likely last (None for no text)."""
    letters = len(" ".join((text or "").split()))
    return letters / CHARS_PER_SECOND.get(language, CHARS_PER_SECOND["en"]) if letters else None


def cost_text(
    estimate: Estimate | None,
    *,
    demo: bool = False,
    guessed: bool = False,
    language: str = "en",
) -> str:
    """The estimate under the inputs: in demo mode, that nothing is charged and what a key
    would cost; for a text not spoken yet, its speech's length is a guess and the speech
    itself is paid on top. One translated label plus numbers, or all rendered in
    `language`."""
    if estimate is None:
        return str(page_text("cost_demo_free" if demo else "cost_unknown"))
    money = format_money(estimate.total)
    if demo:
        return f"{ui_text('cost_demo', language)} {money}{'）' if language == 'zh' else ')'}"
    seconds = seconds_text(estimate.seconds, language)
    if guessed:
        guess = seconds_text(estimate.seconds, language, decimals=0)
        seconds = f"≈ {guess}, {ui_text('cost_speech_guess', language)}"
    rate = format_rate(estimate.price_per_second)
    label = ui_text("cost_label", language)
    text = f"💰 {label} **≈ {money}** ({seconds} × {rate}, {estimate.mode})"
    return text + (f" {ui_text('cost_speech_extra', language)}" if guessed else "")


def allowance_text(allowance: Allowance | None, language: str = "en") -> str:
    """What a visitor has left today of its daily limit ("" when none applies), in the
    visitor's language: the count first, then what counts more than once."""
    if allowance is None:
        return ""
    left, counts = ui_text("allowance_left", language), ui_text("allowance_counts", language)
    return f"{left} **{allowance.left} / {allowance.limit}** {counts}"


def prompt_count(prompt: str | None) -> str:
    """How much of the prompt's limit is used, and what an empty or long one means."""
    used = len(prompt or "")
    if used > MAX_PROMPT_CHARS:
        return f"{used} / {MAX_PROMPT_CHARS} {page_text('chars_too_long')}"
    if not (prompt or "").strip():
        return f"{used} / {MAX_PROMPT_CHARS} {page_text('chars_empty')}"
    return f"{used} / {MAX_PROMPT_CHARS} {page_text('chars')}"


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
                in_language(job.error or getattr(job, "note", None), language),  # a speech's
                job.job_id,
            ]
        )
    return rows


def history_caption(job: Job, language: str = "en", words: str | None = None) -> str:
    """A job under its picture in the History, saying what tells it from the others made
    from the same face: when, what it says (the first `words` of its typed text, else the
    voice's length), its state in words, and for a failed job its one sentence."""
    when = dt.datetime.fromtimestamp(job.created_at).strftime("%m-%d %H:%M")
    parts = [when]
    seconds = job.audio_seconds or job.video_seconds
    if words:
        parts.append(f"“{first_words(words)}”")
    elif seconds:
        voice = seconds_text(seconds, language)
        parts.append(sentence_for("page:history_voice", seconds=voice).in_language(language))
    parts.append(stage_label(job, language))
    caption = " · ".join(parts)
    if job.error and job.stage in ENDED_WITHOUT_VIDEO:
        caption += colon(language) + in_language(job.error, language)
    elif getattr(job, "note", None):  # a long speech's parts, as one entry
        caption += colon(language) + in_language(job.note, language)
    return caption


def first_words(text: str, limit: int = 28) -> str:
    """The start of a typed text, cut at a word where it has spaces, with "…" if cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2 :] else cut).rstrip(",.;:，。") + "…"


def history_note(job: Job, language: str = "en", words: str | None = None) -> str:
    """The line under a job picked in the History: its caption (when, its state, its
    length; a failed job's sentence, in `language` when the journal kept it as a
    catalogued sentence). No ids: a person needs none to watch or download it."""
    return as_text(history_caption(job, language, words))


# --- plain words for a person who is not an engineer ------------------------------------
# The core's own lines ("JPEG 512×512, 68 KB; sent as it is", "Queued at the provider")
# stay for the command line and the tools; the page says the same in plain words.

WAITING_KEYS = {TaskStatus.SUBMITTED: "wait_turn", TaskStatus.PROCESSING: "wait_making"}


def face_ready(width: int, height: int, language: str = "en") -> str:
    """ "Face ready (512×512 px)." for an accepted portrait (the size that is sent)."""
    return sentence_for("page:face_ready", size=f"{width}×{height}").in_language(language)


def voice_ready(seconds: float, language: str = "en") -> str:
    """ "Voice ready (7.3 s)." for an accepted voice."""
    return sentence_for("page:voice_ready", seconds=f"{seconds:.1f}").in_language(language)


def joining(progress: Progress, language: str = "en") -> str | None:
    """The status while a long speech's parts are joined, with the time elapsed as the
    provider's stages have it (None for any other step)."""
    if not isinstance(progress, Joining):
        return None
    clock = clock_text(progress.elapsed_s)
    text = sentence_for("page:wait_joining", count=progress.count, clock=clock)
    return f"{STATUS_ICONS['info']} {text.in_language(language)}"


def waiting(progress: Progress, language: str = "en") -> str | None:
    """The status while the provider has the task, in plain words with the time elapsed
    (None for a state the provider named otherwise: its own words are shown)."""
    task = progress.task
    key = WAITING_KEYS.get(task.status) if task is not None else None
    if key is None:
        return None
    text = sentence_for(f"page:{key}", clock=clock_text(progress.elapsed_s)).in_language(language)
    return f"{STATUS_ICONS['info']} {text}"
