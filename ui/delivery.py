"""How a video or a speech file reaches the page or an API caller: as a copy in Gradio's
upload folder, in a folder of its own with an unguessable name.

The data folder is never served (launch() is given none of it and blocks what it holds),
so a file of it is handed out only by a handler that has checked the visitor may see it.
Gradio's scheduled cleaning (`delete_cache`) removes the copies after a while.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from gradio.utils import get_upload_folder

from avatar_core.errors import StorageError

COPY_PREFIX = "shown-"


def page_copy(path: str | Path) -> str:
    """A copy of `path` for the page, same file name, under an unguessable folder.

    Raises StorageError when the file is gone or the upload folder cannot be written.
    """
    source = Path(path)
    folder = Path(get_upload_folder()) / f"{COPY_PREFIX}{secrets.token_hex(16)}"
    target = folder / source.name
    try:
        folder.mkdir(parents=True, exist_ok=False)
        try:
            os.link(source, target)  # the same disk: no bytes copied
        except OSError:
            shutil.copyfile(source, target)
    except OSError as exc:
        raise StorageError(
            f"The file {source.name} could not be handed out ({exc.strerror}): look the task "
            "up again, and make sure the disk of Gradio's upload folder has room."
        ) from None
    return str(target)
