"""Whose job is it: a keyed hash of the API key that made it, never the key itself.

Jobs made with a person's own pasted key are theirs alone: the history and lookups of
other sessions do not show them. The journal keeps only HMAC-SHA256(key) under a random
salt that lives in the data folder, so neither the journal nor a copy of it gives the key.
Visitors' ids are kept the same way (`visitors.py`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from avatar_core.catalogue import sentence_for
from avatar_core.errors import StorageError

SALT_FILE = "owner.salt"


def _salt(data_dir: Path) -> bytes:
    path = Path(data_dir) / SALT_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(secrets.token_bytes(32))
    except FileExistsError:  # another process made it first
        pass
    except OSError as exc:
        raise StorageError(
            sentence_for("data.not_writable", folder=path.parent, reason=exc.strerror)
        ) from None
    return path.read_bytes()


def keyed_tag(data_dir: Path, text: str) -> str:
    """A stable tag for `text` in this data folder; it does not reveal the text."""
    return hmac.new(_salt(data_dir), text.encode(), hashlib.sha256).hexdigest()[:32]


def owner_tag(data_dir: Path, key: str) -> str:
    """A stable tag for `key` in this data folder; it does not reveal the key."""
    return keyed_tag(data_dir, key)
