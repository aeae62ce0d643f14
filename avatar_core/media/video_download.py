"""Bringing a finished video from the provider's link into the data folder
(`storage/videos.py` says where: `<data_dir>/videos/<task_id>.mp4`).

Provider links expire, so the video is copied as soon as the task succeeds, through the
one capped downloader (size-capped, whole, checked to be an MP4, renamed into place
atomically), retried by the one retry decision. The API key is never sent along (result
links point at a CDN, not at the API).
"""

from __future__ import annotations

import errno
from dataclasses import replace
from pathlib import Path

import httpx

from avatar_core.catalogue import sentence_for
from avatar_core.clock import SYSTEM, Clock
from avatar_core.errors import ResultDownloadError, StorageError, VideoLinkGoneError
from avatar_core.provider.retry import RetryPolicy, with_retries
from avatar_core.storage.download import TooLarge, fetch_to_file
from avatar_core.timeouts import DEFAULT_HTTP_TIMEOUT_S

MAX_VIDEO_BYTES = 500 * 1024 * 1024


def looks_like_mp4(head: bytes) -> bool:
    """An ISO media file starts with a box whose type is `ftyp` (or, rarely, another box)."""
    return len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide")


def _must_be_mp4(head: bytes) -> None:
    if not looks_like_mp4(head):
        raise ResultDownloadError(sentence_for("video.not_mp4"))


def download_video(
    url: str,
    destination: Path,
    *,
    http: httpx.Client | None = None,
    retry: RetryPolicy | None = None,
    clock: Clock = SYSTEM,
    max_bytes: int = MAX_VIDEO_BYTES,
    timeout: float = DEFAULT_HTTP_TIMEOUT_S,
    fresh_link: bool = False,
) -> Path:
    """Download `url` to `destination` (atomically); returns the path.

    `timeout` is how long the provider may take to answer (Settings.http_timeout_s); the
    wait for the next piece of the file is twice that, since a CDN may pause longer. A link
    handed out just now (`fresh_link`) is also retried on 403 and 404: the storage behind
    it may lag the task's success. A link that keeps refusing raises VideoLinkGoneError.
    """
    if not url.lower().startswith(("http://", "https://")):
        raise ResultDownloadError(sentence_for("video.not_http", scheme=url.split(":", 1)[0]))
    destination = Path(destination)
    wait = 2 * timeout
    client = http or httpx.Client(
        timeout=httpx.Timeout(wait, connect=min(10.0, wait)), follow_redirects=True
    )
    try:
        return with_retries(
            lambda: fetch_to_file(
                client, url, destination, max_bytes=max_bytes, check_head=_must_be_mp4
            ),
            policy=replace(retry or RetryPolicy(), fresh_link=fresh_link),
            clock=clock,
            what="video download",
        )
    except httpx.HTTPError as exc:
        raise _download_error(exc) from None
    except TooLarge as exc:
        raise _too_large(exc) from None
    except OSError as exc:
        raise _storage_error(exc, destination.parent) from None
    finally:
        if http is None:
            client.close()


def _too_large(exc: TooLarge) -> ResultDownloadError:
    limit = f"{exc.limit / 1e6:.0f} MB"
    if exc.declared is not None:
        return ResultDownloadError(
            sentence_for(
                "video.declared_too_large", size=f"{exc.declared / 1e6:.0f} MB", limit=limit
            )
        )
    return ResultDownloadError(sentence_for("video.too_large", limit=limit))


def _download_error(exc: httpx.HTTPError) -> ResultDownloadError:
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        if status in (401, 403, 404, 410):
            return VideoLinkGoneError(sentence_for("video.link_gone", status=status), status=status)
        return ResultDownloadError(sentence_for("video.http_status", status=status))
    if isinstance(exc, httpx.TimeoutException):
        return ResultDownloadError(sentence_for("video.stalled"))
    return ResultDownloadError(sentence_for("video.broke_off"))


def _storage_error(exc: OSError, folder: Path) -> StorageError:
    """One sentence for a video that could not be written: what happened, what to do."""
    again = sentence_for("video.look_again")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageError(sentence_for("video.disk_full", folder=folder, again=again))
    if exc.errno == errno.EFBIG:
        return StorageError(sentence_for("video.file_size_limit", folder=folder, again=again))
    return StorageError(
        sentence_for("video.not_written", folder=folder, reason=exc.strerror or exc, again=again)
    )
