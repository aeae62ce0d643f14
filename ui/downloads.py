"""The Download button under a finished video: the file a person saves is named for a
person (`talking-avatar-2026-12-07-1530.mp4`, when it was made ready), not after the
provider's task id or Gradio's cache digest."""

from __future__ import annotations

import datetime as dt
from typing import Any

import gradio as gr

from ui.delivery import download_copy

NAME_FORMAT = "talking-avatar-%Y-%m-%d-%H%M.mp4"


def download_name(when: dt.datetime | None = None) -> str:
    """The file name a browser saves a video as (local time, to the minute)."""
    return (when or dt.datetime.now()).strftime(NAME_FORMAT)


def offer_download(video: str | None) -> Any:
    """The button for the video on show (hidden without one, or when no copy could be
    made: the video's own player stays)."""
    if not video:
        return no_download()
    named = download_copy(video, download_name())
    return gr.update(value=named, visible=named is not None)


def no_download() -> Any:
    """No video on show (a job starts, "Make another"): no button."""
    return gr.update(value=None, visible=False)
