"""Checking a text-to-speech request before it is paid for, and its speech when it comes
back, before any avatar task is."""

from __future__ import annotations

from avatar_core.catalogue import sentence_for
from avatar_core.errors import InputError
from avatar_core.inputs.audio import MAX_SECONDS, MIN_SECONDS
from avatar_core.inputs.text import check_text
from avatar_core.provider.models import SpeechResult
from avatar_core.provider.voices import (
    LANGUAGE_NAMES,
    TTS_LANGUAGES,
    TTS_MAX_CHARS,
    TTS_MAX_SPEED,
    TTS_MIN_SPEED,
    languages_of,
)


def check_speech_request(
    text: str, voice_id: str, language: str | None, speed: float
) -> tuple[str, str, float]:
    """The cleaned (text, language, speed); raises InputError naming each problem.

    `language` None: the voice's first language (English for an unlisted id).
    """
    malformed = _malformed(text, voice_id, language)
    if malformed:
        raise InputError.gather(malformed)
    problems: list[InputError] = []
    text = " ".join((text or "").split())
    if not text:
        problems.append(InputError(sentence_for("speech.empty"), field="text"))
    elif len(text) > TTS_MAX_CHARS:
        problems.append(
            InputError(
                sentence_for("speech.too_long_text", length=len(text), maximum=TTS_MAX_CHARS),
                field="text",
            )
        )
    known = languages_of(voice_id)
    language = (language or (known[0] if known else "en")).strip().lower()
    if language not in TTS_LANGUAGES:
        problems.append(
            InputError(
                sentence_for("speech.language", language=language, known=" / ".join(TTS_LANGUAGES)),
                field="voice_language",
            )
        )
    elif known and language not in known:
        spoken = [sentence_for("speech.language_name", name=LANGUAGE_NAMES[each]) for each in known]
        problems.append(
            InputError(
                sentence_for(
                    "speech.voice_language",
                    voice_id=voice_id,
                    spoken=spoken[0]
                    if len(spoken) == 1
                    else sentence_for("speech.and", first=spoken[0], second=spoken[-1]),
                    language=LANGUAGE_NAMES[language],
                ),
                field="voice_id",
            )
        )
    if not voice_id:
        problems.append(InputError(sentence_for("speech.no_voice"), field="voice_id"))
    try:
        speed = round(float(speed), 1)
    except (TypeError, ValueError):
        speed = -1.0
    if not TTS_MIN_SPEED <= speed <= TTS_MAX_SPEED:
        problems.append(
            InputError(
                sentence_for(
                    "speech.speed", speed=speed, minimum=TTS_MIN_SPEED, maximum=TTS_MAX_SPEED
                ),
                field="voice_speed",
            )
        )
    if problems:
        raise InputError.gather(problems)
    return text, language, speed


def _malformed(text: str, voice_id: str, language: str | None) -> list[InputError]:
    """A sentence for each field holding a control character, NUL or lone surrogate
    (checked first: the other checks quote these fields)."""
    fields = (("speech text", "text", text, True), ("voice id", "voice_id", voice_id, False),
              ("speech language", "voice_language", language, False))  # fmt: skip
    found = []
    for what, field, value, multiline in fields:
        try:
            check_text(value or "", what=what, field=field, multiline=multiline)
        except InputError as error:
            found.append(error)
    return found


def check_speech_length(speech: SpeechResult) -> None:
    """Raises InputError when the speech is too short or too long to drive an avatar.

    The speech is already made (and paid for) but no avatar task is: a 75 s speech would
    be refused at create. A speech whose length the provider does not report passes.
    """
    seconds = speech.duration_s
    if seconds is None or MIN_SECONDS <= seconds <= MAX_SECONDS:
        return
    fix = (
        sentence_for("speech.shorten") if seconds > MAX_SECONDS else sentence_for("speech.say_more")
    )
    raise InputError(
        sentence_for(
            "speech.length",
            seconds=seconds,
            minimum=MIN_SECONDS,
            maximum=MAX_SECONDS,
            fix=fix,
        ),
        field="text",
    )
