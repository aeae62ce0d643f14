"""A long speech as one entry of the History: its parts are jobs of their own in the
journal (`long_voice.py`: tagged `speech:<key>:<n>`), but a person asked for one video.

`one_entry_a_speech` turns the jobs of a History (newest first) into entries: every job
that is no part as it is, and in the place of a speech's newest part one `SpeechEntry`:
its joined video once it is made, else the state of its parts ("part 2 of 5 ready", or
which part failed and why). Its id (`speech-<key>`) is what `entry_of` finds it by again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from avatar_core.catalogue import Message, sentence_for
from avatar_core.jobs.steps import video_stored
from avatar_core.storage.journal import Job, Stage, speech_group
from avatar_core.storage.layout import LONG_SPEECH_FOLDER, LONG_SPEECH_PLAN
from avatar_core.storage.videos import VIDEOS_FOLDER

ENTRY_PREFIX = "speech-"  # a speech's entry id: speech-<key>
_MAKING = (Stage.CREATING, Stage.OUTCOME_UNKNOWN, Stage.RUNNING, Stage.DOWNLOADING)


@dataclass(frozen=True)
class SpeechEntry(Job):
    """A long speech as one job-like entry: `ready` of its `count` parts' videos home;
    `note` says so in a sentence (or which part failed and why); `parts`: their jobs (a
    History that asks the provider about unfinished jobs asks about these)."""

    ready: int = 0
    count: int = 0
    note: Message | None = None
    parts: tuple[Job, ...] = ()  # each part's newest job, in order


def one_entry_a_speech(jobs: list[Job], data_dir: Path) -> list[Job]:
    """`jobs` (newest first) with each long speech's parts as one `SpeechEntry`, in the
    place of its newest part."""
    parts: dict[str, dict[str, Job]] = {}
    order: list[Job | str] = []
    for job in jobs:
        group = speech_group(job.batch_key)
        if group is None:
            order.append(job)
            continue
        if group not in parts:
            parts[group] = {}
            order.append(group)
        parts[group].setdefault(job.batch_key or "", job)  # a part's newest job
    return [
        entry if isinstance(entry, Job) else _entry(entry, parts[entry], data_dir)
        for entry in order
    ]


def entry_of(jobs: list[Job], entry_id: str, data_dir: Path) -> Job | None:
    """The entry `entry_id` (a speech's) among the entries of `jobs` (None: none)."""
    for entry in one_entry_a_speech(jobs, data_dir):
        if entry.job_id == entry_id:
            return entry
    return None


def _count(data_dir: Path, key: str, seen: int) -> int:
    """How many parts the speech `key` has: its plan's, while it is being made."""
    try:
        plan = json.loads(
            (data_dir / LONG_SPEECH_FOLDER / key / LONG_SPEECH_PLAN).read_text(encoding="utf-8")
        )
        return max(len(plan["parts"]), seen)
    except (OSError, ValueError, KeyError, TypeError):
        return seen


def _number(job: Job) -> int:
    return int((job.batch_key or "0").rsplit(":", 1)[-1] or 0)


def _entry(group: str, latest: dict[str, Job], data_dir: Path) -> SpeechEntry:
    key = group.split(":", 1)[1]
    jobs = sorted(latest.values(), key=_number)
    count = _count(data_dir, key, max(_number(job) for job in jobs))
    ready = sum(video_stored(job) for job in jobs)
    joined = data_dir / VIDEOS_FOLDER / f"speech-{key}.mp4"
    newest = max(jobs, key=lambda job: job.updated_at)
    first = min(jobs, key=lambda job: job.created_at)
    seconds = sum(job.video_seconds or 0.0 for job in jobs) or None
    spoken = sum(job.audio_seconds or 0.0 for job in jobs) or None  # the whole speech's
    base = replace(
        first, job_id=ENTRY_PREFIX + key, batch_key=group, task_id=None, video_url=None,
        updated_at=newest.updated_at, error=None, video_seconds=seconds, video_path=None,
        audio_seconds=spoken,
    )  # fmt: skip
    failed = [job for job in jobs if job.stage.is_finished and not video_stored(job)]
    if joined.is_file():
        stage, note, path = Stage.DONE, sentence_for("long.entry_done", count=count), joined
    elif failed and not any(job.stage in _MAKING for job in jobs):
        part = failed[0]
        reason = part.error or sentence_for("long.part_unfinished")
        note = sentence_for("long.entry_failed", number=_number(part), count=count,
                            reason=reason)  # fmt: skip
        stage, path = Stage.FAILED, None
    else:
        making = any(job.stage in _MAKING for job in jobs) or ready
        stage = Stage.RUNNING if making else Stage.QUEUED
        note = sentence_for("long.entry_making", ready=ready, count=count)
        path = None
    entry = SpeechEntry(
        **{name: getattr(base, name) for name in Job.__dataclass_fields__},
        ready=ready, count=count, note=note, parts=tuple(jobs),
    )  # fmt: skip
    changes = {"stage": stage, "video_path": str(path) if path else None}
    if stage is Stage.FAILED:
        changes["error"] = note
    return replace(entry, **changes)
