"""What the page's events do: each handler takes the app's `Sessions` (when it needs a
studio) and its inputs' values, calls the core through the session's studio, and formats
the answer for the page.

Every call to a studio is in this module, so a change of the studio's API is a change
here only. The wiring binds `sessions` (`Sessions.bind`); tests call the handlers as
they are, on a studio pointed at the simulator. Handlers that show or spend something
take the visitor: `browser` (the id the browser keeps, None for API callers) and the
event's `request` (whose session identifies an API caller); called without them, as in
tests, they act for one local visitor. Videos and speech go out as copies
(`delivery.page_copy`), never as paths into the data folder. What the core says is shown
in the language the request asks for (`visitor_language`: the browser's, or English for a
program that asks for none).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

import ui.formatting as fmt
from avatar_core.catalogue import sentence_for
from avatar_core.errors import (
    AuthenticationError,
    AvatarError,
    InputError,
    PermissionDeniedError,
    SettingsError,
)
from avatar_core.jobs.events import (
    Done,
    InLine,
    Progress,
    Running,
    Step,
    Submitted,
    final_progress,
    with_heartbeat,
)
from avatar_core.jobs.long_text import TextSpeech, long_text_run
from avatar_core.jobs.long_voice import SpeechDone
from avatar_core.jobs.pricing import estimate_cost, silence_saving
from avatar_core.jobs.speech_history import ENTRY_PREFIX
from avatar_core.jobs.steps import video_stored
from avatar_core.jobs.studio import Source, Studio
from avatar_core.jobs.video_flow import make_video
from avatar_core.media.thumbnails import blank_picture, first_frame
from avatar_core.provider.voices import DEFAULT_VOICES, speaks, voices_in
from avatar_core.storage.journal import Job, Stage
from avatar_core.storage.speech_files import save_speech
from avatar_core.waiting.durations import task_kind
from ui.delivery import page_copy
from ui.long_speech import (
    is_long,
    join_made_speeches,
    long_verdict,
    preview_cost,
    with_speech_facts,
)
from ui.sessions import Sessions, new_browser_id
from ui.texts import page_text, ui_text, visitor_language

# The voice source radio's values (stable keys) and the texts of their labels: record or
# upload a voice, or type a text. A voice's web address and an earlier speech's audio id
# are under "More options" (used when no recording is given).
VOICE_SOURCES: dict[str, str] = {"file": "source_file", "tts": "source_tts"}
SPOKEN_SOURCES = ("tts", "audio_id")  # the voice is Kling text to speech, by its audio id
# The speech language radio: (label's text key, value).
SPEECH_LANGUAGES: dict[str, str] = {"language_en": "en", "language_zh": "zh"}

BROWSER_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")  # what `new_browser_id` makes
Update = Any  # a component's new value, gr.update(...) or gr.skip()
StreamUpdate = tuple[str, Any, str]  # (status, video, details)


def _source(path: str | None, url: str | None) -> Path | str | None:
    """An uploaded file (as a `Path`: a file the app received), else the typed URL (text:
    the core takes web addresses only from it), else None."""
    return Path(path) if path else (url or "").strip() or None


# --- checking inputs as they are added ---------------------------------------------------


def check_portrait(
    sessions: Sessions,
    image_path: str | None,
    image_url: str | None,
    key: str | None,
    request: gr.Request | None = None,
) -> str:
    """The portrait's verdict: what will be sent, fixes, warnings (a missing face too)."""
    source = _source(image_path, image_url)
    if source is None:
        return ""
    language = visitor_language(request)
    with sessions.using(key) as studio:
        return portrait_verdict(studio, source, language, plain=True)


def refused_portrait(chosen: str | None, request: gr.Request | None = None) -> Update:
    """A file chosen as the photo that is no picture (the page's script keeps it from
    Gradio's own English pop-up and hands its name here, as "name|count"): one sentence in
    the visitor's language."""
    name = (chosen or "").rpartition("|")[0].strip()[:120]
    if not name:
        return gr.skip()
    said = sentence_for("page:photo_not_picture", name=name).in_language(visitor_language(request))
    return f"❌ {fmt.as_text(said)}"


def portrait_verdict(
    studio: Studio, source: Source, language: str = "en", *, plain: bool = False
) -> str:
    """What `studio` would send of a portrait, or why not (for the page and the tools;
    `plain`: the page's words, its size only, rather than the format and bytes)."""
    try:
        prepared = studio.check_image(source)
    except AvatarError as error:
        return fmt.verdict_error(error, language)
    warnings = prepared.warnings + studio.inputs.face_warnings(prepared)
    summary = fmt.face_ready(prepared.width, prepared.height, language) if plain else None
    return fmt.verdict_ok(summary or prepared.summary(), prepared.changes, warnings, language)


def check_voice(
    sessions: Sessions,
    audio_path: str | None,
    audio_url: str | None,
    trim: bool,
    key: str | None,
    request: gr.Request | None = None,
) -> tuple[str, float | None]:
    """The voice's verdict, and its length in seconds (for the cost estimate)."""
    source = _source(audio_path, audio_url)
    if source is None:
        return "", None
    language = visitor_language(request)
    try:
        with sessions.using(key) as studio:
            return voice_verdict(studio, source, bool(trim), language, plain=True)
    except AvatarError as error:  # a pasted key's studio could not be made
        return fmt.verdict_error(error, language), None


def voice_verdict(
    studio: Studio, source: Source, trim: bool, language: str = "en", *, plain: bool = False
) -> tuple[str, float | None]:
    """What `studio` would send of a voice, or why not; its length in seconds (`plain`:
    the page's words, the length only, rather than the format and sample rate)."""
    long = None if trim else long_verdict(studio, source, language)
    if long is not None:  # longer than one task takes: made in parts (ui/long_speech.py)
        return long
    try:
        prepared = studio.check_audio(source, trim=trim)
    except AvatarError as error:
        return fmt.verdict_error(error, language), None
    saving = silence_saving(prepared.silence_left_out_s, studio.settings.prices)
    changes = prepared.changes + ((saving,) if saving else ())
    summary = fmt.voice_ready(prepared.duration_s, language) if plain else None
    verdict = fmt.verdict_ok(summary or prepared.summary(), changes, prepared.warnings, language)
    return verdict, prepared.duration_s


def show_cost(
    sessions: Sessions,
    voice_source: str,
    file_seconds: float | None,
    speech_seconds: float | None,
    mode: str,
    text: str | None = None,
    language: str | None = None,
    key: str | None = None,
    request: gr.Request | None = None,
    preview: bool = False,
) -> str:
    """The estimate for the chosen voice (the checked file's length, or the speech's; for
    a typed text not spoken yet, a guess from its length) at the app's assumed prices. In
    demo mode (the app's own studio without a key, no key pasted), what nothing is charged
    for. `preview` of a long voice: the preview's (ui/long_speech.py)."""
    seconds = speech_seconds if voice_source in SPOKEN_SOURCES else file_seconds
    demo = sessions.default.demo and not sessions.pasted(key)
    if preview and voice_source == "file" and is_long(sessions.default, seconds):
        return preview_cost(sessions.default, seconds, demo, visitor_language(request))
    guessed = False
    if voice_source == "tts" and seconds is None:
        seconds = fmt.guessed_speech_seconds(text, language or "en")
        guessed = seconds is not None
    estimate = estimate_cost(seconds, mode, sessions.default.settings.prices)
    reader = visitor_language(request)
    return fmt.cost_text(estimate, demo=demo, guessed=guessed, language=reader)


def show_voice_source(voice_source: str) -> list[Update]:
    """Show the group of the chosen source only (in VOICE_SOURCES' order), then the
    speech's language and speed (under More options) only with "Type a text": a
    recording has its own."""
    groups = [gr.update(visible=voice_source == source) for source in VOICE_SOURCES]
    return [*groups, gr.update(visible=voice_source == "tts")]


def show_file_verdict(voice_source: str) -> Update:
    """The voice file's verdict only while a file is the voice: after a switch to a typed
    text, a verdict on the file left on screen says the wrong voice will be used."""
    return gr.update(visible=voice_source == "file")


# --- text to speech ----------------------------------------------------------------------


def voice_choices(language: str) -> list[tuple[str, str]]:
    """The voice list's (label, voice id) choices for one language, named in it (a name
    the list gives twice is numbered)."""
    choices, seen = [], Counter[str]()
    for voice in voices_in(language):
        seen[voice.label] += 1
        label = voice.label if seen[voice.label] == 1 else f"{voice.label} {seen[voice.label]}"
        choices.append((label, voice.id))
    return choices


def show_voices(language: str, voice: str | None) -> Update:
    """The voices of the chosen language; the chosen voice stays if it speaks it."""
    keep = voice if voice and speaks(voice, language) else DEFAULT_VOICES.get(language)
    return gr.update(choices=voice_choices(language), value=keep)


def make_speech(
    sessions: Sessions,
    text: str,
    voice: str,
    speed: float,
    key: str | None,
    language: str | None = None,
    browser: str | None = None,
    request: gr.Request | None = None,
) -> tuple[Update, Update, str | None, str, float | None]:
    """Speech for the avatar: (audio id, its task id, a preview file, verdict, seconds).
    The page's and gradio_client's `/tts`; an MCP caller is refused: make_talking_avatar_video
    speaks a text itself.

    `language` None: the voice's first language. The seconds go to a State (for the
    estimate); they are not part of what /tts returns.
    """
    visitor = sessions.visitor(browser, request)
    reader = visitor_language(request)
    with sessions.using(key) as studio:
        try:
            result = studio.speak(text, voice, language or None, speed, visitor=visitor)
        except AvatarError as error:
            return gr.skip(), gr.skip(), None, fmt.verdict_error(error, reader), None
        try:  # a local copy to listen to (the link may expire, or be the demo's loopback)
            preview = page_copy(
                save_speech(
                    result.url or "",
                    studio.settings.data_dir,
                    result.audio_id,
                    timeout=studio.settings.http_timeout_s,
                )
            )
        except AvatarError:
            preview = None
    length = f" ({fmt.seconds_text(result.duration_s, reader)})" if result.duration_s else ""
    return (
        result.audio_id,
        result.task_id or "",
        preview,
        f"{ui_text('speech_made', reader)}{length}",  # plain words: /tts returns it to programs
        result.duration_s,
    )


# --- jobs on the page --------------------------------------------------------------------


def expected_seconds(studio: Studio, job: Job | None) -> float | None:
    """How long the provider usually takes for this job (the studio's learnt model)."""
    if job is None:
        return None
    return studio.scheduler.model.expected(task_kind(job.mode, job.demo), job.audio_seconds)


async def _stream_steps(
    events: AsyncIterator[Progress],
    language: str = "en",
    studio: Studio | None = None,
    on_job: Callable[[str], None] | None = None,
) -> AsyncIterator[tuple[str, Any, str, str]]:
    """A flow's steps as (status, video, details, phase) updates; its error as the status.
    The ids stay in the details (folded on the page); the status says the stage in words,
    with the time elapsed and (given the `studio`) how long it usually takes. `on_job` is
    told the job's id once it is journaled."""
    phase, told = "", False
    try:
        async for progress in with_heartbeat(events):
            if on_job is not None and progress.job is not None and not told:
                on_job(progress.job.job_id)
                told = True
            shown = fmt.details(progress, language)
            phase = PHASES.get(progress.step, phase)
            if isinstance(progress, Done):
                if isinstance(progress, SpeechDone) and progress.job is None and studio:
                    progress = await asyncio.to_thread(with_speech_facts, studio, progress)
                done = fmt.done_status(progress, language)
                video = await asyncio.to_thread(page_copy, progress.video_path)
                yield done, video, shown, "done"
            elif isinstance(progress, InLine):
                yield fmt.in_line(progress, language), gr.skip(), shown, phase
            elif isinstance(progress, Submitted):
                yield fmt.status(ui_text("sent_page", language)), gr.skip(), shown, phase
            else:
                status = fmt.waiting(progress, language) if isinstance(progress, Running) else None
                status = status or fmt.joining(progress, language)
                status = status or fmt.status(progress.message, "info", language)
                if isinstance(progress, Running) and studio is not None:
                    status = fmt.with_expected(
                        status, expected_seconds(studio, progress.job), language
                    )
                yield status, gr.skip(), shown, phase
    except AvatarError as error:  # an input refused leaves no job: the next input's news
        ended = "" if isinstance(error, InputError) else "done"  # replaces its sentence
        yield fmt.verdict_error(error, language), gr.skip(), gr.skip(), ended


async def _stream(
    events: AsyncIterator[Progress], language: str = "en", studio: Studio | None = None
) -> AsyncIterator[StreamUpdate]:
    """A flow's steps as (status, video, details) updates; its error as the status."""
    async with contextlib.aclosing(_stream_steps(events, language, studio)) as steps:
        async for status, video, details, _ in steps:
            yield status, video, details


def voice_choice(
    voice_source: str,
    audio_path: str | None,
    audio_url: str | None,
    audio_id: str | None,
    prior_task_id: str | None,
) -> tuple[Path | str | None, str | None, str | None]:
    """(audio, audio id, prior task id) for the chosen source; the other boxes are ignored."""
    spoken = (audio_id or "").strip() or None, (prior_task_id or "").strip() or None
    if voice_source in SPOKEN_SOURCES:
        return None, *spoken
    if voice_source == "file" and audio_path:
        return _source(audio_path, None), None, None
    recorded = _source(None, audio_url)  # "More options": a web address, else an audio id
    return (recorded, None, None) if recorded is not None else (None, *spoken)


async def _generate_steps(
    sessions: Sessions,
    image_path: str | None,
    image_url: str | None,
    voice_source: str,
    audio_path: str | None,
    audio_url: str | None,
    audio_id: str | None,
    prior_task_id: str | None,
    prompt: str | None,
    mode: str,
    trim: bool,
    key: str | None,
    browser: str | None = None,
    request: gr.Request | None = None,
    preview: bool = False,
) -> AsyncIterator[tuple[str, Any, str, str]]:
    """Generate, streaming (status, video, details, phase) as the job moves (`preview`:
    of a long voice, only its first part, in std)."""
    image = _source(image_path, image_url)
    if image is None:
        yield fmt.status(str(page_text("need_portrait")), "error"), None, "", ""
        return
    audio, chosen_id, prior = voice_choice(
        voice_source, audio_path, audio_url, audio_id, prior_task_id
    )
    visitor = sessions.visitor(browser, request)
    with sessions.using(key) as studio:
        events = make_video(  # one job, or a long voice's parts and join
            studio,
            image,
            audio,
            audio_id=chosen_id,
            prior_task_id=prior,
            prompt=prompt,
            mode=mode,
            trim=bool(trim),
            visitor=visitor,
            preview=bool(preview),
        )
        async for update in _stream_steps(events, visitor_language(request), studio):
            yield update


async def run_lookup(
    sessions: Sessions,
    task_id: str | None,
    key: str | None,
    browser: str | None = None,
    request: gr.Request | None = None,
) -> AsyncIterator[StreamUpdate]:
    """Follow one of the visitor's tasks by its id to the end, streaming (status, video,
    details) as Generate does."""
    task_id = (task_id or "").strip()
    if not task_id:
        yield fmt.status(str(page_text("need_task_id")), "error"), None, ""
        return
    visitor = sessions.visitor(browser, request)
    with sessions.using(key) as studio:
        follow = studio.follow(task_id, visitor=visitor)
        async for update in _stream(follow, visitor_language(request), studio):
            yield update


def stopped() -> str:
    """The status once a person stops waiting (the task goes on at the provider)."""
    return fmt.status(str(page_text("stopped")), "stopped")


# --- the page's one press: a typed text becomes speech, then the video ------------------

PageUpdate = tuple[str, Any, str, Update, Update, str, Update]
# (status, video, details, speech preview, spoken state, phase, cost)
PHASES = {  # a flow's event -> how far the job got, for Stop's sentence
    Step.PREPARING: "line",
    Step.IN_LINE: "line",
    Step.SUBMITTING: "sending",
    Step.SUBMITTED: "sent",
    Step.RUNNING: "sent",
    Step.DOWNLOADING: "sent",
}
STOP_SENTENCES = {  # phase -> what Stop says then ("" / unknown: nothing was under way)
    "speech": "stopped_speech",
    "line": "stopped_in_line",
    "sending": "stopped_sending",
    "sent": "stopped",
}
IN_HISTORY = ("stopped_sending", "stopped")  # Stop's sentences sending the person to History


@dataclass(frozen=True)
class Spoken:
    """A speech made from a typed text, kept in the session for the same text and voice."""

    fingerprint: str
    audio_id: str
    task_id: str | None
    seconds: float | None
    preview: str | None


def speech_fingerprint(
    sessions: Sessions, text: str, voice: str, language: str, speed: float, key: str | None
) -> str:
    """What makes a speech the same one: the text as sent, the voice, its language and
    speed, and the key that paid for it (as a digest: the key itself is kept nowhere)."""
    words = " ".join((text or "").split())
    what = json.dumps([words, voice, language, round(float(speed or 1.0), 1),
                       sessions.pasted(key) or ""])  # fmt: skip
    return hashlib.sha256(what.encode()).hexdigest()


def _preview_of(studio: Studio, url: str | None, audio_id: str) -> str | None:
    """A copy of the speech to listen to (None when it cannot be fetched: only the
    preview is lost)."""
    try:
        kept = save_speech(
            url or "", studio.settings.data_dir, audio_id, timeout=studio.settings.http_timeout_s
        )
        return page_copy(kept)
    except AvatarError:
        return None


async def _spoken_for(
    studio: Studio,
    visitor: Any,
    image: Source,
    text: str,
    voice: str,
    language: str,
    speed: float,
    fingerprint: str,
) -> Spoken:
    """Speech for `text`, paid only once the visitor may start a job and the portrait
    passes (as the MCP tool does)."""
    await asyncio.to_thread(studio.check_allowed, visitor)
    await asyncio.to_thread(studio.check_image, image)
    result = await asyncio.to_thread(
        studio.speak, text, voice, language or None, speed, visitor=visitor
    )
    preview = await asyncio.to_thread(_preview_of, studio, result.url, result.audio_id)
    return Spoken(fingerprint, result.audio_id, result.task_id, result.duration_s, preview)


async def run_make(
    sessions: Sessions,
    image_path: str | None,
    image_url: str | None,
    voice_source: str,
    audio_path: str | None,
    audio_url: str | None,
    audio_id: str | None,
    prior_task_id: str | None,
    text: str | None,
    voice: str | None,
    language: str | None,
    speed: float | None,
    prompt: str | None,
    mode: str,
    trim: bool,
    spoken: Spoken | None,
    key: str | None,
    browser: str | None = None,
    request: gr.Request | None = None,
    preview: bool = False,
) -> AsyncIterator[PageUpdate]:
    """Generate on the page: with "Type a text", the speech first (or the one already
    made from the same text and voice), then the video, streaming each step. `preview`
    ("Try the first 10 s first", after `request`: Gradio puts the request in its place):
    of a long voice, only its first part, in std. Once Stop is pressed in this tab,
    nothing more is shown but Stop's own sentence (ui/page_runs.py): it stays."""
    steps = _make_steps(sessions, image_path, image_url, voice_source, audio_path, audio_url,
                        audio_id, prior_task_id, text, voice, language, speed, prompt, mode,
                        trim, spoken, key, browser, request, bool(preview))  # fmt: skip
    with sessions.runs.run(request) as run:
        async with contextlib.aclosing(steps):
            async for update in steps:
                if run.stopped:
                    break
                with run.showing():
                    yield update
                if run.stopped:
                    break
        if run.stopped and run.last_word is not None:  # Gradio repeats a stream's last update
            skip = gr.skip()
            yield run.last_word, skip, skip, skip, skip, skip, skip


async def _make_steps(
    sessions: Sessions,
    image_path: str | None,
    image_url: str | None,
    voice_source: str,
    audio_path: str | None,
    audio_url: str | None,
    audio_id: str | None,
    prior_task_id: str | None,
    text: str | None,
    voice: str | None,
    language: str | None,
    speed: float | None,
    prompt: str | None,
    mode: str,
    trim: bool,
    spoken: Spoken | None,
    key: str | None,
    browser: str | None = None,
    request: gr.Request | None = None,
    preview: bool = False,
) -> AsyncIterator[PageUpdate]:
    """run_make's updates."""
    reader = visitor_language(request)
    skip = gr.skip()
    typed = " ".join((text or "").split())
    if voice_source != "tts" or (not typed and (audio_id or "").strip()):
        flow = _generate_steps(sessions, image_path, image_url, "file" if voice_source != "tts"
                               else "audio_id", audio_path, audio_url, audio_id, prior_task_id,
                               prompt, mode, trim, key, browser, request, preview)  # fmt: skip
        async with contextlib.aclosing(flow):
            async for status, video, details, phase in flow:
                yield status, video, details, skip, skip, phase, skip
        return
    image = _source(image_path, image_url)
    refused = _text_refused(image is None, typed, bool(preview), reader)
    if refused is not None:
        yield refused, None, "", skip, skip, "", skip
        return
    language = language or ("zh" if reader == "zh" else "en")
    voice = (voice or "").strip() or DEFAULT_VOICES.get(language, "")
    speed = float(speed or 1.0)
    fingerprint = speech_fingerprint(sessions, typed, voice, language, speed, key)
    visitor = sessions.visitor(browser, request)
    with sessions.using(key) as studio:
        if spoken is None or spoken.fingerprint != fingerprint:
            long = await _long_text(studio, image, text or "", voice, language, speed, prompt,
                                    mode, visitor, reader, sessions)  # fmt: skip
            if long is not None:  # longer than one speech a task takes: made in parts
                async with contextlib.aclosing(long) as steps:
                    async for update in steps:
                        yield update
                return
            making = fmt.status(ui_text("making_speech", reader), "info")
            yield making, skip, "", skip, skip, "speech", skip
            try:
                spoken = await _spoken_for(
                    studio, visitor, image, typed, voice, language, speed, fingerprint
                )
            except AvatarError as error:
                yield fmt.verdict_error(error, reader), skip, "", skip, None, "", skip
                return
            said = ""
        else:
            said = ui_text("speech_reused", reader)
        preview = gr.update(value=spoken.preview, visible=spoken.preview is not None)
        cost = show_cost(sessions, "tts", None, spoken.seconds, mode, typed, language, key,
                         request)  # fmt: skip
        yield fmt.status(said, "info") if said else skip, skip, "", preview, spoken, "line", cost
        events = studio.generate(
            image, None, audio_id=spoken.audio_id, prior_task_id=spoken.task_id,
            audio_seconds=spoken.seconds, prompt=prompt, mode=mode, visitor=visitor,
        )  # fmt: skip
        named = functools.partial(sessions.remember_words, text=typed)  # for its History
        async with contextlib.aclosing(_stream_steps(events, reader, studio, named)) as steps:
            async for status, video, details, phase in steps:
                yield status, video, details, skip, skip, phase, skip


def _text_refused(no_image: bool, typed: str, preview: bool, reader: str) -> str | None:
    """Why a typed text cannot be made (no portrait, no text, a preview asked for: a text
    is made whole), as the status; None when it can."""
    if no_image or not typed:
        return fmt.status(ui_text("need_portrait" if no_image else "need_text", reader), "error")
    if preview:
        return fmt.status(sentence_for("long.text_no_preview"), "error", reader)
    return None


async def _long_text(
    studio: Studio,
    image: Source,
    text: str,
    voice: str,
    language: str,
    speed: float,
    prompt: str | None,
    mode: str,
    visitor: Any,
    reader: str,
    sessions: Sessions | None = None,
) -> AsyncIterator[PageUpdate] | None:
    """The updates of a text longer than one speech a task takes, made as one video
    (`LongTextRun`: its groups' speech kept in the journal, so the same text pressed
    again pays nothing again); None for a text one speech takes. Its History entry (one
    for the speech) is captioned with the text's first words, as a short text's is."""
    speech = TextSpeech(text, voice, language or None, speed)
    try:
        run = await asyncio.to_thread(
            long_text_run, studio, image, speech, prompt=prompt, mode=mode, visitor=visitor
        )
    except AvatarError as error:
        return _said(fmt.verdict_error(error, reader))
    if run is None:
        return None
    if sessions is not None:
        sessions.remember_words(ENTRY_PREFIX + run.key, " ".join(text.split()))
    return _long_steps(run.run(), studio, reader)


async def _said(status: str) -> AsyncIterator[PageUpdate]:
    skip = gr.skip()
    yield status, skip, "", skip, skip, "done", skip


async def _long_steps(
    events: AsyncIterator[Progress], studio: Studio, reader: str
) -> AsyncIterator[PageUpdate]:
    """A long text's updates; until its first part is journaled its phase is "speech"
    (Stop says the speech may still be made, not that nothing is charged)."""
    skip = gr.skip()
    parts = False

    async def noting() -> AsyncIterator[Progress]:
        nonlocal parts
        async with contextlib.aclosing(events):
            async for progress in events:
                parts = parts or progress.step is not Step.PREPARING
                yield progress

    async with contextlib.aclosing(_stream_steps(noting(), reader, studio)) as steps:
        async for status, video, details, phase in steps:
            phase = phase if parts or phase != "line" else "speech"
            yield status, video, details, skip, skip, phase, skip


async def stopped_at(
    sessions: Sessions, phase: str | None, request: gr.Request | None = None
) -> tuple[str, Update, Update, Update]:
    """Stop: (the status, Stop hidden, Generate back, the History), handed to the page after
    every update the stopped Generate will show (ui/page_runs.py: it shows nothing more).
    What it says is what is true at that moment: in line (nothing sent, nothing charged),
    being sent, or sent (the task goes on and will appear in History); not knowing how far
    it got, what is true in every case (if the provider took it, it will appear in
    History). Where the video will appear in History, the History is opened and the
    sentence links to it (the page's script brings it into view: ui/assets.py)."""
    key = STOP_SENTENCES.get(phase or "", "stopped_sending")
    sentence = fmt.status(str(page_text(key)), "stopped")
    await sessions.runs.stop(request, sentence)
    in_history = key in IN_HISTORY
    return (
        sentence,
        gr.update(visible=False),
        gr.update(interactive=True),
        gr.update(open=True) if in_history else gr.skip(),
    )


def readiness(
    image_path: str | None,
    image_url: str | None,
    voice_source: str,
    audio_path: str | None,
    audio_url: str | None,
    text: str | None,
    phase: str | None,
) -> Update:
    """The status before anything was made: "press Generate" once a face and a voice (a
    recording, its web address or a typed text) are in (an example fills both at once),
    else what to add. Once a job ran, its own sentence stays."""
    if phase:
        return gr.skip()
    face = _source(image_path, image_url) is not None
    if voice_source == "tts":
        voice = bool((text or "").strip())
    else:
        voice = _source(audio_path, audio_url) is not None
    return str(page_text("ready_to_generate" if face and voice else "ready"))


def running_buttons() -> tuple[Update, Update, Update]:
    """While a job runs: Stop shown, Generate not pressable twice, no "Make another"."""
    return gr.update(visible=True), gr.update(interactive=False), gr.update(visible=False)


def idle_buttons(video: str | None) -> tuple[Update, Update, Update]:
    """Once it ended: Stop hidden, Generate back, "Make another" under a video."""
    return gr.update(visible=False), gr.update(interactive=True), gr.update(visible=bool(video))


def clear_result() -> tuple[None, str, Update]:
    """On Generate, at once: the previous video, its details and its SIMULATED badge go
    (a cold tester took the old video under a new run for the new one, done); the inputs
    stay as they are."""
    return None, "", gr.update(visible=False)


def make_another() -> tuple[str, None, str, Update, str]:
    """A fresh start for the result: (status, video, details, Make another, phase)."""
    return str(page_text("ready_again")), None, "", gr.update(visible=False), ""


def badge_for(sessions: Sessions, video: str | None, key: str | None) -> Update:
    """The SIMULATED badge over a demo video, in the page's language."""
    return gr.update(visible=bool(video) and sessions.default.demo and not sessions.pasted(key))


def show_style(style: str, request: gr.Request | None = None) -> str:
    """The prompt of a named style, in the visitor's language (the text stays editable)."""
    return ui_text(fmt.style_key(style), visitor_language(request))


def page_language(request: gr.Request | None = None) -> tuple[Update, ...]:
    """On load: the speech's language, its voices and the prompt follow the page's
    language, and the examples in it are shown."""
    language = visitor_language(request)
    return (
        gr.update(value=language),
        gr.update(choices=voice_choices(language), value=DEFAULT_VOICES[language]),
        gr.update(value=ui_text(fmt.style_key(None), language)),
        gr.update(visible=language == "en"),
        gr.update(visible=language == "zh"),
    )


def example_labels(language: str) -> list[str]:
    """What each example is, in words of the page's language (in example_rows' order)."""
    keys = ("example_recorded", "example_typed_1", "example_typed_2")
    if language == "zh":
        keys = (keys[1], keys[2], keys[0])
    return [ui_text(key, language) for key in keys]


# The examples' face is a woman astronaut: their texts are spoken by a woman's voice of
# the page's language (the default voices are a man's and, in Chinese, a boy's).
EXAMPLE_VOICES = {"en": "chengshu_jiejie", "zh": "girlfriend_2_speech02"}  # Grace, 职场女青


def example_rows(assets: Path, language: str) -> list[list[Any]]:
    """The examples for a page in `language`: (face, voice kind, recording, text, prompt,
    text to speech voice); the recording is English speech made here, the texts are
    spoken by text to speech in a voice that fits the face."""
    face, recording = str(assets / "astronaut.jpg"), str(assets / "hello.mp3")
    first, second = (ui_text(key, language) for key in ("example_text_1", "example_text_2"))
    style = {name: ui_text(fmt.style_key(name), language) for name in fmt.PROMPT_STYLES}
    voice = EXAMPLE_VOICES[language]
    rows = [
        [face, "tts", None, first, style["friendly"], voice],
        [face, "tts", None, second, style["calm"], voice],
        [face, "file", recording, "", style["lively"], voice],
    ]
    return rows if language == "zh" else [rows[2], rows[0], rows[1]]


# --- the programmatic API (English, unless the request's Accept-Language asks for zh) -----


def _error(message: str) -> gr.Error:
    """An error for the caller; the console gets no traceback for an expected refusal."""
    return gr.Error(message, print_exception=False)


async def _video_of(events: AsyncIterator[Progress], language: str = "en") -> str:
    """The finished video of a flow, as a copy for the caller; its error as gr.Error."""
    try:
        done = await final_progress(events)
        return await asyncio.to_thread(page_copy, done.video_path)
    except AvatarError as error:
        raise _error(error.in_language(language)) from None


async def api_generate(
    sessions: Sessions,
    image_path: str | None,
    audio_path: str | None,
    prompt: str | None,
    mode: str,
    key: str | None,
    browser: str | None = None,
    request: gr.Request | None = None,
) -> str:
    """`/generate`: the finished video; errors reach the caller as their sentence."""
    if not image_path or not audio_path:
        raise _error(ui_text("api_need_inputs", visitor_language(request)))
    visitor = sessions.visitor(browser, request)
    with sessions.using(key) as studio:
        events = make_video(  # one job, or a long voice's parts and join
            studio, Path(image_path), Path(audio_path), prompt=prompt, mode=mode, visitor=visitor
        )
        return await _video_of(events, visitor_language(request))


async def api_status(
    sessions: Sessions, task_id: str | None, key: str | None,
    browser: str | None = None, request: gr.Request | None = None,
) -> str:  # fmt: skip
    """`/status`: follow one of the caller's tasks to the end; its video."""
    task_id = (task_id or "").strip()
    if not task_id:
        raise _error(ui_text("api_need_task_id", visitor_language(request)))
    visitor = sessions.visitor(browser, request)
    with sessions.using(key) as studio:
        return await _video_of(studio.follow(task_id, visitor=visitor), visitor_language(request))


# --- a person's own key ------------------------------------------------------------------


def use_key(
    sessions: Sessions, key_text: str | None, request: gr.Request | None = None
) -> tuple[Update, str, Update, str]:
    """(the session's key, the emptied key box, the demo banner, a note) for a pasted key.

    An empty box forgets the key. A key the provider refuses is not taken; one that could
    not be checked just now is taken, saying so. Nothing is kept for a key before the
    provider has accepted it.
    """
    key = (key_text or "").strip() or None
    if key is None:
        return None, "", gr.update(visible=sessions.default.demo), str(page_text("key_forgotten"))
    try:
        sessions.try_key(key, request)
    except (AuthenticationError, PermissionDeniedError, SettingsError) as error:
        return gr.skip(), "", gr.skip(), fmt.verdict_error(error, visitor_language(request))
    except AvatarError as error:
        why = error.in_language(visitor_language(request))
        return key, "", gr.update(visible=False), f"{page_text('key_used_unchecked')} {why})"
    return key, "", gr.update(visible=False), str(page_text("key_used"))


def forget_key(sessions: Sessions) -> tuple[Update, str, Update, str]:
    """Back to the app's own key (or demo mode)."""
    return use_key(sessions, "")


def run_doctor(sessions: Sessions, key: str | None, request: gr.Request | None = None) -> str:
    """The doctor's report (free requests only) for this session's key, to paste into a
    bug report; the key is not in it."""
    with sessions.using(key) as studio:
        try:  # the app's own key's latest job is some visitor's: its ids are not shown
            report = studio.diagnose(
                ask_about_a_job=studio is not sessions.default, visitor=sessions.asker(request)
            )
        except AvatarError as error:
            return fmt.verdict_error(error, visitor_language(request))
    return fmt.doctor_report(report.text())


def api_use_key(sessions: Sessions, key: str | None) -> Update:
    """`/use_key`: the session's key state only (the key is never returned to the caller:
    gradio_client does not receive State outputs)."""
    return use_key(sessions, key)[0]


# --- the visitor: history and what is left today ------------------------------------------


def refresh_history(
    sessions: Sessions,
    key: str | None = None,
    browser: str | None = None,
    request: gr.Request | None = None,
) -> list[list[Any]]:
    """The visitor's jobs: on the app's own key, those it asked for (everyone's when the
    operator shares the history); on a pasted key, those made with that key."""
    visitor = sessions.visitor(browser, request)
    with sessions.using(key) as studio:
        return fmt.history_rows(studio.history(visitor), visitor_language(request))


def pick_history(
    sessions: Sessions,
    key: str | None,
    row: Sequence[Any] | None,
    browser: str | None = None,
    request: gr.Request | None = None,
) -> tuple[str | None, str]:
    """(video, note) for a history row picked by this visitor (a job id it may not see
    shows nothing)."""
    job_id = str(row[-1]) if row else ""
    if not job_id:
        return None, ""
    visitor = sessions.visitor(browser, request)
    with sessions.using(key) as studio:
        job = studio.job_of(visitor, job_id)
    if job is None:
        return None, ""
    note = fmt.history_note(job, visitor_language(request), sessions.words_of(job.job_id))
    if not video_stored(job):
        return None, note
    try:
        video = page_copy(job.video_path or "")
    except AvatarError:
        return None, note
    return video, note


REFRESHED_AT_ONCE = 5  # unfinished jobs asked about when the History is shown
REFRESH_WAIT_S = 20.0  # the longest a History waits for those answers


async def _look_again(studio: Studio, visitor: Any, task_id: str) -> None:
    """Ask the provider once about one unfinished task (through the studio's request
    budget); a finished one's video is brought home. A task still running stays so."""
    follow = studio.follow(task_id, visitor=visitor)
    async with contextlib.aclosing(follow):
        async for progress in follow:
            if progress.step is Step.RUNNING:
                return  # still being made: the next History look asks again


async def refresh_unfinished(studio: Studio, visitor: Any, jobs: list[Any]) -> bool:
    """Bring the visitor's unfinished jobs up to date (a job stopped on the page may have
    finished at the provider since), then join a speech whose parts are all home; whether
    any was asked about or joined."""
    looked = await _ask_unfinished(studio, visitor, jobs)
    if looked:
        jobs = await asyncio.to_thread(studio.history, visitor)
    return await join_made_speeches(studio, jobs) or looked


async def _ask_unfinished(studio: Studio, visitor: Any, jobs: list[Any]) -> bool:
    """Ask the provider about the unfinished jobs (a speech's parts); whether any was."""
    each = [part for job in jobs for part in getattr(job, "parts", ()) or (job,)]  # a speech's
    unfinished = [job.task_id for job in each
                  if job.task_id and job.stage in (Stage.RUNNING, Stage.DOWNLOADING)]  # fmt: skip
    if not unfinished:
        return False
    looks = [_look_again(studio, visitor, task) for task in unfinished[:REFRESHED_AT_ONCE]]
    with contextlib.suppress(asyncio.TimeoutError):
        results = await asyncio.wait_for(
            asyncio.gather(*looks, return_exceptions=True), REFRESH_WAIT_S
        )
        for result in results:  # an error is the job's own: the History shows its state
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
    return True


async def history_gallery(
    sessions: Sessions,
    key: str | None = None,
    browser: str | None = None,
    request: gr.Request | None = None,
) -> tuple[list[tuple[str, str]], list[str]]:
    """The History as pictures: (first frame or a blank, its state in words) for each of
    the visitor's jobs, newest first, and their job ids; unfinished ones asked about
    first."""
    visitor = sessions.visitor(browser, request)
    language = visitor_language(request)
    with sessions.using(key) as studio:
        jobs = await asyncio.to_thread(studio.history, visitor)
        if await refresh_unfinished(studio, visitor, jobs):
            jobs = await asyncio.to_thread(studio.history, visitor)
        items = await asyncio.to_thread(_gallery_items, sessions, studio, jobs, language)
    return items, [job.job_id for job in jobs]


def _gallery_items(
    sessions: Sessions, studio: Studio, jobs: list[Any], language: str
) -> list[tuple[str, str]]:
    items = []
    for job in jobs:
        picture = first_frame(job.video_path) if video_stored(job) else None
        try:
            shown = page_copy(picture or blank_picture(studio.settings.data_dir))
        except AvatarError:
            continue
        items.append((shown, fmt.history_caption(job, language, sessions.words_of(job.job_id))))
    return items


def pick_from_gallery(
    sessions: Sessions,
    key: str | None,
    browser: str | None,
    jobs: list[str] | None,
    event: gr.SelectData,
    request: gr.Request,
) -> tuple[Update, str]:
    """A picture picked in the History: its video (the player shown only with one: no
    empty box before a picture is chosen) and one line (a failed job's sentence)."""
    index = event.index if isinstance(event.index, int) else -1
    job_id = (jobs or [])[index] if 0 <= index < len(jobs or []) else ""
    video, note = pick_history(sessions, key, [job_id], browser, request)
    return gr.update(value=video, visible=video is not None), note


def show_allowance(
    sessions: Sessions,
    key: str | None,
    browser: str | None = None,
    request: gr.Request | None = None,
) -> str:
    """What the visitor has left today ("" when no daily limit applies)."""
    if sessions.pasted(key):
        return str(page_text("allowance_own_key"))
    allowance = sessions.default.allowance(sessions.visitor(browser, request))
    return fmt.allowance_text(allowance, visitor_language(request))


def open_page(
    sessions: Sessions,
    browser_id: str | None,
    key: str | None,
    request: gr.Request | None = None,
) -> tuple[str, str, Update, str]:
    """On page load: (the browser's visitor id, kept in the browser and in the session,
    the visitor's history with its headers in the visitor's language, what it has left
    today). A browser without a plausible id gets a new one."""
    if not _plausible_id(browser_id):
        browser_id = new_browser_id()
    rows = refresh_history(sessions, key, browser_id, request)
    table = gr.update(value=rows, headers=fmt.history_headers(visitor_language(request)))
    return browser_id, browser_id, table, show_allowance(sessions, key, browser_id, request)


def _plausible_id(browser_id: object) -> bool:
    """An id `new_browser_id` could have made (anything else a browser sends is replaced)."""
    return isinstance(browser_id, str) and BROWSER_ID.fullmatch(browser_id) is not None
