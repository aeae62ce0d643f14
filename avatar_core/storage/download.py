"""The one size-capped streaming download, into memory or atomically into a file.

Input URLs, finished videos and speech previews all come through here. The body is
streamed under a size cap (the declared length is checked before anything is read), an
optional deadline, and a check that all the declared bytes came. A file is written to a
temporary name beside its destination, synced, and renamed into place only when whole,
so a reader never sees half a file.

Failures are left as they are for the caller to put in its own words:
httpx.HTTPStatusError for an answer other than 200 (redirects included: follow them by
hand, or let the client do it), other httpx errors for the transport, TooLarge, TooSlow,
and OSError for the file.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

CHUNK_BYTES = 1 << 16
HEAD_BYTES = 16  # what a file check gets to see of the start of the body


class TooLarge(Exception):
    """The body is over the cap of `limit` bytes. `declared` is the length the server
    announced, or None when the stream itself ran past the cap."""

    def __init__(self, limit: int, declared: int | None = None) -> None:
        super().__init__(f"over the cap of {limit} bytes (declared: {declared})")
        self.limit = limit
        self.declared = declared


class TooSlow(Exception):
    """The deadline passed while the body was still arriving."""


def _declared_length(response: httpx.Response) -> int | None:
    declared = response.headers.get("content-length", "").strip()
    return int(declared) if declared.isdigit() else None


@contextlib.contextmanager
def _opened(
    client: httpx.Client,
    url: httpx.URL | str,
    max_bytes: int,
    headers: dict[str, str] | None,
    extensions: dict[str, str] | None,
) -> Iterator[httpx.Response]:
    """The streamed answer, once it is known to be a 200 within the cap."""
    with client.stream("GET", url, headers=headers, extensions=extensions) as response:
        if response.status_code != 200:
            raise httpx.HTTPStatusError(
                f"HTTP {response.status_code}", request=response.request, response=response
            )
        declared = _declared_length(response)
        if declared is not None and declared > max_bytes:
            raise TooLarge(max_bytes, declared)
        yield response


def _chunks(response: httpx.Response, max_bytes: int, deadline: float | None) -> Iterator[bytes]:
    """The body, piece by piece, under the cap and the deadline; all of it or an error."""
    received = 0
    for chunk in response.iter_bytes(CHUNK_BYTES):
        received += len(chunk)
        if received > max_bytes:
            raise TooLarge(max_bytes)
        if deadline is not None and time.monotonic() > deadline:
            raise TooSlow()
        yield chunk
    declared = _declared_length(response)
    if declared is not None and response.num_bytes_downloaded < declared:
        raise httpx.ReadError(f"got {response.num_bytes_downloaded} of {declared} bytes")


def fetch_bytes(
    client: httpx.Client,
    url: httpx.URL | str,
    *,
    max_bytes: int,
    deadline: float | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, str] | None = None,
) -> bytes:
    """The body at `url`, at most `max_bytes`, all of it before `deadline` (monotonic)."""
    with _opened(client, url, max_bytes, headers, extensions) as response:
        return b"".join(_chunks(response, max_bytes, deadline))


def fetch_to_file(
    client: httpx.Client,
    url: str,
    destination: Path,
    *,
    max_bytes: int,
    check_head: Callable[[bytes], None] | None = None,
) -> Path:
    """Stream `url` into `destination` (its folder made if needed); returns the path.

    `check_head` sees the first bytes once the body is whole and raises to refuse it.
    Nothing is left behind when anything fails.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    with _opened(client, url, max_bytes, None, None) as response:
        fd, temp_name = tempfile.mkstemp(prefix=".part-", dir=destination.parent)
        try:
            head = b""
            with os.fdopen(fd, "wb") as out:
                for chunk in _chunks(response, max_bytes, None):
                    if len(head) < HEAD_BYTES:
                        head += chunk[:HEAD_BYTES]
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if check_head is not None:
                check_head(head)
            os.replace(temp_name, destination)
            return destination
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)


_UNSAFE_IN_NAMES = re.compile(r"[^A-Za-z0-9_.-]")


def safe_file_name(text: str) -> str:
    """`text` as a file name in the data folder: anything but letters, digits, `_.-` is `_`."""
    return _UNSAFE_IN_NAMES.sub("_", text)
