"""Checking a text-to-speech request before it is paid for."""

from __future__ import annotations

from avatar_core.errors import InputError
from avatar_core.provider.voices import (
    TTS_LANGUAGES,
    TTS_MAX_CHARS,
    TTS_MAX_SPEED,
    TTS_MIN_SPEED,
    voice_language,
)


def check_speech_request(
    text: str, voice_id: str, language: str | None, speed: float
) -> tuple[str, str, float]:
    """The cleaned (text, language, speed); raises InputError naming each problem."""
    problems: list[InputError] = []
    text = " ".join((text or "").split())
    if not text:
        problems.append(
            InputError("The speech text is empty: type what the avatar should say.", field="text")
        )
    elif len(text) > TTS_MAX_CHARS:
        problems.append(
            InputError(
                f"The speech text has {len(text)} characters; Kling speaks at most "
                f"{TTS_MAX_CHARS}: shorten it.",
                field="text",
            )
        )
    known = voice_language(voice_id)
    language = (language or known or "en").strip().lower()
    if language not in TTS_LANGUAGES:
        problems.append(
            InputError(
                f"The speech language is '{language}'; Kling speaks {' or '.join(TTS_LANGUAGES)}: "
                "pick one of those.",
                field="voice_language",
            )
        )
    elif known is not None and known != language:
        problems.append(
            InputError(
                f"The voice '{voice_id}' speaks '{known}', not '{language}': pick a voice of that "
                "language.",
                field="voice_id",
            )
        )
    if not voice_id:
        problems.append(InputError("No voice is chosen: pick a voice.", field="voice_id"))
    try:
        speed = round(float(speed), 1)
    except (TypeError, ValueError):
        speed = -1.0
    if not TTS_MIN_SPEED <= speed <= TTS_MAX_SPEED:
        problems.append(
            InputError(
                f"The speech speed is {speed}; Kling takes {TTS_MIN_SPEED} to {TTS_MAX_SPEED}: "
                "pick a speed in that range.",
                field="voice_speed",
            )
        )
    if problems:
        raise InputError.gather(problems)
    return text, language, speed
