"""Where finished videos are kept: `<data_dir>/videos/<task_id>.mp4` (brought there by
`media/video_download.py`)."""

from __future__ import annotations

from pathlib import Path

from avatar_core.storage.download import safe_file_name

VIDEOS_FOLDER = "videos"


def video_path(data_dir: Path, task_id: str) -> Path:
    return Path(data_dir) / VIDEOS_FOLDER / f"{safe_file_name(task_id)}.mp4"
