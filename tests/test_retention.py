"""The retention sweep (AVATAR_KEEP_DAYS) and the voices fetched from a web address: a
stranger may give the page's web-address box as many long voices as the limits allow, so
their copies age out like any speech file, unless an unfinished speech still needs one."""

from __future__ import annotations

import json
import os
import time

from avatar_core.storage.retention import DAY_S, delete_old_speech_files


def _fetched(data, name: str, days_old: float):
    folder = data / "long_speeches" / "fetched"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"ID3 a voice")
    then = time.time() - days_old * DAY_S
    os.utime(path, (then, then))
    return path


def test_old_fetched_voices_are_swept_but_not_one_an_unfinished_speech_is_made_of(tmp_path):
    data = tmp_path / "data"
    young = _fetched(data, "young", 2)
    old = _fetched(data, "old", 9)
    needed = _fetched(data, "needed", 9)
    unfinished = data / "long_speeches" / "speech-key"
    unfinished.mkdir()
    request = {"kind": "voice", "image": str(tmp_path / "face.jpg"), "voice": str(needed)}
    (unfinished / "plan.json").write_text(json.dumps({"request": request, "parts": []}))

    assert delete_old_speech_files(data, 0) == []  # 0 keeps them for ever
    assert delete_old_speech_files(data, 7) == [old]
    assert young.exists() and needed.exists() and not old.exists()
    (unfinished / "plan.json").unlink()  # joined: its folder's plan is gone
    assert delete_old_speech_files(data, 7) == [needed]
