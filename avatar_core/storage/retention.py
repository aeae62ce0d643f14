"""How long finished videos stay in the data folder (AVATAR_KEEP_DAYS).

A public app makes videos for strangers, and in demo mode for nothing: without an end,
its disk fills. A video in `<data_dir>/videos/` older than the kept days (by the time it
was brought home) is deleted; the journal keeps the job, whose history then says the
video is no longer here. 0 keeps them for ever: the default with a key (the operator
paid for them), 7 days in demo mode.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

from avatar_core.storage.videos import VIDEOS_FOLDER

DAY_S = 86_400.0
SWEEP_EVERY_S = 3600.0

log = logging.getLogger(__name__)


def delete_old_videos(
    data_dir: Path, days: float, *, now: Callable[[], float] = time.time
) -> list[Path]:
    """Delete the videos of `data_dir` brought home more than `days` ago (none when
    `days` is 0); the deleted ones' paths."""
    if days <= 0 or not math.isfinite(days):
        return []
    folder = Path(data_dir) / VIDEOS_FOLDER
    oldest = now() - days * DAY_S
    deleted = []
    try:
        videos = [p for p in folder.iterdir() if p.suffix == ".mp4"]
    except OSError:
        return []  # no videos yet
    for video in videos:
        try:
            if video.is_file() and not video.is_symlink() and video.stat().st_mtime < oldest:
                video.unlink()
                deleted.append(video)
        except OSError:
            continue  # gone meanwhile, or not ours to delete: the next sweep sees it again
    return deleted


def keep_sweeping(
    data_dir: Path, days: float, *, every_s: float = SWEEP_EVERY_S
) -> threading.Event | None:
    """Delete old videos now and every `every_s` in a thread of its own (None when `days`
    is 0: nothing to do); setting the returned event stops it."""
    if days <= 0:
        return None
    stop = threading.Event()

    def sweep() -> None:
        while True:
            gone = delete_old_videos(data_dir, days)
            if gone:
                log.info("deleted %d videos older than %g days (AVATAR_KEEP_DAYS)", len(gone), days)
            if stop.wait(every_s):
                return

    threading.Thread(target=sweep, name="video-retention", daemon=True).start()
    return stop
