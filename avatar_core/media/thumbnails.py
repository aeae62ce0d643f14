"""A finished video's first frame, small, for a list of jobs: `<video>.jpg` beside it.

Made once, the first time it is asked for, and kept in the videos folder (never served by
path, like the video). Any failure gives None: a list shows a job without its picture.
Two Histories shown at once may make the same picture: each writes its own partial file
and moves it into place whole.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from PIL import Image

from avatar_core.errors import MediaToolError
from avatar_core.inputs.ffmpeg import run_ffmpeg
from avatar_core.storage.videos import VIDEOS_FOLDER

THUMBNAIL_WIDTH = 240


def first_frame(video: Path | str) -> Path | None:
    """The small JPEG of `video`'s first frame (made now if missing); None if it cannot be."""
    video = Path(video)
    picture = video.with_suffix(".jpg")
    if picture.is_file():
        return picture
    if not video.is_file():
        return None
    partial = picture.with_name(f"{picture.name}.{secrets.token_hex(6)}.partial.jpg")  # one a call
    scale = f"scale={THUMBNAIL_WIDTH}:-2"
    try:
        done = run_ffmpeg(["-y", "-i", str(video), "-frames:v", "1", "-vf", scale, str(partial)])
    except MediaToolError:
        return None
    if done.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        return None
    partial.replace(picture)
    return picture


def blank_picture(data_dir: Path | str) -> Path:
    """A plain picture for a job without a video yet (made once, in the videos folder)."""
    picture = Path(data_dir) / VIDEOS_FOLDER / "no-video.png"
    if not picture.is_file():
        picture.parent.mkdir(parents=True, exist_ok=True)
        partial = picture.with_name(f"no-video.{secrets.token_hex(6)}.partial.png")  # one a call
        Image.new("RGB", (THUMBNAIL_WIDTH, THUMBNAIL_WIDTH), (226, 228, 236)).save(partial)
        partial.replace(picture)
    return picture
