"""The prepared inputs of jobs waiting in the line, kept so a restart sends them as they are.

A job in line (Stage.QUEUED) has its create's body, without the callback link (a process's
own), in `<data_dir>/line/<job_id>.json`: a restart submits it without preparing or
uploading anything again. The file is deleted once the create is answered (or the job
leaves the line). The folder is never served (`layout.py`): it holds portraits and voices,
so its files are readable by their owner only (0600).

`sweep_kept` (when a studio opens) deletes what no line will send: the files of jobs gone
from the journal (after PARTIAL_MAX_AGE_S: another process may be journaling one) or
neither in line nor being sent (a create refused as busy goes back in line, so another
process's sweep must leave it), and files older than KEPT_MAX_AGE_S (e.g. a pasted
key's jobs, which no restart resumes), whose jobs are then ended unsent.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from avatar_core.errors import StorageError
from avatar_core.provider.client import AvatarRequest
from avatar_core.storage.atomic import write_atomically
from avatar_core.storage.download import safe_file_name
from avatar_core.storage.journal import Journal, Stage
from avatar_core.storage.layout import LINE_FOLDER
from avatar_core.words import say

KEPT_MAX_AGE_S = 7 * 24 * 3600.0  # a job in line this long is ended unsent, its inputs deleted
PARTIAL_MAX_AGE_S = 3600.0  # a half-written file this old is a crash's leftover
_KEPT = ("image", "prompt", "sound_file", "audio_id", "mode", "task_id", "external_task_id")


def kept_path(data_dir: Path | str, job_id: str) -> Path:
    return Path(data_dir) / LINE_FOLDER / f"{safe_file_name(job_id)}.json"


def keep_request(data_dir: Path | str, job_id: str, request: AvatarRequest) -> None:
    """Write the create's body for `job_id` (atomically: a crash leaves the old or none)."""
    path = kept_path(data_dir, job_id)
    body = {name: getattr(request, name) for name in _KEPT}
    try:
        write_atomically(path, json.dumps(body), private=True)
    except OSError as exc:
        raise StorageError(
            say("line.inputs_not_kept", job_id=job_id, folder=path.parent, reason=exc.strerror)
        ) from None


def kept_request(data_dir: Path | str, job_id: str) -> AvatarRequest | None:
    """The kept create's body for `job_id` (None: none kept, or unreadable)."""
    try:
        body = json.loads(kept_path(data_dir, job_id).read_text(encoding="utf-8"))
        return AvatarRequest(**{name: body.get(name) for name in _KEPT if name in body})
    except (OSError, ValueError, TypeError):
        return None


def forget_request(data_dir: Path | str, job_id: str) -> None:
    kept_path(data_dir, job_id).unlink(missing_ok=True)


def kept_files(data_dir: Path | str) -> list[tuple[str, Path, float]]:
    """Every kept file: (its job id, its path, its age in seconds); half-written ones too."""
    folder = Path(data_dir) / LINE_FOLDER
    now = time.time()
    found = []
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        try:
            age = now - path.stat().st_mtime
        except OSError:
            continue
        found.append((path.stem, path, age))
    return found


def sweep_kept(data_dir: Path | str, journal: Journal, max_age_s: float = KEPT_MAX_AGE_S) -> int:
    """Delete the kept files no line will send (see the module's docstring); how many."""
    deleted = 0
    for job_id, path, age in kept_files(data_dir):
        if path.suffix != ".json":
            stale = age > PARTIAL_MAX_AGE_S
        else:
            job = journal.get(job_id)
            if job is None:  # not journaled yet (another process writing it), or gone
                stale = age > PARTIAL_MAX_AGE_S
            else:  # a create on its way may be refused as busy and go back in line
                stale = job.stage not in (Stage.QUEUED, Stage.CREATING)
            if job is not None and job.stage is Stage.QUEUED and age > max_age_s:
                why = say("line.waited_too_long", days=round(max_age_s / 86400))
                journal.advance(job, Stage.QUEUED, stage=Stage.NOT_CREATED, error=why)
                stale = True  # ended now, or it left the line meanwhile: unneeded either way
        if stale:
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted
