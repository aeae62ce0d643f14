"""Reading an input that is bytes, a local path, or an http(s) URL, under a size cap.

A local path is read only when it names a regular file: a folder, a device, a named pipe
or a socket is refused from its metadata, before it is opened. Where strangers type the
sources (the app), `require_web_address` keeps text to http(s) addresses: a path typed
into a URL box is refused with the same sentence whatever it names, so the answer says
nothing about the server's files.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from avatar_core.catalogue import Message, sentence_for
from avatar_core.errors import InputError
from avatar_core.inputs.text import check_text, shown
from avatar_core.inputs.url_fetch import fetch_url, redact_url
from avatar_core.units import format_bytes

Source = str | os.PathLike | bytes | bytearray | memoryview

_URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_WEB_ADDRESS = re.compile(r"^https?://", re.IGNORECASE)
DEFAULT_URL_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class SourceBytes:
    """The bytes of an input, and how to name it in a sentence."""

    data: bytes
    label: str  # "'photo.png'", "https://host/path" or "" for raw bytes


def looks_like_url(source: object) -> bool:
    """A string with a scheme (`https://`, `ftp://`, `file://`) is a URL, never a path."""
    return isinstance(source, str) and bool(_URL_LIKE.match(source.strip()))


def require_web_address(source: Source, *, what: str) -> Source:
    """`source` itself when a stranger may give it: bytes, a file the app received itself
    (a `Path`), or text that is an http(s) address. Any other text is refused without
    being looked at, in the same sentence whatever it names."""
    if isinstance(source, str) and not _WEB_ADDRESS.match(source.strip()):
        raise InputError(sentence_for("source.not_web_address", what=what), field=what)
    return source


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
        text = check_text(str(source).strip(), what=f"{what} link", field=what)
        data = fetch_url(
            text, max_bytes=max_bytes, timeout=timeout, allow_private=allow_private_urls, what=what
        )
        label = redact_url(text)
    elif isinstance(source, (str, os.PathLike)):
        data, label = _read_file(Path(os.fspath(source)).expanduser(), what, max_bytes)
    else:
        raise InputError(
            sentence_for("source.wrong_type", what=what, type=type(source).__name__), field=what
        )
    if not data:
        where = f" {label}" if label else ""
        raise InputError(sentence_for("source.empty", what=what, where=where), field=what)
    if len(data) > max_bytes:
        raise InputError(
            sentence_for(
                "source.too_large",
                what=what,
                size=format_bytes(len(data)),
                maximum=format_bytes(max_bytes),
            ),
            field=what,
        )
    return SourceBytes(data, label)


def _not_a_file(mode: int) -> Message | None:
    """What a path that is not a regular file names ("a folder", "a device", ...)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return sentence_for("source.folder")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return sentence_for("source.device")
    if stat.S_ISFIFO(mode):
        return sentence_for("source.fifo")
    if stat.S_ISSOCK(mode):
        return sentence_for("source.socket")
    return sentence_for("source.other")


def _refuse_unless_regular(mode: int, what: str, label: str) -> None:
    kind = _not_a_file(mode)
    if kind is not None:
        raise InputError(
            sentence_for("source.not_regular", what=what, label=label, kind=kind), field=what
        )


def _read_file(path: Path, what: str, max_bytes: int) -> tuple[bytes, str]:
    label = f"'{shown(path.name)}'"
    if not str(path).strip():
        raise InputError(sentence_for("source.none", what=what), field=what)
    if "\x00" in str(path):
        raise InputError(sentence_for("source.nul_in_path", what=what), field=what)
    try:
        info = path.stat()
        _refuse_unless_regular(info.st_mode, what, label)
        if info.st_size > max_bytes:
            size, most = format_bytes(info.st_size), format_bytes(max_bytes)
            raise InputError(
                sentence_for(
                    "source.file_too_large", what=what, label=label, size=size, maximum=most
                ),
                field=what,
            )
        # Non-blocking, then checked again: a file swapped for a pipe since is not waited on.
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:
            _refuse_unless_regular(os.fstat(handle.fileno()).st_mode, what, label)
            data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:  # a file that grew while it was read
            raise InputError(
                sentence_for(
                    "source.file_grew", what=what, label=label, maximum=format_bytes(max_bytes)
                ),
                field=what,
            )
    except FileNotFoundError as exc:
        raise InputError(
            sentence_for("source.not_found", what=what, label=label), field=what
        ) from exc
    except PermissionError as exc:
        raise InputError(
            sentence_for("source.permission", what=what, label=label), field=what
        ) from exc
    except OSError as exc:
        raise InputError(
            sentence_for(
                "source.unreadable",
                what=what,
                label=label,
                reason=exc.strerror or sentence_for("source.io_error"),
            ),
            field=what,
        ) from exc
    return data, label
