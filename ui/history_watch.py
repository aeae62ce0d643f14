"""The History keeps itself current while one of the visitor's jobs is unfinished: a job
the person stopped waiting for may finish at the provider minutes later, and the page
shows it finished without a reload.

A `gr.Timer` refreshes the History (which asks the provider about the unfinished jobs)
every `EVERY_S` seconds, only while some job is unfinished; each refresh says whether it
should keep ticking. While the page's own Generate runs, its flow follows the job and the
timer rests.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from avatar_core.storage.journal import Stage
from ui.sessions import Sessions

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


def rest() -> Any:
    """The timer stops (the page's own flow is following the job)."""
    return gr.Timer(active=False)
