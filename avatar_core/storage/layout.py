"""What the data folder holds, none of it to be served by path.

The journal (every prompt, task id, tag and signed provider link), the salt of the keyed
tags, the videos, the speech files, the inputs of jobs in line and the parts of long
voices. The app hands a video
out only as a copy, to a visitor who may see it; `private_paths` is what a web server must
refuse.
"""

from __future__ import annotations

from pathlib import Path

from avatar_core.storage.journal import JOURNAL_FILE
from avatar_core.storage.owners import SALT_FILE
from avatar_core.storage.speech_files import SPEECH_FOLDER
from avatar_core.storage.videos import VIDEOS_FOLDER

LINE_FOLDER = "line"  # the kept creates of jobs waiting in the line (jobs/kept_inputs)
LONG_SPEECH_FOLDER = "long_speeches"  # a long voice's speech, parts and join (jobs/long_voice)
LONG_SPEECH_PLAN = "plan.json"  # in a long speech's folder: its parts, while it is made
LONG_TEXT_FOLDER = "texts"  # under long_speeches/: each long text's groups' speech records
LONG_FETCHED_FOLDER = "fetched"  # under long_speeches/: voices fetched from a web address

PRIVATE_NAMES = (
    JOURNAL_FILE,
    JOURNAL_FILE + "-wal",
    JOURNAL_FILE + "-shm",
    SALT_FILE,
    VIDEOS_FOLDER,
    SPEECH_FOLDER,
    LINE_FOLDER,  # the inputs of jobs waiting in the line
    LONG_SPEECH_FOLDER,
)


def private_paths(data_dir: Path | str) -> list[str]:
    """Every file and folder of the data folder that holds something of someone's."""
    root = Path(data_dir).resolve()
    return [str(root / name) for name in PRIVATE_NAMES]
