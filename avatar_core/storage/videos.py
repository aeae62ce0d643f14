"""Bringing finished videos home: `<data_dir>/videos/<task_id>.mp4`.

Provider links expire, so the video is copied as soon as the task succeeds: streamed to a
temporary file, size-capped, checked to be an MP4, then renamed into place atomically. The
API key is never sent along (result links point at a CDN, not at the API).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from avatar_core.config import DEFAULT_HTTP_TIMEOUT_S
from avatar_core.errors import ResultDownloadError, StorageError
from avatar_core.provider.protocol import retry_after_seconds
from avatar_core.provider.retry import RETRY_STATUSES, RetryPolicy

log = logging.getLogger(__name__)

MAX_VIDEO_BYTES = 500 * 1024 * 1024
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def video_path(data_dir: Path, task_id: str) -> Path:
    return Path(data_dir) / "videos" / f"{_SAFE_NAME.sub('_', task_id)}.mp4"


def looks_like_mp4(head: bytes) -> bool:
    """An ISO media file starts with a box whose type is `ftyp` (or, rarely, another box)."""
    return len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide")


def _is_transient(exc: Exception) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    return isinstance(exc, _HTTPStatus) and exc.status in RETRY_STATUSES


class _HTTPStatus(Exception):
    def __init__(self, status: int, retry_after: float | None) -> None:
        self.status, self.retry_after = status, retry_after


def download_video(
    url: str,
    destination: Path,
    *,
    http: httpx.Client | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_bytes: int = MAX_VIDEO_BYTES,
    timeout: float = DEFAULT_HTTP_TIMEOUT_S,
) -> Path:
    """Download `url` to `destination` (atomically); returns the path.

    `timeout` is how long the provider may take to answer (Settings.http_timeout_s); the
    wait for the next piece of the file is twice that, since a CDN may pause longer.
    """
    if not url.lower().startswith(("http://", "https://")):
        raise ResultDownloadError(
            f"The provider's video link is not http(s) ({url.split(':', 1)[0]}:): it was not "
            "downloaded."
        )
    policy = retry or RetryPolicy()
    own_client = http is None
    wait = 2 * timeout
    client = http or httpx.Client(
        timeout=httpx.Timeout(wait, connect=min(10.0, wait)), follow_redirects=True
    )
    try:
        for number in range(1, policy.attempts + 1):
            try:
                return _download_once(client, url, Path(destination), max_bytes)
            except (httpx.TransportError, _HTTPStatus) as exc:
                if not _is_transient(exc) or number == policy.attempts:
                    raise _download_error(exc) from None
                wait = policy.delay(number, getattr(exc, "retry_after", None))
                log.info("video download: %s; retry %d in %.1f s", type(exc).__name__, number, wait)
                sleep(wait)
        raise AssertionError("unreachable")
    finally:
        if own_client:
            client.close()


def _download_error(exc: Exception) -> ResultDownloadError:
    if isinstance(exc, _HTTPStatus):
        if exc.status in (401, 403, 404, 410):
            return ResultDownloadError(
                f"The provider's video link no longer works (HTTP {exc.status}; links expire): "
                "look the task up again to get a fresh link."
            )
        return ResultDownloadError(
            f"The video could not be downloaded (HTTP {exc.status}): try the lookup again later."
        )
    if isinstance(exc, httpx.TimeoutException):
        return ResultDownloadError(
            "The video download stalled (nothing arrived for too long): try the lookup again later."
        )
    return ResultDownloadError(
        "The video download broke off before the end of the file (the connection closed): try "
        "the lookup again later."
    )


def _storage_error(exc: OSError, folder: Path) -> StorageError:
    """One sentence for a video that could not be written: what happened, what to do."""
    again = "then look the task up again to download its video"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageError(f"The disk holding {folder} is full: free some space, {again}.")
    if exc.errno == errno.EFBIG:
        return StorageError(
            f"The video is larger than this system lets the app write to {folder} (a file size "
            f"limit, such as ulimit -f): raise the limit, {again}."
        )
    return StorageError(
        f"The video could not be written to {folder} ({exc.strerror or exc}): check that the "
        f"data folder is writable (AVATAR_DATA_DIR), {again}."
    )


def _download_once(client: httpx.Client, url: str, destination: Path, max_bytes: int) -> Path:
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _storage_error(exc, destination.parent) from None
    with client.stream("GET", url) as response:
        if response.status_code != 200:
            raise _HTTPStatus(response.status_code, retry_after_seconds(response.headers))
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise ResultDownloadError(
                f"The video is {int(declared) / 1e6:.0f} MB, over this app's limit of "
                f"{max_bytes / 1e6:.0f} MB: it was not downloaded."
            )
        try:
            fd, temp_name = tempfile.mkstemp(prefix=".part-", dir=destination.parent)
        except OSError as exc:
            raise _storage_error(exc, destination.parent) from None
        try:
            received = 0
            head = b""
            with os.fdopen(fd, "wb") as out:
                for chunk in response.iter_bytes(1 << 16):
                    received += len(chunk)
                    if received > max_bytes:
                        raise ResultDownloadError(
                            f"The video is over this app's limit of {max_bytes / 1e6:.0f} MB: "
                            "it was not kept."
                        )
                    if len(head) < 16:
                        head += chunk[:16]
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if declared and declared.isdigit() and received != int(declared):
                raise httpx.ReadError(f"got {received} of {declared} bytes")
            if not looks_like_mp4(head):
                raise ResultDownloadError(
                    "The provider's video link gave something that is not an MP4 video: try the "
                    "lookup again later."
                )
            os.replace(temp_name, destination)
            return destination
        except OSError as exc:
            raise _storage_error(exc, destination.parent) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
