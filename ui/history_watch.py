"""The History keeps itself current while one of the visitor's jobs is unfinished: a job
the person stopped waiting for may finish at the provider minutes later, and the page
shows it finished without a reload.

A `gr.Timer` refreshes the History (which asks the provider about the unfinished jobs)
every `EVERY_S` seconds, only while some job is unfinished; each refresh says whether it
should keep ticking. While the page's own Generate runs, its flow follows the job and the
timer rests. A reload during a run closes that flow: the page then says the video is still
being made and opens the History, which shows it once made (`still_running`), then "ready"
(`settled`). The check reads the journal as the page left it, before the History's refresh:
that refresh may bring the video home (a long speech's parts, joined), and checked after
it, a stopped long speech was often never said to be coming.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from avatar_core.storage.journal import Stage
from ui.sessions import Sessions
from ui.texts import page_text, ui_text

EVERY_S = 5.0
# What may still change at the provider (a job still in the app's line has no task yet).
UNFINISHED = (Stage.CREATING, Stage.RUNNING, Stage.DOWNLOADING)


def history_timer() -> gr.Timer:
    """The timer, resting until a History shows an unfinished job."""
    return gr.Timer(EVERY_S, active=False)


def keep_watching(
    sessions: Sessions,
    key: str | None = None,
    browser: str | None = None,
    request: gr.Request | None = None,
) -> Any:
    """The timer ticks on while one of the visitor's jobs is unfinished."""
    visitor = sessions.visitor(browser, request)
    with sessions.using(key) as studio:
        jobs = studio.history(visitor)
    return gr.Timer(active=any(job.stage in UNFINISHED for job in jobs))


def still_running(
    sessions: Sessions,
    key: str | None = None,
    browser: str | None = None,
    request: gr.Request | None = None,
) -> tuple[Any, Any]:
    """After a reload, before the History asks about the unfinished jobs: (the status, the
    History's fold). A job of this browser still being made is said, and the History,
    which shows it once made, is opened; else nothing changes."""
    visitor = sessions.visitor(browser, request)
    with sessions.using(key) as studio:
        jobs = studio.history(visitor)
    if not any(job.stage in UNFINISHED for job in jobs):
        return gr.skip(), gr.skip()
    return f"⏳ {page_text('still_being_made')}", gr.update(open=True)


def _says_still_making(status: object) -> bool:
    """Whether the status is `still_running`'s sentence (as sent, or back from the browser
    in either language)."""
    shown = str(status or "")
    return "still_being_made" in shown or any(
        ui_text("still_being_made", language) in shown for language in ("en", "zh")
    )


def settled(
    sessions: Sessions,
    status: object,
    key: str | None = None,
    browser: str | None = None,
    request: gr.Request | None = None,
) -> Any:
    """Once the History shows nothing unfinished, `still_running`'s sentence gives way to
    "your video is ready in History" (it would otherwise stay, wrong, after the job is
    done), or, when the newest job failed, "it could not be made: History says why"; any
    other status stays."""
    if not _says_still_making(status):
        return gr.skip()
    visitor = sessions.visitor(browser, request)
    with sessions.using(key) as studio:
        jobs = studio.history(visitor)
    if any(job.stage in UNFINISHED for job in jobs):
        return gr.skip()
    if jobs and jobs[0].stage is not Stage.DONE:  # the newest, the one said to be coming
        return f"❌ {page_text('failed_in_history')}"
    return f"✅ {page_text('made_in_history')}"


def rest() -> Any:
    """The timer stops (the page's own flow is following the job)."""
    return gr.Timer(active=False)
