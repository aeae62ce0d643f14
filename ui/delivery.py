"""How a video or a speech file reaches the page or an API caller: as a copy in Gradio's
upload folder, in a folder of its own with an unguessable name.

The data folder is never served (launch() is given none of it and blocks what it holds),
so a file of it is handed out only by a handler that has checked the visitor may see it.
On the same disk the copy is a hard link (no bytes copied), a new one each time. On
another disk (Spaces' /data) the file is copied once and that copy handed out again at
each view, under a folder named by a keyed digest of the file (unguessable without this
process's secret), so viewing a video a hundred times does not copy it a hundred times.
Gradio's scheduled cleaning (`delete_cache`) removes the copies after a while; a copy
handed out again has its time renewed first.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import shutil
from pathlib import Path

from gradio.utils import get_upload_folder

from avatar_core.catalogue import sentence_for
from avatar_core.errors import StorageError

COPY_PREFIX = "shown-"
_SECRET = secrets.token_bytes(32)  # names the one copy of a file from another disk


def page_copy(path: str | Path) -> str:
    """A copy of `path` for the page, same file name, under an unguessable folder.

    Raises StorageError when the file is gone or the upload folder cannot be written.
    """
    source = Path(path)
    try:
        return _linked(source) or _copied_once(source)
    except OSError as exc:
        failed = sentence_for("page:copy_failed", name=source.name, reason=exc.strerror)
        raise StorageError(failed) from None


def download_copy(path: str | Path, name: str) -> str | None:
    """A copy of `path` named `name` (what a browser saves it as), under an unguessable
    folder: a hard link, or a copy across disks. None when it cannot be made (the file is
    gone, the disk is full): the page then offers no Download button, the video stays."""
    source = Path(path)
    try:
        linked = _linked(source, name)
        if linked is not None:
            return linked
        folder = Path(get_upload_folder()) / f"{COPY_PREFIX}{secrets.token_hex(16)}"
        folder.mkdir(parents=True, exist_ok=False)
        shutil.copyfile(source, folder / name)
        return str(folder / name)
    except OSError:
        return None


def _linked(source: Path, name: str | None = None) -> str | None:
    """A hard link to `source` (named `name`, else as it is) in a new unguessable folder;
    None across disks."""
    folder = Path(get_upload_folder()) / f"{COPY_PREFIX}{secrets.token_hex(16)}"
    folder.mkdir(parents=True, exist_ok=False)
    target = folder / (name or source.name)
    try:
        os.link(source, target)  # the same disk: no bytes copied
    except OSError:
        folder.rmdir()
        if not source.is_file():
            raise
        return None
    return str(target)


def _copied_once(source: Path) -> str:
    """The one copy of `source` (from another disk): made the first time, then handed out
    again, its time renewed so that the cache cleaning counts from this view."""
    found = source.stat()
    name = f"{source.resolve()}\0{found.st_size}\0{found.st_mtime_ns}".encode()
    digest = hmac.new(_SECRET, name, hashlib.sha256).hexdigest()[:32]
    folder = Path(get_upload_folder()) / f"{COPY_PREFIX}{digest}"
    target = folder / source.name
    if target.is_file() and target.stat().st_size == found.st_size:
        os.utime(target)
        return str(target)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{secrets.token_hex(8)}.partial"
    try:
        shutil.copyfile(source, partial)
        os.replace(partial, target)  # two views at once: the last whole copy wins
    finally:
        partial.unlink(missing_ok=True)
    return str(target)
