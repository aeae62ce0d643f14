"""Where ffmpeg comes from, chosen in one place, and how it is run.

A system ffmpeg wins when there is one (Hugging Face Spaces images have it); otherwise the
static binary inside the `imageio-ffmpeg` wheel. Nothing here needs ffprobe.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from collections.abc import Sequence

from avatar_core.errors import MediaToolError
from avatar_core.words import say

DEFAULT_TIMEOUT_S = 120.0


@functools.cache
def ffmpeg_exe() -> str:
    """The path of the ffmpeg binary to use."""
    system = shutil.which("ffmpeg")
    if system:
        return system
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - it is in requirements.txt
        raise MediaToolError(say("ffmpeg.missing")) from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(
    args: Sequence[str], *, input_bytes: bytes | None = None, timeout: float = DEFAULT_TIMEOUT_S
) -> subprocess.CompletedProcess[bytes]:
    """Run ffmpeg quietly with `args`; returns the finished process (check returncode).

    Raises MediaToolError only when ffmpeg cannot run at all or takes too long.
    """
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", *args]
    try:
        return subprocess.run(
            command,
            input=input_bytes,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise MediaToolError(say("ffmpeg.timeout", seconds=timeout)) from exc
    except OSError as exc:
        raise MediaToolError(say("ffmpeg.not_started", reason=exc.strerror)) from exc


def run_ffmpeg_files(args: Sequence[str], *, timeout: float, failed: str) -> None:
    """Run ffmpeg with `args` that read and write files: nothing comes through a pipe, so
    nothing of the media is held here, and its messages go to a temporary file. Raises
    MediaToolError with the catalogued sentence `failed` (given `reason`) when it fails."""
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", *args]
    with tempfile.TemporaryFile() as errors:
        try:
            done = subprocess.run(command, stderr=errors, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise MediaToolError(say("ffmpeg.timeout", seconds=timeout)) from exc
        except OSError as exc:
            raise MediaToolError(say("ffmpeg.not_started", reason=exc.strerror)) from exc
        if done.returncode != 0:
            errors.seek(0)
            reason = errors.read().decode("utf-8", "replace").strip().splitlines()[-1:]
            raise MediaToolError(say(failed, reason=" ".join(reason)))
