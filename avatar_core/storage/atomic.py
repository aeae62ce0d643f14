"""Files written whole or not at all: a crash or a full disk leaves the old file (or none)
beside a `.partial` leftover at worst, never half a file under the real name."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


def write_atomically(
    path: Path, text: str | None = None, *, copy_from: Path | None = None, private: bool = False
) -> None:
    """`text` (or the bytes of `copy_from`) into `path`, replacing it at once; readable by
    its owner only when `private`. OSError is the caller's to put in words."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        if copy_from is not None:
            with os.fdopen(fd, "wb") as out, copy_from.open("rb") as source:
                shutil.copyfileobj(source, out)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                out.write(text or "")
        if not private:
            os.chmod(temp, 0o644)  # mkstemp makes it 0600
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
