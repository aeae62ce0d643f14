"""One voice, one video, for every caller: the studio's flow, or parts and a join.

The page, the MCP tool, `batch` and the command line's `generate` call `make_video` with
what they would give `Studio.generate`. A voice file (or a voice's web address, fetched
once here) that speaks longer than one task takes (`ProviderProfile.max_part_seconds`)
is made by `LongVoiceRun` (split at pauses, parts made as jobs, joined); anything else
(an audio id, a short voice, `trim`) goes to the studio's flow as it is. A typed text
(`text`) longer than one speech a task takes is made by `LongTextRun` (spoken group by
group, a part a group, joined); a shorter one is spoken once and made as one job. The
events are the same kinds either way, so each caller renders them as it renders a job's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from avatar_core.catalogue import sentence_for
from avatar_core.errors import InputError, MediaToolError
from avatar_core.inputs.audio import MAX_SOURCE_BYTES
from avatar_core.inputs.loudness import envelope_of_file
from avatar_core.inputs.silence import kept_envelope, plan_silence
from avatar_core.inputs.sources import looks_like_url, read_source, require_web_address
from avatar_core.inputs.speech_parts import MIN_PART_S, check_speech_length, plan_parts
from avatar_core.jobs.events import Preparing, Progress
from avatar_core.jobs.long_text import TextSpeech, long_text_run
from avatar_core.jobs.long_voice import LongVoiceRun, speaks_longer_than
from avatar_core.jobs.studio import Source, Studio
from avatar_core.storage.layout import LONG_FETCHED_FOLDER, LONG_SPEECH_FOLDER
from avatar_core.storage.visitors import OPERATOR, Visitor
from avatar_core.units import format_seconds, plain_seconds


def local_voice(studio: Studio, audio: Source | None) -> Path | None:
    """`audio` as a local file: itself, or (a web address) fetched into the data folder
    under a name made of its bytes; None for anything else (an audio id, bytes)."""
    if isinstance(audio, (bytes, bytearray)) or audio is None:
        return None
    if studio.inputs.web_only:  # a stranger's text: an http(s) address, never a path
        require_web_address(audio, what="audio")
    if looks_like_url(audio):
        data = read_source(
            str(audio), what="audio", max_bytes=MAX_SOURCE_BYTES,
            allow_private_urls=studio.settings.allow_private_urls,
        ).data  # fmt: skip
        folder = studio.settings.data_dir / LONG_SPEECH_FOLDER / LONG_FETCHED_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / hashlib.sha256(data).hexdigest()[:24]
        if not path.is_file():
            partial = path.with_suffix(".partial")
            partial.write_bytes(data)
            partial.replace(path)  # whole, or not there
        return path
    path = Path(audio)
    return path if path.is_file() else None


@dataclass(frozen=True)
class SpeechOutline:
    """What a long voice would be made of, before anything is written or sent: the
    speech as sent (`seconds`, without `left_out_s` of silence) in parts of `parts`
    seconds each, of at most `max_part_s`."""

    seconds: float
    left_out_s: float
    parts: tuple[float, ...]
    max_part_s: float


def outline_voice(
    studio: Studio, voice: Path, *, shorten_pauses: bool = False
) -> SpeechOutline | None:
    """The parts `voice` would be made in, when it speaks longer than one task takes
    (None: it does not); InputError, one sentence, when it speaks longer than one video
    may (AVATAR_MAX_SPEECH_SECONDS)."""
    limit = studio.client.profile.max_part_seconds
    measured = envelope_of_file(voice)
    if measured.duration_s <= limit:
        return None
    silence = plan_silence(measured, shorten_pauses=shorten_pauses, min_seconds=MIN_PART_S)
    if silence.kept_s <= limit:
        return None
    check_speech_length(silence.kept_s, max_speech_s=studio.settings.max_speech_seconds)
    plan = plan_parts(kept_envelope(measured, silence), max_part_s=limit)
    lengths = tuple(end - start for start, end in plan.spans)
    return SpeechOutline(silence.kept_s, silence.removed_s, lengths, limit)


def long_voice_run(
    studio: Studio,
    image: Source,
    audio: Source | None,
    *,
    prompt: str | None = None,
    mode: str = "std",
    trim: bool = False,
    shorten_pauses: bool = False,
    deadline_s: float | None = None,
    visitor: Visitor = OPERATOR,
    preview: bool = False,
) -> LongVoiceRun | None:
    """The run of parts for a voice that speaks longer than one task takes; None for
    any other voice (the studio's own check explains one it cannot use)."""
    if trim or isinstance(image, bytes):
        return None
    try:
        voice = local_voice(studio, audio)
    except InputError:  # the studio's own check says so, with every other input's problem
        return None
    if voice is None:
        return None
    fetched = looks_like_url(audio)
    try:
        limit = studio.client.profile.max_part_seconds
        longer = speaks_longer_than(voice, limit, shorten_pauses=shorten_pauses)
    except MediaToolError:
        longer = False  # not a voice ffmpeg reads: the studio's check says why
    if not longer:
        if fetched:  # the studio fetches it itself, as any voice's address
            voice.unlink(missing_ok=True)
        return None
    return LongVoiceRun(
        studio, image, voice, prompt=prompt, mode=mode, shorten_pauses=shorten_pauses,
        max_speech_s=studio.settings.max_speech_seconds, deadline_s=deadline_s,
        visitor=visitor, preview=preview,
    )  # fmt: skip


async def make_video(
    studio: Studio,
    image: Source,
    audio: Source | None = None,
    *,
    prompt: str | None = None,
    mode: str = "std",
    trim: bool = False,
    shorten_pauses: bool = False,
    deadline_s: float | None = None,
    visitor: Visitor = OPERATOR,
    preview: bool = False,
    text: TextSpeech | None = None,
    **more: object,
) -> AsyncIterator[Progress]:
    """`Studio.generate`'s events for these inputs, or a long voice's (`LongVoiceRun`):
    the last is Done with the video's path. `more`: the rest of `Studio.generate`'s
    keywords (an audio id, a batch row's key...), for the studio's flow only. `preview`:
    of a long voice, only a first part of at most 10 s, in `std` (`LongVoiceRun`); a
    voice one task takes has no preview (InputError, nothing sent). `text` (instead of
    `audio`): a typed text spoken by the provider (`spoken_video`)."""
    if text is not None:
        if preview:
            raise InputError(sentence_for("long.text_no_preview"), field="text")
        flow = spoken_video(
            studio, image, text, prompt=prompt, mode=mode, deadline_s=deadline_s,
            visitor=visitor, **more,
        )  # fmt: skip
        async with contextlib.aclosing(flow):
            async for progress in flow:
                yield progress
        return
    run = None
    if not more.get("audio_id"):
        run = await asyncio.to_thread(
            long_voice_run, studio, image, audio, prompt=prompt, mode=mode, trim=trim,
            shorten_pauses=shorten_pauses, deadline_s=deadline_s, visitor=visitor,
            preview=preview,
        )  # fmt: skip
    if preview and run is None:
        limit = plain_seconds(studio.client.profile.max_part_seconds)
        raise InputError(sentence_for("long.no_preview", limit=limit), field="audio")
    if run is not None:
        flow = _cleaning_up(run, fetched=looks_like_url(audio))
    else:
        flow = studio.generate(
            image, audio, prompt=prompt, mode=mode, trim=trim, shorten_pauses=shorten_pauses,
            deadline_s=deadline_s, visitor=visitor, **more,
        )  # fmt: skip
    async with contextlib.aclosing(flow):
        async for progress in flow:
            yield progress


async def _cleaning_up(run: LongVoiceRun, *, fetched: bool) -> AsyncIterator[Progress]:
    """The run's events; a voice fetched from an address is deleted once joined."""
    async with contextlib.aclosing(run.run()) as flow:
        async for progress in flow:
            yield progress
    if fetched:
        run.voice.unlink(missing_ok=True)


async def spoken_video(
    studio: Studio,
    image: Source,
    text: TextSpeech,
    *,
    prompt: str | None = None,
    mode: str = "std",
    deadline_s: float | None = None,
    visitor: Visitor = OPERATOR,
    **more: object,
) -> AsyncIterator[Progress]:
    """A typed text made into one video: longer than one speech a task takes, by a
    `LongTextRun` (the whole admitted before the first speech is paid for); else spoken
    once (paid only once the visitor may start a job and the portrait passes) and made as
    one job from its audio id. `more`: for that job (a batch row's key)."""
    run = await asyncio.to_thread(
        long_text_run, studio, image, text, prompt=prompt, mode=mode,
        deadline_s=deadline_s, visitor=visitor,
    )  # fmt: skip
    if run is not None:
        async with contextlib.aclosing(run.run()) as flow:
            async for progress in flow:
                yield progress
        return
    await asyncio.to_thread(functools.partial(studio.check_allowed, visitor, speech=True))
    await asyncio.to_thread(studio.check_image, image)
    spoken = await asyncio.to_thread(
        functools.partial(studio.speak, text.text, text.voice_id, text.language, text.speed,
                          visitor=visitor)
    )  # fmt: skip
    yield Preparing(
        sentence_for("long.text_spoken", seconds=format_seconds(spoken.duration_s or 0.0))
    )
    flow = studio.generate(
        image, None, audio_id=spoken.audio_id, prior_task_id=spoken.task_id,
        audio_seconds=spoken.duration_s, prompt=prompt, mode=mode, deadline_s=deadline_s,
        visitor=visitor, **more,
    )  # fmt: skip
    async with contextlib.aclosing(flow):
        async for progress in flow:
            yield progress
