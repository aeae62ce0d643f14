"""Kling text-to-speech voices and limits, kept in one editable place.

Some ids listed in public examples are reported invalid by the provider; when one fails
with "Voice id not found", remove it here.
"""

from __future__ import annotations

TTS_MAX_CHARS = 1000
TTS_MIN_SPEED = 0.8
TTS_MAX_SPEED = 2.0
TTS_LANGUAGES = ("en", "zh")

# voice id -> (language, label shown to people)
VOICES: dict[str, tuple[str, str]] = {
    "genshin_vindi2": ("en", "Sunny (young male)"),
    "zhinen_xuesheng": ("en", "Student"),
    "AOT": ("en", "Brave (male)"),
    "ai_shatang": ("en", "Sweet (female)"),
    "genshin_klee2": ("en", "Lively (girl)"),
    "genshin_kirara": ("en", "Cheerful (female)"),
    "ai_kaiya": ("en", "Kaiya (female)"),
    "oversea_male1": ("en", "Narrator (male)"),
    "ai_chenjiahao_712": ("en", "Calm (male)"),
    "cartoon-boy-07": ("en", "Cartoon boy"),
    "uk_boy1": ("en", "British boy"),
    "cartoon-girl-01": ("en", "Cartoon girl"),
    "uk_man2": ("en", "British man"),
    "reader_en_m-v1": ("en", "Reader (male)"),
    "commercial_lady_en_f-v1": ("en", "Commercial (female)"),
}

DEFAULT_VOICE = "oversea_male1"


def voice_language(voice_id: str) -> str | None:
    """The language a known voice speaks, or None for an unknown id."""
    entry = VOICES.get(voice_id)
    return entry[0] if entry else None
