"""Every input of a create request, checked together: all problems are reported at once.

Each part has its own preparer (image_prep, audio_prep, request_fields), so the UI can
check the portrait alone as soon as it is dropped in; `prepare_inputs` runs them all and
gathers every problem into one InputError, so a person can fix everything in one go.
"""

from __future__ import annotations

from dataclasses import dataclass

from .audio_prep import PreparedAudio, prepare_audio
from .errors import InputError
from .image_prep import PreparedImage, prepare_image
from .request_fields import DEFAULT_PROMPT, check_audio_choice, check_mode, clean_prompt
from .sources import Source


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
        lines += [f"  fixed: {change}" for change in self.image.changes]
        lines += [f"  warning: {warning}" for warning in self.image.warnings]
        if self.audio is not None:
            lines.append(self.audio.summary())
            lines += [f"  fixed: {change}" for change in self.audio.changes]
            lines += [f"  warning: {warning}" for warning in self.audio.warnings]
        else:
            lines.append(f"Audio: Kling text-to-speech audio_id {self.audio_id}.")
        if self.prompt == DEFAULT_PROMPT:
            lines.append(f'Prompt: none given, so the default: "{self.prompt}"')
        else:
            lines.append(f"Prompt: {len(self.prompt)} characters.")
        lines.append(f"Mode: {self.mode}.")
        return lines


def _blank(source: Source | None) -> bool:
    return source is None or (isinstance(source, str) and not source.strip())


def prepare_inputs(
    image: Source,
    audio: Source | None = None,
    *,
    audio_id: str | None = None,
    prompt: str | None = None,
    mode: str | None = "std",
    trim: bool = False,
    allow_private_urls: bool = False,
) -> PreparedInputs:
    """Check and fix every input; raises one InputError listing every problem."""
    problems: list[InputError] = []

    def attempt(check, *args, **kwargs):
        try:
            return check(*args, **kwargs)
        except InputError as error:
            problems.append(error)
            return None

    has_audio = not _blank(audio)
    if _blank(image):
        problems.append(
            InputError(
                "No image was given; add a portrait (JPG or PNG, each side at least 300 px).",
                field="image",
            )
        )
        prepared_image = None
    else:
        prepared_image = attempt(prepare_image, image, allow_private_urls=allow_private_urls)
    cleaned_id = attempt(check_audio_choice, has_audio, audio_id)
    prepared_audio = None
    if has_audio:
        prepared_audio = attempt(
            prepare_audio, audio, trim=trim, allow_private_urls=allow_private_urls
        )
    cleaned_prompt = attempt(clean_prompt, prompt)
    cleaned_mode = attempt(check_mode, mode)
    if problems:
        raise InputError.gather(problems)
    return PreparedInputs(
        image=prepared_image,
        audio=prepared_audio,
        audio_id=cleaned_id,
        prompt=cleaned_prompt,
        mode=cleaned_mode,
    )
