"""A long speech's join, once: its parts' videos in order with the speech as sent laid
over them (`media/join.py`), never two joins of one speech at the same time.

The run that made the parts joins them (`long_voice.LongVoiceRun`); a speech whose run
was stopped after its parts were sent (a page's Stop, a closed tab) is joined by whoever
finds every part's video home first: the History's refresh on the page
(`join_if_made`), or `resume`. Each takes the speech's lock (one a speech in this
process, and a file lock in its folder between processes) and joins only if the video is
not there yet; joining sends nothing and pays for nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from avatar_core.media.join import join_parts

LOCK_FILE = "join.lock"  # in the speech's folder

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def joining(folder: Path) -> Iterator[None]:
    """Hold the speech's join lock (its `folder`): in this process, then between
    processes (blocking: call it from a thread)."""
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(str(folder), threading.Lock())
    with lock:
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / LOCK_FILE, "ab") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield


def join_once(
    videos: Sequence[Path],
    speech: Path,
    out: Path,
    *,
    folder: Path,
    seams: Sequence[float],
    audio_s: float | None = None,
) -> tuple[Path, tuple[float, ...]]:
    """The parts' `videos` joined with `speech` into `out`, unless another join made
    `out` meanwhile; the speech's `folder` (its work) deleted after. (out, its seams)."""
    with joining(folder):
        if out.is_file():  # joined by another run while this one waited
            shutil.rmtree(folder, True)
            return out, tuple(seams)
        joined = join_parts(
            list(videos), speech, out, seams=seams, work=folder / "join", audio_s=audio_s
        )
        shutil.rmtree(folder, True)  # its work: the video is home
        return joined.path, tuple(joined.seams)
