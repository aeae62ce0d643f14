"""The small fields of a create request: prompt, mode, the choice of voice source, task ids."""

from __future__ import annotations

import re

from avatar_core.catalogue import sentence_for
from avatar_core.errors import InputError
from avatar_core.inputs.text import check_text

DEFAULT_PROMPT = (  # without an expressive prompt the avatar tends to stare
    "The person speaks naturally to the camera, with natural facial expressions, natural "
    "blinking and subtle head movements."
)
MAX_PROMPT_CHARS = 2500
MODES = ("std", "pro")
MAX_AUDIO_ID_CHARS = 200

_SPACES = re.compile(r"[^\S\n]+")  # whitespace runs other than newlines
_BLANK_LINES = re.compile(r"\n{3,}")


def check_task_id(task_id: str | None) -> str:
    """A task id (or one of this app's job ids) as typed, without surrounding spaces;
    InputError when it holds a control character, NUL or lone surrogate (it goes into the
    provider's URLs and the journal's queries)."""
    return check_text((task_id or "").strip(), what="task id", field="task_id")


def clean_prompt(prompt: str | None) -> str:
    """The prompt as it will be sent: tidy, never empty, at most 2500 characters.

    A control character other than a line break or a tab (an escape sequence, NUL, a lone
    surrogate) is refused in one sentence; runs of spaces become one space, more than one
    blank line becomes one, and an empty prompt becomes DEFAULT_PROMPT (CometAPI refuses
    requests without one).
    """
    text = check_text(prompt or "", what="prompt", field="prompt", multiline=True)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = _BLANK_LINES.sub("\n\n", text).strip()
    if not text:
        return DEFAULT_PROMPT
    if len(text) > MAX_PROMPT_CHARS:
        raise InputError(
            sentence_for(
                "prompt.too_long",
                length=len(text),
                maximum=MAX_PROMPT_CHARS,
                over=len(text) - MAX_PROMPT_CHARS,
            ),
            field="prompt",
        )
    return text


def check_mode(mode: str | None) -> str:
    """`std` or `pro` (case and spaces forgiven); empty means `std`."""
    check_text(mode or "", what="mode", field="mode")
    cleaned = (mode or "").strip().lower() or MODES[0]
    if cleaned not in MODES:
        shown = (mode or "").strip()[:40]
        raise InputError(sentence_for("mode.unknown", mode=shown), field="mode")
    return cleaned


def check_audio_choice(has_sound_file: bool, audio_id: str | None) -> str | None:
    """Exactly one voice source: a sound file or a Kling TTS `audio_id`.

    Returns the cleaned audio_id (None when the sound file is the voice).
    """
    cleaned = check_text((audio_id or "").strip(), what="audio_id", field="audio_id") or None
    if has_sound_file and cleaned:
        raise InputError(sentence_for("voice.both"), field="audio")
    if not has_sound_file and not cleaned:
        raise InputError(sentence_for("voice.none"), field="audio")
    odd = cleaned is not None and any(c.isspace() or not c.isprintable() for c in cleaned)
    if cleaned and (odd or len(cleaned) > MAX_AUDIO_ID_CHARS):
        raise InputError(
            sentence_for("voice.bad_audio_id", audio_id=cleaned[:40], maximum=MAX_AUDIO_ID_CHARS),
            field="audio_id",
        )
    return cleaned
