"""The prepared inputs of jobs waiting in the line, kept so a restart sends them as they are.

A job in line (Stage.QUEUED) has its create's body, without the callback link (a process's
own), in `<data_dir>/line/<job_id>.json`: a restart submits it without preparing or
uploading anything again. The file is deleted once the create is answered (or the job
leaves the line). The folder is never served (`layout.py`): it holds portraits and voices.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from avatar_core.errors import StorageError
from avatar_core.provider.client import AvatarRequest
from avatar_core.storage.download import safe_file_name
from avatar_core.words import say

LINE_FOLDER = "line"
_KEPT = ("image", "prompt", "sound_file", "audio_id", "mode", "task_id", "external_task_id")


def kept_path(data_dir: Path | str, job_id: str) -> Path:
    return Path(data_dir) / LINE_FOLDER / f"{safe_file_name(job_id)}.json"


def keep_request(data_dir: Path | str, job_id: str, request: AvatarRequest) -> None:
    """Write the create's body for `job_id` (atomically: a crash leaves the old or none)."""
    path = kept_path(data_dir, job_id)
    body = {name: getattr(request, name) for name in _KEPT}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_text(json.dumps(body), encoding="utf-8")
        os.replace(partial, path)
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
