"""Every input of a create request, checked together: all problems are reported at once.

Each part has its own preparer (`image.py`, `audio.py`, `fields.py`), so the UI can
check the portrait alone as soon as it is dropped in; `InputPreparer.prepare` runs them all and
gathers every problem into one InputError, so a person can fix everything in one go.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from avatar_core.catalogue import sentence_for
from avatar_core.errors import InputError
from avatar_core.inputs.audio import PreparedAudio, prepare_audio
from avatar_core.inputs.cache import PreparedCache
from avatar_core.inputs.faces import face_warnings
from avatar_core.inputs.fields import DEFAULT_PROMPT, check_audio_choice, check_mode, clean_prompt
from avatar_core.inputs.image import PreparedImage, prepare_image
from avatar_core.inputs.sources import Source, require_web_address

T = TypeVar("T")

FACE_RESULTS_KEPT = 64  # face counts are tiny; a few dozen recent portraits are enough


@dataclass(frozen=True)
class PreparedInputs:
    """Everything a create request needs, ready to send."""

    image: PreparedImage
    audio: PreparedAudio | None
    audio_id: str | None
    prompt: str
    mode: str

    def report_lines(self) -> list[str]:
        """What was measured, fixed and warned about, one line each, for people."""
        lines = [self.image.summary()]
        lines += [sentence_for("report.fixed", change=change) for change in self.image.changes]
        lines += [
            sentence_for("report.warning", warning=warning) for warning in self.image.warnings
        ]
        if self.audio is not None:
            lines.append(self.audio.summary())
            lines += [sentence_for("report.fixed", change=change) for change in self.audio.changes]
            lines += [
                sentence_for("report.warning", warning=warning) for warning in self.audio.warnings
            ]
        else:
            lines.append(sentence_for("report.audio_id", audio_id=self.audio_id))
        if self.prompt == DEFAULT_PROMPT:
            lines.append(sentence_for("report.default_prompt", prompt=self.prompt))
        else:
            lines.append(sentence_for("report.prompt", length=len(self.prompt)))
        lines.append(sentence_for("report.mode", mode=self.mode))
        return lines


def _attempt(check: Callable[..., T], *args, **kwargs) -> tuple[T | None, InputError | None]:
    try:
        return check(*args, **kwargs), None
    except InputError as error:
        return None, error


def _blank(source: Source | None) -> bool:
    return source is None or (isinstance(source, str) and not source.strip())


class InputPreparer:
    """Prepares inputs for one app: the same bytes are prepared (and looked at for a face)
    once, however many people send them (a size-bounded cache per kind, owned here, not
    by the process).

    `web_only` is for a preparer that strangers' text reaches (the app): a source given as
    text must then be an http(s) address, never a path on this machine; files the app
    received itself come as `Path` objects (or bytes) and are read as they are.
    """

    def __init__(self, *, allow_private_urls: bool = False, web_only: bool = False) -> None:
        self.allow_private_urls = allow_private_urls
        self.web_only = web_only
        self.images: PreparedCache[PreparedImage] = PreparedCache(lambda p: p.size_bytes)
        self.voices: PreparedCache[PreparedAudio] = PreparedCache(lambda p: p.size_bytes)
        self.faces: PreparedCache[int] = PreparedCache(lambda _: 1, max_bytes=FACE_RESULTS_KEPT)

    def image(self, source: Source) -> PreparedImage:
        """The portrait as it would be sent; raises InputError with what is wrong."""
        if self.web_only:
            require_web_address(source, what="image")
        return prepare_image(source, allow_private_urls=self.allow_private_urls, cache=self.images)

    def audio(
        self,
        source: Source,
        *,
        trim: bool = False,
        shorten_pauses: bool = False,
        keep_silence: bool = False,
    ) -> PreparedAudio:
        """The voice as it would be sent; raises InputError with what is wrong."""
        if self.web_only:
            require_web_address(source, what="audio")
        return prepare_audio(
            source,
            trim=trim,
            shorten_pauses=shorten_pauses,
            keep_silence=keep_silence,
            allow_private_urls=self.allow_private_urls,
            cache=self.voices,
        )

    def face_warnings(self, image: PreparedImage) -> tuple[str, ...]:
        """A warning when no face can be found in the portrait (never a refusal)."""
        return face_warnings(image.data, self.faces)

    def prepare(
        self,
        image: Source,
        audio: Source | None = None,
        *,
        trim: bool = False,  # keep the first 60 s of a longer voice
        shorten_pauses: bool = False,  # long pauses inside the speech shortened
        keep_silence: bool = False,  # nothing left out (a long speech's part, cut already)
        audio_id: str | None = None,
        prompt: str | None = None,
        mode: str | None = "std",
    ) -> PreparedInputs:
        """Check and fix every input; raises one InputError listing every problem.

        The portrait and the voice are prepared at the same time: Pillow releases the GIL
        and ffmpeg runs in its own process, so on two cores this nearly halves the wait.
        """
        no_image = InputError(sentence_for("image.none"), field="image")
        has_audio = not _blank(audio)
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="prepare") as pool:
            image_job = None if _blank(image) else pool.submit(_attempt, self.image, image)
            audio_job = (
                pool.submit(
                    _attempt,
                    self.audio,
                    audio,
                    trim=trim,
                    shorten_pauses=shorten_pauses,
                    keep_silence=keep_silence,
                )
                if has_audio
                else None
            )
            choice = _attempt(check_audio_choice, has_audio, audio_id)
            prompt_ = _attempt(clean_prompt, prompt)
            mode_ = _attempt(check_mode, mode)
            image_ = image_job.result() if image_job else (None, no_image)
            audio_ = audio_job.result() if audio_job else (None, None)
        outcomes = (image_, choice, audio_, prompt_, mode_)
        problems = [error for _, error in outcomes if error is not None]
        if problems:
            raise InputError.gather(problems)
        prepared_image, cleaned_id, prepared_audio, cleaned_prompt, cleaned_mode = (
            value for value, _ in outcomes
        )
        return PreparedInputs(
            image=prepared_image,
            audio=prepared_audio,
            audio_id=cleaned_id,
            prompt=cleaned_prompt,
            mode=cleaned_mode,
        )
