"""Reading an input that is bytes, a local path, or an http(s) URL, under a size cap."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from avatar_core.errors import InputError
from avatar_core.inputs.url_fetch import fetch_url, redact_url
from avatar_core.units import format_bytes

Source = str | os.PathLike | bytes | bytearray | memoryview

_URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
DEFAULT_URL_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class SourceBytes:
    """The bytes of an input, and how to name it in a sentence."""

    data: bytes
    label: str  # "'photo.png'", "https://host/path" or "" for raw bytes


def looks_like_url(source: object) -> bool:
    """A string with a scheme (`https://`, `ftp://`, `file://`) is a URL, never a path."""
    return isinstance(source, str) and bool(_URL_LIKE.match(source.strip()))


def read_source(
    source: Source,
    *,
    what: str,
    max_bytes: int,
    allow_private_urls: bool = False,
    timeout: float = DEFAULT_URL_TIMEOUT_S,
) -> SourceBytes:
    """The bytes of `source`; InputError when it is missing, empty, unreadable or too large."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, label = bytes(source), ""
    elif looks_like_url(source):
        text = str(source).strip()
        data = fetch_url(
            text, max_bytes=max_bytes, timeout=timeout, allow_private=allow_private_urls, what=what
        )
        label = redact_url(text)
    elif isinstance(source, (str, os.PathLike)):
        data, label = _read_file(Path(os.fspath(source)).expanduser(), what, max_bytes)
    else:
        raise InputError(
            f"The {what} is a {type(source).__name__}; give a file path, an http(s) URL "
            "or the file's bytes.",
            field=what,
        )
    if not data:
        where = f" {label}" if label else ""
        raise InputError(
            f"The {what}{where} is empty (0 bytes); choose another file.",
            field=what,
        )
    if len(data) > max_bytes:
        raise InputError(
            f"The {what} is {format_bytes(len(data))}; the most this app reads is "
            f"{format_bytes(max_bytes)}: use a smaller file.",
            field=what,
        )
    return SourceBytes(data, label)


def _read_file(path: Path, what: str, max_bytes: int) -> tuple[bytes, str]:
    label = f"'{path.name}'"
    if not str(path).strip():
        raise InputError(f"No {what} was given; choose a file.", field=what)
    try:
        if path.is_dir():
            raise InputError(
                f"The {what} {label} is a folder, not a file; choose a file.", field=what
            )
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(
                f"The {what} file {label} is {format_bytes(size)}; the most this app reads is "
                f"{format_bytes(max_bytes)}: use a smaller file.",
                field=what,
            )
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:  # a device or a growing file: its size said nothing
            raise InputError(
                f"The {what} file {label} is more than {format_bytes(max_bytes)}; the most this "
                f"app reads is {format_bytes(max_bytes)}: use a smaller file.",
                field=what,
            )
    except FileNotFoundError as exc:
        raise InputError(
            f"The {what} file {label} was not found; check the path.", field=what
        ) from exc
    except PermissionError as exc:
        raise InputError(
            f"The {what} file {label} cannot be read (permission denied); check its permissions.",
            field=what,
        ) from exc
    except OSError as exc:
        raise InputError(
            f"The {what} file {label} cannot be read ({exc.strerror or 'input/output error'}); "
            "check the path.",
            field=what,
        ) from exc
    return data, label
