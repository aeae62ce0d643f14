"""A typed text longer than one speech a task takes, made into one video in one call.

The provider's text to speech takes at most `TTS_MAX_CHARS` a request, and each speech
must fit one avatar task (the profile's `max_part_seconds`). A longer text is made here,
as a long voice is (`long_voice.py`), with the parts following its sentences:

1. the text is cut into groups of sentences (`provider/speech_groups.group_text`), a
   group too short for a task joined to its neighbour; its whole cost (the parts') is
   estimated, and the visitor's limits are checked for the whole (every speech and every
   part, `SpendingLimits.hold_speech`) before the first speech is paid for: a text past
   a cap is refused whole, nothing paid;
2. each group is spoken (paid, journaled and counted like `Studio.speak`), and kept in the
   journal under a digest of its words, voice, language, speed, visitor and key
   (`row_speeches`, `text:<digest>`) with its audio saved in the data folder: a rerun, a
   resume, the same text pressed again (with another portrait too) or a text edited
   elsewhere reuses a group already spoken, never paying for it twice;
3. each group's speech is one part, a job of its own made from its audio id and tagged
   with the speech (`speech:<key>:<n>`), as a long voice's parts are; a part whose video
   is home is not made again;
4. the groups' audio, concatenated, is the speech as sent: laid over the joined parts.

A text one speech takes (one group) is not made here: `video_flow.make_video` speaks it
and makes one job, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

from avatar_core import errors as e
from avatar_core.catalogue import sentence_for
from avatar_core.inputs.ffmpeg import run_ffmpeg_files
from avatar_core.inputs.long_speech import SPEECH_RATE, TIMEOUT_S, LongSpeech
from avatar_core.inputs.loudness import envelope_of_file
from avatar_core.inputs.speech_parts import MIN_PART_S, Cut, PartPlan, SpeechPart
from avatar_core.jobs.events import Preparing, Progress
from avatar_core.jobs.long_voice import (
    PLAN_FILE,
    LongVoiceRun,
    SpeechDone,
    _to_send,
    expected_speech_s,
)
from avatar_core.jobs.long_voice import part_key as video_part_key
from avatar_core.jobs.paid_speech import speak
from avatar_core.jobs.pricing import estimate_parts, estimate_words
from avatar_core.jobs.studio import Source, Studio
from avatar_core.provider.models import SpeechResult
from avatar_core.provider.speech import check_speech_request
from avatar_core.provider.speech_groups import estimated_seconds, group_text, joined_text
from avatar_core.provider.voices import TTS_MAX_CHARS
from avatar_core.storage.atomic import write_atomically
from avatar_core.storage.layout import LONG_SPEECH_FOLDER, LONG_TEXT_FOLDER
from avatar_core.storage.speech_files import save_speech
from avatar_core.storage.speech_records import RowSpeech
from avatar_core.storage.visitors import OPERATOR, Visitor
from avatar_core.units import about, format_seconds

TEXTS_FOLDER = LONG_TEXT_FOLDER  # under long_speeches/: each long text's groups' speech records
SHORT_GROUP_S = MIN_PART_S + 1.0  # a group expected shorter joins a neighbour
REUSE_S = 28 * 24 * 3600.0  # Kling keeps an audio id 30 days; two days to spare
MERGED_FILL = 0.85  # a short group joins a neighbour while the two fit this of a part


@dataclass(frozen=True)
class TextSpeech:
    """A typed text to be spoken by the provider's text to speech: `voice_id` in
    `language` (None: the voice's first) at `speed`."""

    text: str
    voice_id: str
    language: str | None = None
    speed: float = 1.0


@dataclass(frozen=True)
class GroupSpeech:
    """One group's speech: paid once, kept in the journal, its audio in the data folder."""

    audio_id: str
    task_id: str | None
    seconds: float | None
    audio: Path


def text_groups(studio: Studio, speech: TextSpeech) -> list[str]:
    """The groups of sentences `speech`'s text is spoken in, each one part of the video
    (one group: a text one speech takes); InputError, one sentence, for a text that is
    empty or would speak longer than AVATAR_MAX_SPEECH_SECONDS, or a voice, language or
    speed the provider would refuse (checked here, before anything is paid for)."""
    return groups_of(
        speech, max_part_s=studio.client.profile.max_part_seconds,
        max_speech_s=studio.settings.max_speech_seconds,
    )  # fmt: skip


def groups_of(speech: TextSpeech, *, max_part_s: float, max_speech_s: float) -> list[str]:
    """`text_groups` for a part limit of `max_part_s` and a speech limit of `max_speech_s`."""
    groups = group_text(
        speech.text, max_part_s=max_part_s, speed=speech.speed, max_speech_s=max_speech_s
    )
    for group in groups:
        check_speech_request(group, speech.voice_id, speech.language, speech.speed)
    return _no_short_groups(groups, max_part_s * MERGED_FILL, speech.speed)


def _no_short_groups(groups: list[str], most_s: float, speed: float) -> list[str]:
    """`groups` with each one expected shorter than a task takes joined to a neighbour
    (the one before, else the one after) where the two still fit a part."""

    def fits(text: str) -> bool:
        return len(text) <= TTS_MAX_CHARS and estimated_seconds(text, speed) <= most_s

    merged = list(groups)
    index = 0
    while len(merged) > 1 and index < len(merged):
        if estimated_seconds(merged[index], speed) >= SHORT_GROUP_S:
            index += 1
            continue
        for other in (index - 1, index + 1):
            if 0 <= other < len(merged):
                first, second = sorted((index, other))
                joined = joined_text(merged[first], merged[second])
                if fits(joined):
                    merged[first : second + 1] = [joined]
                    index = max(first - 1, 0)
                    break
        else:
            index += 1
    return merged


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:20]


def _image_digest(image: Source) -> str:
    if isinstance(image, (bytes, bytearray)):
        return hashlib.sha256(image).hexdigest()
    picture = Path(str(image))
    is_file = not str(image).lower().startswith(("http://", "https://")) and picture.is_file()
    return hashlib.sha256(picture.read_bytes() if is_file else str(image).encode()).hexdigest()


class LongTextRun(LongVoiceRun):
    """One long text made into one video through `studio` (see the module's docstring)."""

    def __init__(
        self,
        studio: Studio,
        image: str | Path,
        speech: TextSpeech,
        *,
        groups: list[str] | None = None,
        prompt: str | None = None,
        mode: str = "std",
        deadline_s: float | None = None,
        visitor: Visitor = OPERATOR,
        remake_failed: bool = True,
        key: str | None = None,
    ) -> None:
        """`groups`: `text_groups(studio, speech)` when known; `key`: the speech's, when
        it was asked for before (`resume`)."""
        self.speech = speech
        self.groups = groups if groups is not None else text_groups(studio, speech)
        # the text as spoken (its groups, the voice, the visitor, the key): in the video's key
        self.text_key = _digest(
            self.groups, speech.voice_id, speech.language, round(float(speech.speed), 1),
            visitor.tag, studio.owner,
        )  # fmt: skip
        max_part_s = studio.client.profile.max_part_seconds
        key = key or _digest(self.text_key, _image_digest(image), prompt, mode, max_part_s)
        super().__init__(
            studio, image, Path(), prompt=prompt, mode=mode, deadline_s=deadline_s,
            visitor=visitor, remake_failed=remake_failed, key=key,
            max_speech_s=studio.settings.max_speech_seconds,
        )  # fmt: skip
        self.spoken: dict[int, GroupSpeech] = {}
        self._texts = studio.settings.data_dir / LONG_SPEECH_FOLDER / TEXTS_FOLDER

    def request(self) -> dict:
        """What the speech is made with, as its plan keeps it (`resume`, `status`)."""
        asked = super().request()
        asked.pop("voice")
        asked.update(kind="text", text=self.speech.text, voice_id=self.speech.voice_id,
                     language=self.speech.language, speed=self.speech.speed)  # fmt: skip
        return asked

    def _group_digest(self, number: int) -> str:
        """What makes a group's speech the same one: its words, the voice, its language
        and speed, the visitor and the key (a group left as it was by an edit elsewhere
        in the text is the same speech)."""
        said = self.speech
        return _digest(
            self.groups[number - 1], said.voice_id, said.language, round(float(said.speed), 1),
            self.visitor.tag, self.studio.owner,
        )  # fmt: skip

    def _group_key(self, number: int) -> str:
        return f"text:{self._group_digest(number)}"

    def _group_file(self, number: int) -> Path:
        return self._texts / f"{self._group_digest(number)}.json"

    async def run(self) -> AsyncIterator[Progress]:
        """The estimate and the limits' check of the whole; each group spoken (or its
        earlier speech used) as "Speaking part 2 of 5"; then the parts' events, "part 2
        of 5 ready", and SpeechDone with the joined video, as a long voice's."""
        if self.out.is_file() and not self.folder.exists():  # joined, its work cleaned up
            said = sentence_for("long.made_before", key=self.key)
            yield SpeechDone(said, joined=self.out, key=self.key)
            return
        yield Preparing(sentence_for("step.preparing"))
        count = len(self.groups)
        expected = [estimated_seconds(group, self.speech.speed) for group in self.groups]
        for said in self._text_words(expected):
            yield Preparing(said)
        self.spoken = await asyncio.to_thread(self._kept)
        if len(self.spoken) < count:  # a portrait that would be refused: no speech paid
            await asyncio.to_thread(self.studio.check_image, self.image)
        stack = await self._hold_whole(expected)
        try:
            await asyncio.to_thread(self._write_plan, expected)
            for number, group in enumerate(self.groups, start=1):
                same = [n for n in sorted(self.spoken) if self.groups[n - 1] == group]
                if same:  # spoken before, or the same words earlier in this text
                    self.spoken[number] = self.spoken[same[0]]
                    continue
                yield Preparing(sentence_for("long.speaking", number=number, count=count))
                self.spoken[number] = await asyncio.to_thread(self._speak, number, group)
            speech = await asyncio.to_thread(self._speech_as_sent)
            videos: dict[int, Path] = {}
            async for progress in self._made(speech, speech.parts, videos):
                yield progress
        finally:
            stack.close()
        async for progress in self._joined(speech, videos):
            yield progress

    def _text_words(self, expected: list[float]) -> list:
        """The groups, the estimate (the sum of the parts') and the expected time."""
        said = [
            sentence_for(
                "long.text_split", seconds=format_seconds(sum(expected)), count=len(expected),
                key=self.key,
            )
        ]  # fmt: skip
        estimate = estimate_parts(expected, self.mode, self.studio.settings.prices)
        if estimate is not None:
            said.append(estimate_words(estimate))
        self.expected_s, at_once = expected_speech_s(self.studio, expected, self.mode)
        if self.expected_s is not None:
            said.append(
                sentence_for("long.expected", about=about(self.expected_s), at_once=at_once)
            )
        return said

    async def _hold_whole(self, expected: list[float]) -> contextlib.ExitStack:
        """The speeches and parts still to pay for, checked whole against the visitor's
        limits before the first is paid for, held until the parts are journaled."""
        priors = await asyncio.to_thread(
            lambda: [
                self._journaled(video_part_key(self.key, n)) for n in range(1, len(expected) + 1)
            ]
        )
        fresh = [n for n, prior in enumerate(priors, start=1) if _to_send(prior)]
        firsts = {group: n for n, group in reversed(list(enumerate(self.groups, start=1)))}
        unspoken = [n for n in firsts.values() if n not in self.spoken]  # each words once
        held = self.studio.limits.hold_speech(
            self.studio.session.spender(self.visitor), self.key, parts=len(fresh),
            speeches=len(unspoken), part_s=self.max_part_s,
            seconds=sum(expected[n - 1] for n in unspoken),
        )  # fmt: skip
        stack = contextlib.ExitStack()
        await asyncio.to_thread(stack.enter_context, held)
        return stack

    async def _hold(self, parts: list[SpeechPart]) -> contextlib.ExitStack:
        return contextlib.ExitStack()  # held whole before the first speech (`_hold_whole`)

    # --- the groups' speech -------------------------------------------------------------------

    def _place(self) -> str:
        return self.studio.client.base_url

    def _kept(self) -> dict[int, GroupSpeech]:
        """The groups spoken before (the journal keeps them) whose audio is still here or
        can be fetched again; a speech too long for a part is refused again, unpaid."""
        kept: dict[int, GroupSpeech] = {}
        since = self.studio.services.clock.wall() - REUSE_S
        for number in range(1, len(self.groups) + 1):
            row = self.studio.journal.row_speech(
                self._group_key(number), self._place(), self.studio.owner, since
            )
            if row is None or not row.audio_id:
                continue
            self._check_length(number, row.seconds)  # refused again before anything else
            audio = self._audio_of(number, row.audio_id)
            if audio is None:
                continue
            kept[number] = GroupSpeech(row.audio_id, row.task_id, row.seconds, audio)
        return kept

    def _audio_of(self, number: int, audio_id: str) -> Path | None:
        """The group's audio saved before, or fetched again from its link (None: gone)."""
        try:
            saved = json.loads(self._group_file(number).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if saved.get("audio_id") != audio_id:
            return None
        audio = Path(saved.get("audio") or "")
        if audio.is_file():
            _used(self._group_file(number), audio)  # the retention sweep counts from here
            return audio
        try:
            return self._save(saved.get("url") or "", audio_id)
        except e.AvatarError:
            return None

    def _save(self, url: str, audio_id: str) -> Path:
        settings = self.studio.settings
        return save_speech(url, settings.data_dir, audio_id, timeout=settings.http_timeout_s)

    def _speak(self, number: int, group: str) -> GroupSpeech:
        """Speak group `number` (paid, journaled, counted within the speech's hold), keep
        it in the journal at once, then save its audio."""
        said = self.speech
        visitor = replace(self.visitor, speech=self.key)
        result = speak(self.studio.services, self.studio.session, group, said.voice_id,
                       said.language, said.speed, visitor=visitor, check_length=False)  # fmt: skip
        self._remember(number, result)
        self._check_length(number, result.duration_s)
        audio = self._save(result.url or "", result.audio_id)
        group_speech = GroupSpeech(result.audio_id, result.task_id, result.duration_s, audio)
        self._remember(number, result, audio)
        return group_speech

    def _remember(self, number: int, result: SpeechResult, audio: Path | None = None) -> None:
        """Keep the group's speech: in the journal (once) and, with the link to its
        audio, in the text's folder."""
        if audio is None:
            row = RowSpeech(
                self.studio.services.clock.wall(),
                result.audio_id,
                result.task_id,
                result.duration_s,
            )
            self.studio.journal.remember_row_speech(
                self._group_key(number), self._place(), self.studio.owner, row
            )
        self._texts.mkdir(parents=True, exist_ok=True)
        saved = {"audio_id": result.audio_id, "url": result.url, "audio": str(audio or "")}
        write_atomically(self._group_file(number), json.dumps(saved))

    def _check_length(self, number: int, seconds: float | None) -> None:
        """InputError when a group's speech is longer than a part, or shorter than a task
        takes (it is kept: a rerun refuses it again, paying nothing more)."""
        if seconds is not None and not MIN_PART_S <= seconds <= self.max_part_s:
            raise e.InputError(
                sentence_for("long.group_length", number=number, count=len(self.groups),
                    seconds=format_seconds(seconds), minimum=format_seconds(MIN_PART_S),
                    part=format_seconds(self.max_part_s)),
                field="text",
            )  # fmt: skip

    def _speech_as_sent(self) -> LongSpeech:
        """The groups' audio concatenated (the speech as sent, 48 kHz FLAC), a part a
        group; the plan written for `resume` and `status`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        audios = [self.spoken[n].audio for n in range(1, len(self.groups) + 1)]
        speech = self.folder / "speech.flac"
        _concatenate(audios, speech)
        edges = [0.0]
        for audio in audios:
            edges.append(edges[-1] + envelope_of_file(audio).duration_s)
        parts = [SpeechPart(i, audio, edges[i], edges[i + 1]) for i, audio in enumerate(audios)]
        cuts = tuple(Cut(at, 0.0, True) for at in edges[1:-1])
        self._write_plan([b - a for a, b in itertools.pairwise(edges)], speech.name)
        return LongSpeech(speech, None, PartPlan(cuts, edges[-1]), parts)

    def _write_plan(self, seconds: list[float], speech: str = "") -> None:
        """What `resume` and `status` know the speech by: how it was asked for, and its
        groups (each part's text and where it is in the speech: expected, until spoken)."""
        edges = [0.0, *itertools.accumulate(seconds)]
        parts = [
            {"start": edges[i], "end": edges[i + 1], "text": text}
            for i, text in enumerate(self.groups)
        ]
        keeps = sorted({self._group_file(n).name for n in range(1, len(self.groups) + 1)})
        plan = {"request": self.request(), "speech": speech, "seconds": edges[-1],
                "seams": edges[1:-1], "parts": parts, "keeps": keeps}  # fmt: skip
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomically(self.folder / PLAN_FILE, json.dumps(plan))

    def _sent(self, part: SpeechPart, key: str) -> AsyncIterator[Progress]:
        """A part: the avatar made from its group's speech (its audio id)."""
        spoken = self.spoken[part.index + 1]
        return self.studio.generate(
            self.image, None, audio_id=spoken.audio_id, prior_task_id=spoken.task_id,
            audio_seconds=spoken.seconds, prompt=self.prompt, mode=self.mode,
            deadline_s=self.deadline_s, batch_key=key,
            visitor=replace(self.visitor, speech=self.key),
        )  # fmt: skip


def _used(*files: Path) -> None:
    """Mark `files` as used now: the retention sweep (AVATAR_KEEP_DAYS) counts a kept
    speech's age from its last use, so a text that reuses it does not lose it meanwhile."""
    for file in files:
        with contextlib.suppress(OSError):
            os.utime(file)


def _concatenate(audios: list[Path], out: Path) -> None:
    """`audios` one after another, decoded, written to `out` as 48 kHz FLAC."""
    args = ["-y"]
    for audio in audios:
        args += ["-i", f"file:{audio}"]
    chains = "".join(
        f"[{i}:a:0]aresample={SPEECH_RATE},aformat=sample_fmts=s16:channel_layouts=mono[a{i}];"
        for i in range(len(audios))
    )
    joined = "".join(f"[a{i}]" for i in range(len(audios)))
    args += [
        "-filter_complex", f"{chains}{joined}concat=n={len(audios)}:v=0:a=1[out]",
        "-map", "[out]", "-c:a", "flac", "-compression_level", "1", "-f", "flac",
        f"file:{out}",
    ]  # fmt: skip
    run_ffmpeg_files(args, timeout=TIMEOUT_S, failed="speech.not_written")


def long_text_run(
    studio: Studio,
    image: Source,
    speech: TextSpeech,
    *,
    prompt: str | None = None,
    mode: str = "std",
    deadline_s: float | None = None,
    visitor: Visitor = OPERATOR,
) -> LongTextRun | None:
    """The run for a text longer than one speech a task takes; None for a text one
    speech takes (InputError for a text that cannot be spoken at all)."""
    groups = text_groups(studio, speech)
    if len(groups) < 2:
        return None
    picture = _kept_picture(studio, image) if isinstance(image, bytes) else image
    return LongTextRun(
        studio, picture, speech, groups=groups, prompt=prompt, mode=mode,
        deadline_s=deadline_s, visitor=visitor,
    )  # fmt: skip


def _kept_picture(studio: Studio, image: bytes) -> Path:
    """A portrait given as bytes (a data: URL), written once into the data folder under
    a name made of its bytes: the parts are made from a file."""
    folder = studio.settings.data_dir / LONG_SPEECH_FOLDER / TEXTS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"portrait-{hashlib.sha256(image).hexdigest()[:24]}"
    if not path.is_file():
        partial = path.with_suffix(".partial")
        partial.write_bytes(image)
        partial.replace(path)  # whole, or not there
    return path
