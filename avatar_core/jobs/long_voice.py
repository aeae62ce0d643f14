"""A voice longer than the provider's part limit made into one video, for the operator.

The command line's `generate` of a local voice file longer than a task takes
(`ProviderProfile.max_part_seconds`) runs here instead of one job:

1. the voice is made ready (`inputs/long_speech.py`: silence left out, the speech as sent
   written, split at pauses) into `<data>/long_speeches/<key>/`, where `key` names these
   inputs (the voice, the portrait, the prompt, the mode and the options); a plan made
   before is used again as it is, so the parts of a speech never change under its jobs;
2. each part is a job of its own in the journal, tagged with the speech's key and its
   number (the journal's `batch_key`, as a batch tags its rows: `speech:<key>:<n>`), made
   through the studio's ordinary flow, so it is journaled before its create, waits in the
   line like any job and is followed like any job; the parts run at once as the line
   allows;
3. once every part's video is home, they are joined with the speech as sent laid over
   them (`media/join.py`) into `<data>/videos/speech-<key>.mp4`.

Running the same command again goes on where it stopped, like a batch: a part whose video
is home is not made again, a part whose task may exist is followed (never sent again), a
part never journaled (or refused at its create) is sent; a part that failed is made again
(only that part is paid again). `resume` finishes the parts' jobs too; the same command
then only joins. A failed part keeps the others: the error says which part and why.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

from avatar_core import errors as e
from avatar_core.catalogue import Message, sentence_for
from avatar_core.inputs.long_speech import LongSpeech, prepare_long_speech
from avatar_core.inputs.loudness import envelope_of_file
from avatar_core.inputs.silence import plan_silence
from avatar_core.inputs.speech_parts import (
    DEFAULT_MAX_SPEECH_S,
    MIN_PART_S,
    Cut,
    PartPlan,
    SpeechPart,
)
from avatar_core.jobs.events import Done, Failed, Preparing, Progress, Step
from avatar_core.jobs.merge import merged
from avatar_core.jobs.pricing import estimate_parts, estimate_words, format_money
from avatar_core.jobs.speech_join import join_once
from avatar_core.jobs.steps import video_stored
from avatar_core.jobs.studio import Studio
from avatar_core.storage.atomic import write_atomically
from avatar_core.storage.journal import Job, Stage
from avatar_core.storage.layout import LONG_SPEECH_FOLDER, LONG_SPEECH_PLAN
from avatar_core.storage.videos import VIDEOS_FOLDER
from avatar_core.storage.visitors import OPERATOR, Visitor
from avatar_core.units import about, format_seconds
from avatar_core.waiting.durations import task_kind

PLAN_FILE = LONG_SPEECH_PLAN
PREVIEW_S = 10.0  # a preview's part lasts at most this


@dataclass(frozen=True)
class SpeechDone(Done):
    """Every part is made and joined: `joined` is the speech's video, `key` the speech's
    (what `status` and `resume` know it by)."""

    joined: Path | None = None
    key: str | None = None

    @property
    def video_path(self) -> Path | None:
        return self.joined


@dataclass(frozen=True)
class SpeechProgress(Progress):
    """How far a long speech got: `ready` of its `count` parts' videos are home; about
    `left_s` seconds to its video (None: not known). Its parts were sent: a Stop now
    leaves them at the provider (they appear in History)."""

    step = Step.RUNNING
    ready: int = 0
    count: int = 0
    left_s: float | None = None


class Joining(SpeechProgress):
    """The parts' videos are being joined (about JOIN_S_PER_MINUTE a minute of speech): its
    elapsed time moves while it lasts (`with_heartbeat`)."""

    ticks = True


JOIN_S_PER_MINUTE = 2.0  # about how long the join takes a minute of speech (bench/)


def expected_speech_s(
    studio: Studio, part_seconds: list[float], mode: str
) -> tuple[float | None, int]:
    """About how long the parts take, sent as many at once as the account allows
    (AVATAR_MAX_RUNNING_TASKS; all at once when not set), then the join; and how many
    run at once. None when the studio knows nothing of how long a task takes."""
    at_once = studio.settings.max_running_tasks or len(part_seconds) or 1
    kind = task_kind(mode, studio.demo)
    times = [studio.scheduler.model.expected(kind, seconds) for seconds in part_seconds]
    if not times or any(time is None for time in times):
        return None, at_once
    ordered = sorted((time for time in times if time is not None), reverse=True)
    tasks = sum(ordered[i] for i in range(0, len(ordered), at_once))  # the longest of a round
    return tasks + JOIN_S_PER_MINUTE * sum(part_seconds) / 60, at_once


def part_key(speech_key: str, number: int) -> str:
    """The journal's tag of a speech's part (`number` from 1)."""
    return f"speech:{speech_key}:{number}"


def speech_key(image: str | Path, voice: Path, **options: object) -> str:
    """A name for these inputs: the same voice, portrait (its bytes, or its address) and
    options give the same key."""
    digest = hashlib.sha256(hashlib.sha256(voice.read_bytes()).digest())
    picture = Path(image)
    is_file = not str(image).lower().startswith(("http://", "https://")) and picture.is_file()
    digest.update(hashlib.sha256(picture.read_bytes() if is_file else str(image).encode()).digest())
    digest.update(json.dumps(options, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:20]


def speaks_longer_than(voice: Path, seconds: float, *, shorten_pauses: bool = False) -> bool:
    """Whether `voice`, without the silence that is left out, lasts longer than `seconds`."""
    envelope = envelope_of_file(voice)
    if envelope.duration_s <= seconds:
        return False
    plan = plan_silence(envelope, shorten_pauses=shorten_pauses, min_seconds=MIN_PART_S)
    return plan.kept_s > seconds


def _made_before(folder: Path) -> LongSpeech | None:
    """The speech and parts written by an earlier run, when every file is still there."""
    try:
        saved = json.loads((folder / PLAN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    parts = [
        SpeechPart(i, folder / part["path"], part["start"], part["end"])
        for i, part in enumerate(saved["parts"])
    ]
    speech = folder / saved["speech"]
    if not speech.is_file() or not all(part.path.is_file() for part in parts):
        return None
    cuts = tuple(Cut(at, 0.0, True) for at in saved["seams"])
    return LongSpeech(speech, None, PartPlan(cuts, saved["seconds"]), parts)


def _ready(voice: Path, folder: Path, request: dict, **options) -> LongSpeech:
    """The speech made ready, or as an earlier run made it; `request` (what the speech's
    parts are made with) is kept in the plan for `resume` and `status`."""
    before = _made_before(folder)
    if before is not None:
        return before
    made = prepare_long_speech(voice, folder, **options)
    plan = {
        "request": request,
        "speech": made.speech.name,
        "seconds": made.seconds,
        "seams": made.plan.seams,
        "parts": [
            {"path": str(p.path.relative_to(folder)), "start": p.start_s, "end": p.end_s}
            for p in made.parts
        ],
    }
    write_atomically(folder / PLAN_FILE, json.dumps(plan))
    return made


def _to_send(prior: Job | None) -> bool:
    """Whether a part's create is to be sent: never journaled, or ended without a task
    that made its video (refused at its create, failed, lost); a part whose task may
    exist (unfinished, or done with its video not home) is followed instead."""
    if prior is None:
        return True
    return prior.stage.is_finished and prior.stage is not Stage.DONE


class LongVoiceRun:
    """One long voice made into one video through `studio` (see the module's docstring)."""

    def __init__(
        self,
        studio: Studio,
        image: str | Path,
        voice: Path,
        *,
        prompt: str | None = None,
        mode: str = "std",
        shorten_pauses: bool = False,
        max_speech_s: float = DEFAULT_MAX_SPEECH_S,
        deadline_s: float | None = None,
        visitor: Visitor = OPERATOR,
        remake_failed: bool = True,
        key: str | None = None,
        preview: bool = False,
    ) -> None:
        """`remake_failed`: a part whose task failed is made (and paid) again, else it is
        reported; `key`: the speech's, when it was made ready before (`resume`);
        `preview`: make only a first part of at most PREVIEW_S, in `std` (its video is
        the SpeechDone's), cut so that the whole speech in `std` reuses it as its first."""
        mode = "std" if preview else mode
        self.studio = studio
        # a Path is a file the app holds itself (the page's upload): kept a Path, so that a
        # studio taking only web addresses from strangers reads it as its own file
        self.image = image if isinstance(image, Path) else str(image)
        self.voice = Path(voice)
        self.prompt, self.mode, self.deadline_s = prompt, mode, deadline_s
        self.shorten_pauses = shorten_pauses
        self.max_speech_s = max_speech_s
        self.max_part_s = studio.client.profile.max_part_seconds
        self.visitor, self.remake_failed, self.preview = visitor, remake_failed, preview
        self.key = key or speech_key(
            self.image, self.voice, prompt=prompt, mode=mode, visitor=visitor.tag,
            shorten_pauses=shorten_pauses, max_part_s=self.max_part_s,
        )  # fmt: skip
        self.folder = studio.settings.data_dir / LONG_SPEECH_FOLDER / self.key
        self.out = studio.settings.data_dir / VIDEOS_FOLDER / f"speech-{self.key}.mp4"
        self.expected_s: float | None = None  # the whole speech's, once it is split

    def request(self) -> dict:
        """What the parts are made with, as the plan keeps it (`resume`, `status`)."""
        return {
            "image": str(self.image), "voice": str(self.voice), "prompt": self.prompt,
            "mode": self.mode, "shorten_pauses": self.shorten_pauses,
            "max_speech_s": self.max_speech_s, "visitor": self.visitor.tag,
            "address": self.visitor.address, "owner": self.studio.owner,
            "demo": self.studio.demo,
        }  # fmt: skip

    async def run(self) -> AsyncIterator[Progress]:
        """What happens, as it happens: the split, the estimate (the sum of the parts') and
        the expected time in all; the parts' events, each named by its part; "part 2 of 5
        ready" (SpeechProgress) as each video is home; SpeechDone with the joined video.
        AvatarError naming a part that did not end (the others are kept)."""
        if self.out.is_file() and not self.folder.exists():  # joined, its work cleaned up
            yield SpeechDone(
                sentence_for("long.made_before", key=self.key), joined=self.out, key=self.key
            )
            return
        yield Preparing(sentence_for("step.preparing"))
        speech = await asyncio.to_thread(
            _ready, self.voice, self.folder, self.request(), max_part_s=self.max_part_s,
            max_speech_s=self.max_speech_s, shorten_pauses=self.shorten_pauses,
            first_part_s=PREVIEW_S if self.preview else None,
        )  # fmt: skip
        for said in self._plan_words(speech):
            yield Preparing(said)
        videos: dict[int, Path] = {}
        making = speech.parts[:1] if self.preview else speech.parts
        async for progress in self._made(speech, making, videos):
            yield progress
        if self.preview:  # the first part's own video; the folder stays for the whole
            first = speech.parts[0]
            said = sentence_for(
                "long.preview_done",
                seconds=format_seconds(first.end_s - first.start_s),
                count=len(speech.parts),
            )
            yield SpeechDone(said, joined=videos[1], key=self.key)
            return
        async for progress in self._joined(speech, videos):
            yield progress

    async def _joined(self, speech: LongSpeech, videos: dict[int, Path]) -> AsyncIterator[Progress]:
        """The parts' `videos` joined with the speech as sent laid over them; SpeechDone."""
        count = len(speech.parts)
        yield Joining(sentence_for("long.joining", count=count), ready=count, count=count)
        path, seams = await asyncio.to_thread(
            functools.partial(
                join_once, [videos[n] for n in range(1, count + 1)], speech.speech, self.out,
                folder=self.folder, seams=speech.plan.seams, audio_s=speech.seconds,
            )
        )  # fmt: skip
        seams_at = ", ".join(format_seconds(seam) for seam in seams)
        said = sentence_for("long.done", count=count, seams=seams_at or "-")
        yield SpeechDone(said, joined=path, key=self.key)

    def _plan_words(self, speech: LongSpeech) -> list[Message]:
        """The split, the estimate and the expected time, as a person reads them."""
        count = len(speech.parts)
        seams = ", ".join(format_seconds(seam) for seam in speech.plan.seams)
        said = [
            sentence_for(
                "long.split",
                seconds=format_seconds(speech.seconds),
                count=count,
                seams=seams,
                key=self.key,
            )
        ]
        making = speech.parts[:1] if self.preview else speech.parts
        lengths = [part.end_s - part.start_s for part in making]
        estimate = estimate_parts(lengths, self.mode, self.studio.settings.prices)
        if estimate is not None and self.preview:
            said.append(
                sentence_for(
                    "long.preview_estimate",
                    seconds=format_seconds(estimate.seconds),
                    total=format_money(estimate.total),
                )
            )
        elif estimate is not None:
            said.append(estimate_words(estimate))
        self.expected_s, at_once = expected_speech_s(self.studio, lengths, self.mode)
        if self.expected_s is not None:
            said.append(
                sentence_for("long.expected", about=about(self.expected_s), at_once=at_once)
            )
        return said

    async def _made(
        self, speech: LongSpeech, making: list[SpeechPart], videos: dict[int, Path]
    ) -> AsyncIterator[Progress]:
        """The parts `making` made (or followed) at once, their videos into `videos` by
        number; AvatarError naming the first without a video once all have ended."""
        count = len(speech.parts)
        failures: dict[int, str] = {}
        elapsed = 0.0
        flows = [self._part(part, count) for part in making]
        hold = await self._hold(making)  # all of them within the visitor's limits
        try:
            async for number, event in merged(flows):
                elapsed = max(elapsed, event.elapsed_s)
                if isinstance(event, Done) and event.video_path is not None:
                    videos[number] = event.video_path
                    yield self._ready_event(number, count, len(videos), elapsed, event)
                    continue
                if isinstance(event, Failed):
                    failures[number] = event.message
                said = sentence_for(
                    "long.of_part", number=number, count=count, message=event.message
                )
                yield replace(event, message=said)
        finally:
            hold.close()
        if len(videos) < len(making):
            raise e.AvatarError(self._missing(speech, videos, failures))

    def _ready_event(
        self, number: int, count: int, ready: int, elapsed: float, event: Progress
    ) -> SpeechProgress:
        """ "Part 3 of 6 is ready (4 of 6 ready); about 2 min left." """
        left_s = None
        if self.expected_s is not None:
            left_s = max(self.expected_s - elapsed, 0.0)
        left = sentence_for("long.left", about=about(left_s)) if left_s is not None else ""
        said = sentence_for("long.part_ready", number=number, count=count, done=ready, left=left)
        return SpeechProgress(said, event.elapsed_s, event.job, ready=ready, count=count,
                              left_s=left_s)  # fmt: skip

    async def _hold(self, parts: list[SpeechPart]) -> contextlib.ExitStack:
        """The parts still to send, checked whole against the visitor's limits (before any
        is journaled) and held until they are (`SpendingLimits.hold_speech`); close the
        returned stack to let go."""
        priors = await asyncio.to_thread(
            lambda: [self._journaled(part_key(self.key, p.index + 1)) for p in parts]
        )
        fresh = [p for p, prior in zip(parts, priors, strict=True) if _to_send(prior)]
        spender = self.studio.session.spender(self.visitor)
        held = self.studio.limits.hold_speech(
            spender, self.key, parts=len(fresh), part_s=self.max_part_s,
            seconds=sum(part.end_s - part.start_s for part in fresh),
        )  # fmt: skip
        stack = contextlib.ExitStack()
        await asyncio.to_thread(stack.enter_context, held)
        return stack

    def _missing(self, speech: LongSpeech, videos: dict[int, Path], failures: dict[int, str]):
        number = next(n for n in range(1, len(speech.parts) + 1) if n not in videos)
        part = speech.parts[number - 1]
        reason = failures.get(number) or sentence_for("long.part_unfinished")
        return sentence_for(
            "long.part_failed", number=number, count=len(speech.parts),
            start=format_seconds(part.start_s), end=format_seconds(part.end_s), reason=reason,
        )  # fmt: skip

    async def _part(self, part: SpeechPart, count: int) -> AsyncIterator[tuple[int, Progress]]:
        """One part's events, each with its number; its failure is a Failed event, so one
        part's end stops no other part."""
        number = part.index + 1
        key = part_key(self.key, number)
        prior = await asyncio.to_thread(self._journaled, key)
        last: Job | None = prior
        try:
            if prior is not None and video_stored(prior):
                yield number, Done(sentence_for("long.part_made_before", number=number), job=prior)
                return
            if prior is not None and prior.stage is Stage.FAILED and not self.remake_failed:
                reason = prior.error or sentence_for("long.part_unfinished")
                yield number, Failed(reason, job=prior)
                return
            if not _to_send(prior):
                flow = self.studio.follow(
                    prior.task_id or prior.job_id, deadline_s=self.deadline_s, visitor=self.visitor
                )
            else:  # never journaled, refused at its create, or failed: (made again)
                flow = self._sent(part, key)
            async with contextlib.aclosing(flow):
                async for event in flow:
                    last = event.job or last
                    yield number, event
        except e.AvatarError as error:
            yield number, Failed(error.message, job=last, error=error)

    def _sent(self, part: SpeechPart, key: str) -> AsyncIterator[Progress]:
        """The flow that sends the part `part` as the job tagged `key`."""
        return self.studio.generate(
            self.image, part.path, prompt=self.prompt, mode=self.mode,
            deadline_s=self.deadline_s, batch_key=key, keep_silence=True,
            visitor=replace(self.visitor, speech=self.key),
        )  # fmt: skip

    def _journaled(self, key: str) -> Job | None:
        job = self.studio.journal.batch_job(key, owner=self.studio.owner)
        return job if job is not None and self.studio.steps.owns(job) else None
