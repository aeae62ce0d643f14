"""Long speeches left unfinished, for the command line's `resume` and `status`.

A long speech's plan (`<data>/long_speeches/<key>/plan.json`, `jobs/long_voice.py`) keeps
what its parts are made with; its folder is deleted once the parts are joined. So a folder
with a plan is a speech not joined yet: `resume` makes what is missing of it (its parts'
jobs already followed by the studio's own resume) and joins it; `status KEY` says how far
each part got, and with `--wait` does the same as `resume` for that speech. A part whose
task failed is reported, not made again: making it again is paid, and only the person
asks for that (the same `generate` again).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

from avatar_core.catalogue import Message, sentence_for
from avatar_core.errors import AvatarError
from avatar_core.jobs.events import Failed, Progress
from avatar_core.jobs.long_text import LongTextRun, TextSpeech
from avatar_core.jobs.long_voice import PLAN_FILE, LongVoiceRun, part_key
from avatar_core.jobs.speech_join import join_once
from avatar_core.jobs.steps import video_stored
from avatar_core.jobs.studio import Studio
from avatar_core.storage.journal import Job, Stage
from avatar_core.storage.layout import LONG_SPEECH_FOLDER
from avatar_core.storage.videos import VIDEOS_FOLDER
from avatar_core.storage.visitors import Visitor
from avatar_core.units import format_seconds

SPEECH_KEY = re.compile(r"[0-9a-f]{20}")  # what `long_voice.speech_key` makes
MAX_PARTS = 1000  # more than any speech has (600 s in parts of at least 2 s)


def is_speech_key(text: str) -> bool:
    return SPEECH_KEY.fullmatch(text.strip()) is not None


def _folder(studio: Studio, key: str) -> Path:
    return studio.settings.data_dir / LONG_SPEECH_FOLDER / key


def joined_video(studio: Studio, key: str) -> Path:
    """Where the speech `key`'s video is, once joined."""
    return studio.settings.data_dir / VIDEOS_FOLDER / f"speech-{key}.mp4"


def _plan(studio: Studio, key: str) -> dict | None:
    """The speech's plan, when it was made by this studio's key (and mode: demo or not)."""
    try:
        plan = json.loads((_folder(studio, key) / PLAN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    request = plan.get("request") if isinstance(plan, dict) else None
    if not isinstance(request, dict):
        return None
    if request.get("owner") != studio.owner or bool(request.get("demo")) != studio.demo:
        return None
    return plan


def part_jobs(studio: Studio, key: str) -> list[Job]:
    """The journaled jobs of the speech `key`'s parts, in order (up to the first part
    never journaled)."""
    jobs = []
    for number in range(1, MAX_PARTS + 1):
        job = studio.journal.batch_job(part_key(key, number), owner=studio.owner)
        if job is None:
            break
        jobs.append(job)
    return jobs


def part_videos(studio: Studio, key: str) -> list[Path]:
    """The videos of the speech `key`'s parts that are home, in order."""
    return [Path(job.video_path or "") for job in part_jobs(studio, key) if video_stored(job)]


def run_of(studio: Studio, key: str, *, deadline_s: float | None = None) -> LongVoiceRun | None:
    """The run that finishes the speech `key` as it was asked for (None: no such speech
    of this studio's key); a failed part is reported, not made again."""
    plan = _plan(studio, key) if is_speech_key(key) else None
    if plan is None:
        return None
    asked = plan["request"]
    visitor = Visitor(asked.get("visitor"), address=asked.get("address"))
    if asked.get("kind") == "text":  # a long text: its groups' speech kept in the journal
        speech = TextSpeech(asked["text"], asked["voice_id"], asked.get("language"),
                            float(asked.get("speed", 1.0)))  # fmt: skip
        groups = [part["text"] for part in plan["parts"]]
        return LongTextRun(
            studio, asked["image"], speech, groups=groups, prompt=asked.get("prompt"),
            mode=asked.get("mode", "std"), deadline_s=deadline_s, visitor=visitor,
            remake_failed=False, key=key,
        )  # fmt: skip
    return LongVoiceRun(
        studio,
        asked["image"],
        Path(asked["voice"]),
        prompt=asked.get("prompt"),
        mode=asked.get("mode", "std"),
        shorten_pauses=bool(asked.get("shorten_pauses")),
        max_speech_s=float(asked.get("max_speech_s", studio.settings.max_speech_seconds)),
        deadline_s=deadline_s,
        visitor=visitor,
        remake_failed=False,
        key=key,
    )


def join_if_made(studio: Studio, key: str) -> Path | None:
    """The speech `key` joined when every part's video is home but the speech is not
    joined yet (a run stopped after its parts were sent): nothing sent, nothing paid, once
    (`speech_join.join_once`). Its video, or None when it cannot be joined yet (no plan
    of this studio's key, its speech as sent not written, a part not home)."""
    plan = _plan(studio, key) if is_speech_key(key) else None
    if plan is None:
        return None
    folder = _folder(studio, key)
    speech = folder / Path(str(plan.get("speech") or "")).name
    parts = plan.get("parts") or []
    if not plan.get("speech") or not speech.is_file() or not parts:
        return None  # a text not spoken whole yet: its run (or resume) goes on
    jobs = [studio.journal.batch_job(part_key(key, n), owner=studio.owner)
            for n in range(1, len(parts) + 1)]  # fmt: skip
    if not all(job is not None and video_stored(job) for job in jobs):
        return None
    videos = [Path(job.video_path or "") for job in jobs if job is not None]
    path, _ = join_once(
        videos, speech, joined_video(studio, key), folder=folder,
        seams=[float(seam) for seam in plan.get("seams") or []],
        audio_s=float(plan["seconds"]) if plan.get("seconds") else None,
    )  # fmt: skip
    return path


def unfinished_speeches(studio: Studio) -> list[str]:
    """The keys of this studio's speeches not joined yet, oldest first."""
    root = studio.settings.data_dir / LONG_SPEECH_FOLDER
    if not root.is_dir():
        return []
    folders = sorted(root.iterdir(), key=lambda folder: folder.stat().st_mtime)
    return [f.name for f in folders if is_speech_key(f.name) and _plan(studio, f.name)]


async def resume_speeches(
    studio: Studio, *, deadline_s: float | None = None
) -> AsyncIterator[Progress]:
    """Each unfinished speech made whole and joined, one after another; a speech that
    cannot be ends in a Failed event naming it (nothing is raised for one speech)."""
    for key in unfinished_speeches(studio):
        run = run_of(studio, key, deadline_s=deadline_s)
        if run is None:
            continue
        try:
            async for progress in run.run():
                yield progress
        except AvatarError as error:
            yield Failed(
                sentence_for("long.of_speech", key=key, sentence=error.message), error=error
            )


def speech_status(studio: Studio, key: str) -> list[Message] | None:
    """What a person reads of the speech `key`: made (its video), or each part's state;
    None when this studio's key has no such speech."""
    if not is_speech_key(key):
        return None
    joined = joined_video(studio, key)
    plan = _plan(studio, key)
    if plan is None:
        return (
            [sentence_for("long.status_joined", key=key, path=str(joined))]
            if joined.is_file()
            else None
        )
    parts = plan["parts"]
    lines, ready = [], 0
    for number, part in enumerate(parts, start=1):
        job = studio.journal.batch_job(part_key(key, number), owner=studio.owner)
        ready += job is not None and video_stored(job)
        state = _state(job)
        lines.append(
            sentence_for("long.status_part", number=number, count=len(parts), state=state,
                start=format_seconds(part["start"]), end=format_seconds(part["end"]))
        )  # fmt: skip
    head = sentence_for("long.status_head", key=key, ready=ready, count=len(parts))
    return [head, *lines, sentence_for("long.status_hint", key=key)]


def _state(job: Job | None) -> Message:
    if job is None:
        return sentence_for("long.state_not_sent")
    if video_stored(job):
        return sentence_for("long.state_ready")
    if job.stage in (Stage.FAILED, Stage.LOST):
        return sentence_for("long.state_failed", reason=job.error or job.stage.value)
    task = job.task_id or "-"
    return sentence_for("long.state_job", stage=job.stage.value, job_id=job.job_id, task_id=task)
