"""How long finished videos stay in the data folder (AVATAR_KEEP_DAYS).

A public app makes videos for strangers, and in demo mode for nothing: without an end,
its disk fills. A video in `<data_dir>/videos/` older than the kept days (by the time it
was brought home) is deleted; the journal keeps the job, whose history then says the
video is no longer here. 0 keeps them for ever: the default with a key (the operator
paid for them), 7 days in demo mode.

The speech kept for typed texts follows the same rule (`delete_old_speech_files`): the
audio of speeches in `<data_dir>/speech/` and the long texts' group records and portraits
in `<data_dir>/long_speeches/texts/` (a stranger may type as many long texts as the limits
allow), and the voices fetched from a web address in `<data_dir>/long_speeches/fetched/`.
What an unfinished speech still needs is never deleted: a long speech's folder keeps its
plan until it is joined, and a text's plan lists its groups' records (`keeps`), each
naming its audio; a plan that does not say what it keeps keeps every text's files. A kept
speech reused by a text is marked used then (its age counts from there).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

from avatar_core.storage.layout import (
    LONG_FETCHED_FOLDER,
    LONG_SPEECH_FOLDER,
    LONG_SPEECH_PLAN,
    LONG_TEXT_FOLDER,
)
from avatar_core.storage.speech_files import SPEECH_FOLDER
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
    return _delete_older(Path(data_dir) / VIDEOS_FOLDER, now() - days * DAY_S, ".mp4")


def delete_old_speech_files(
    data_dir: Path, days: float, *, now: Callable[[], float] = time.time
) -> list[Path]:
    """Delete the speech files (`speech/`), long texts' records (`long_speeches/texts/`)
    and fetched voices (`long_speeches/fetched/`) of `data_dir` last written or used more
    than `days` ago (none when `days` is 0), except what an unfinished speech still
    needs; the deleted ones' paths."""
    if days <= 0 or not math.isfinite(days):
        return []
    needed = _needed_by_unfinished(Path(data_dir))
    if needed is None:  # a plan that does not say what it needs: keep them all this time
        return []
    oldest = now() - days * DAY_S
    folders = (
        Path(data_dir) / SPEECH_FOLDER,
        Path(data_dir) / LONG_SPEECH_FOLDER / LONG_TEXT_FOLDER,
        Path(data_dir) / LONG_SPEECH_FOLDER / LONG_FETCHED_FOLDER,
    )
    return [gone for folder in folders for gone in _delete_older(folder, oldest, keep=needed)]


def _delete_older(
    folder: Path, oldest: float, suffix: str | None = None, keep: frozenset[Path] = frozenset()
) -> list[Path]:
    """The regular files of `folder` (ending in `suffix`) changed before `oldest`, deleted
    unless in `keep` (resolved paths)."""
    try:
        files = [p for p in folder.iterdir() if suffix is None or p.suffix == suffix]
    except OSError:
        return []  # nothing there yet
    deleted = []
    for file in files:
        try:
            old = file.is_file() and not file.is_symlink() and file.stat().st_mtime < oldest
            if old and file.resolve() not in keep:
                file.unlink()
                deleted.append(file)
        except OSError:
            continue  # gone meanwhile, or not ours to delete: the next sweep sees it again
    return deleted


def _needed_by_unfinished(data_dir: Path) -> frozenset[Path] | None:
    """The files the plans of unfinished long speeches name (their portrait, a text's
    groups' records and each record's audio), resolved; None when a plan cannot be read or
    a text's plan does not list its records."""
    root = data_dir / LONG_SPEECH_FOLDER
    texts = root / LONG_TEXT_FOLDER
    needed: set[Path] = set()
    for plan_file in root.glob(f"*/{LONG_SPEECH_PLAN}"):
        try:
            plan = json.loads(plan_file.read_text(encoding="utf-8"))
            request = plan.get("request") or {}
            for named in ("image", "voice"):  # a voice: one fetched from the web, say
                if request.get(named):
                    needed.add(Path(str(request[named])).resolve())
            if request.get("kind") != "text":
                continue
            keeps = plan.get("keeps")
            if not isinstance(keeps, list):
                return None
            for name in keeps:
                record = texts / Path(str(name)).name
                needed.add(record.resolve())
                needed |= _audio_of(record)
        except (OSError, ValueError, AttributeError, TypeError):
            return None
    return frozenset(needed)


def _audio_of(record: Path) -> set[Path]:
    """The audio file a group's record names (none when the record is not there)."""
    try:
        audio = json.loads(record.read_text(encoding="utf-8")).get("audio")
    except (OSError, ValueError, AttributeError):
        return set()
    return {Path(str(audio)).resolve()} if audio else set()


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
            spoken = delete_old_speech_files(data_dir, days)
            if spoken:
                log.info("deleted %d speech files older than %g days", len(spoken), days)
            if stop.wait(every_s):
                return

    threading.Thread(target=sweep, name="video-retention", daemon=True).start()
    return stop
