"""Where ffmpeg comes from, chosen in one place, and how it is run.

A system ffmpeg wins when there is one (Hugging Face Spaces images have it); otherwise the
static binary inside the `imageio-ffmpeg` wheel. Nothing here needs ffprobe.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from avatar_core.catalogue import sentence_for
from avatar_core.errors import MediaToolError

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
        raise MediaToolError(sentence_for("ffmpeg.missing")) from exc
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
        raise MediaToolError(sentence_for("ffmpeg.timeout", seconds=timeout)) from exc
    except OSError as exc:
        raise MediaToolError(sentence_for("ffmpeg.not_started", reason=exc.strerror)) from exc


class StreamedRun:
    """A running ffmpeg whose output is read as it comes (`output`), so what it decodes is
    never held whole; its messages go to a file. `returncode` once the `with` is over."""

    def __init__(self, output: IO[bytes], log: Path) -> None:
        self.output = output
        self.log = log
        self.returncode: int | None = None

    def log_text(self) -> str:
        try:
            return self.log.read_bytes().decode("utf-8", "replace")
        except OSError:
            return ""


@contextlib.contextmanager
def stream_ffmpeg(
    args: Sequence[str], *, log: Path, timeout: float = DEFAULT_TIMEOUT_S
) -> Iterator[StreamedRun]:
    """Run ffmpeg with `args`, its output a pipe read through the yielded run, its messages
    (at ffmpeg's `-v` level given in `args`) written to `log`.

    Leaving the `with` on an error stops ffmpeg. Raises MediaToolError when ffmpeg cannot run at
    all or runs longer than `timeout` (it is then stopped).
    """
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", *args]
    with log.open("wb") as messages:
        try:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=messages
            )
        except OSError as exc:
            raise MediaToolError(sentence_for("ffmpeg.not_started", reason=exc.strerror)) from exc
        expired = threading.Event()

        def stop_late() -> None:
            expired.set()
            process.kill()

        timer = threading.Timer(timeout, stop_late)
        timer.daemon = True
        timer.start()
        run = StreamedRun(process.stdout, log)  # type: ignore[arg-type]  # a pipe was asked
        try:
            yield run
        except BaseException:
            process.kill()
            raise
        finally:
            process.stdout.close()  # type: ignore[union-attr]  # unread output ends it too
            run.returncode = process.wait()  # (the timer still stops it when late)
            timer.cancel()
    if expired.is_set():
        raise MediaToolError(sentence_for("ffmpeg.timeout", seconds=timeout))


def run_ffmpeg_files(args: Sequence[str], *, timeout: float, failed: str) -> None:
    """Run ffmpeg with `args` that read and write files: nothing comes through a pipe, so
    nothing of the media is held here, and its messages go to a temporary file. Raises
    MediaToolError with the catalogued sentence `failed` (given `reason`) when it fails."""
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", *args]
    with tempfile.TemporaryFile() as errors:
        try:
            done = subprocess.run(command, stderr=errors, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise MediaToolError(sentence_for("ffmpeg.timeout", seconds=timeout)) from exc
        except OSError as exc:
            raise MediaToolError(sentence_for("ffmpeg.not_started", reason=exc.strerror)) from exc
        if done.returncode != 0:
            errors.seek(0)
            reason = errors.read().decode("utf-8", "replace").strip().splitlines()[-1:]
            raise MediaToolError(sentence_for(failed, reason=" ".join(reason)))
