"""The Gradio interface of Talking Avatar Studio (the core, `avatar_core`, never imports it).

layout: the page's components; wiring: their events; handlers: what the events do;
formatting: what the page shows; sessions: visitors and pasted keys' studios; delivery:
videos handed out as copies; texts: every word, in English and Chinese; assets: style and
script; text_guard: malformed text refused on every event.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from typing import Any

# No usage analytics leave this app unless its operator asks for them (before gradio loads).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Gradio's queue rebuilds the summary behind its monitoring page (a pandas table of up to
# 10,000 past events, grouped by function) each time an event ends: most of a History
# refresh's CPU once an app has seen a few hundred events. The page is off (launch_options:
# a stranger could read the app's traffic at /monitoring/summary), so it is rebuilt never.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(10**9))

import gradio as gr
from gradio import networking

from avatar_core.jobs.studio import Studio
from ui.assets import page_options
from ui.layout import build_page
from ui.sessions import Sessions
from ui.text_guard import GuardedBlocks
from ui.texts import EN
from ui.wiring import wire

__all__ = ["build_app", "launch", "page_options"]

# Gradio lists the documented /tts as an MCP tool too (ui/wiring.py) and warns at every
# start that its gr.State inputs keep their first value between tool calls: true, and
# why the app refuses /tts relayed by MCP (`Sessions.visitor`). Only that warning is hushed.
STATE_INPUT_WARNING = r"This MCP server includes a tool that has a gr\.State input"


# Every 10 minutes, Gradio deletes the uploads and handed-out copies older than an hour.
CACHE_CLEANING = (600, 3600)


def build_app(
    studio: Studio,
    *,
    sessions: Sessions | None = None,
    cache_cleaning: tuple[int, int] = CACHE_CLEANING,
) -> gr.Blocks:
    """The whole UI around one studio (tests pass one pointed at their simulator, and may
    pass the sessions, to look into them, and a quicker cleaning of Gradio's cache:
    (every how many seconds, files older than how many seconds)).

    Strangers type into its URL boxes, so the studio's preparer takes web addresses only
    from then on (uploads reach it as files, never as typed text).
    """
    studio.inputs.web_only = True
    sessions = sessions or Sessions(studio)
    with GuardedBlocks(title=EN["title"], delete_cache=cache_cleaning) as app:
        page = build_page(sessions)
        wire(app, page, sessions)
    return app


# Once it serves, Gradio's launch asks for its own page (`networking.url_ok`: a HEAD of
# "/", given up at the first answer slower than 3 s) and, when that fails, stops the start
# with "When localhost is not accessible, a shareable link must be created". On a busy
# machine the page's first answer (its config, made then) can take longer than that, and
# the app did not start (in-process apps of the tests, on two loaded cores). The same
# check, asked again until it answers or START_CHECK_S have passed.
START_CHECK_S = 60.0


def patient_url_ok(
    check: Callable[[str], bool],
    *,
    seconds: float = START_CHECK_S,
    now: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Callable[[str], bool]:
    """`check`, asked again every half second until it says True or `seconds` pass."""

    def url_ok(url: str) -> bool:
        give_up = now() + seconds
        while not check(url):
            if now() >= give_up:
                return False
            sleep(0.5)
        return True

    url_ok.patient = True  # type: ignore[attr-defined]
    return url_ok


if not getattr(networking.url_ok, "patient", False):
    networking.url_ok = patient_url_ok(networking.url_ok)


def launch(app: gr.Blocks, **options: Any) -> tuple[Any, str, Any]:
    """`app.launch(**options)` without Gradio's warning about /tts's State inputs."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=STATE_INPUT_WARNING, category=UserWarning)
        return app.launch(**options)
