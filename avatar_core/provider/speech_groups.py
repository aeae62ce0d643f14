"""A long text to speak, in groups of sentences that each become one part of the speech.

The provider's text to speech takes at most `TTS_MAX_CHARS` characters a request, and the
speech of each request must fit one avatar task (the profile's part limit). So a long
text is spoken group by group, and each group's speech is one part: the parts follow the
sentences, and no sentence is cut unless it alone is too long for a part (then at a
comma, else between words, else between characters).

How long a text speaks is estimated before anything is paid for (`estimated_seconds`): a
Chinese character (or any CJK character) about 1/4.5 s, any other letter or digit about
1/14 s, at speed 1.0. Real speech varies, so a group aims at `PART_FILL` of the part
limit; the length of each speech is still checked when it comes back.
"""

from __future__ import annotations

import re

from avatar_core.catalogue import sentence_for
from avatar_core.errors import InputError
from avatar_core.provider.voices import TTS_MAX_CHARS
from avatar_core.units import format_seconds

DEFAULT_MAX_SPEECH_S = 600.0  # AVATAR_MAX_SPEECH_SECONDS when the operator sets none
CJK_CHARS_PER_S = 4.5
OTHER_CHARS_PER_S = 14.0
PART_FILL = 0.75

_CJK = re.compile("[\u3400-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")
_SPOKEN = re.compile(r"\w")
# a sentence ends after . ! ? … (and a closing quote or bracket) before a space, after
# 。！？ (and a closing quote) whatever follows, and at a line break
_SENTENCE_END = re.compile(
    r"(?<=[.!?…])\s+|(?<=[.!?…][\"')\]”’])\s+|(?<=[。！？])(?![」』”’）])|(?<=[。！？][」』”’）])|\n"
)
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+|(?<=[，；：、])\s*")


def estimated_seconds(text: str, speed: float = 1.0) -> float:
    """About how long `text` speaks at `speed` (see the module's docstring)."""
    cjk = len(_CJK.findall(text))
    other = len(_SPOKEN.findall(text)) - cjk
    return (cjk / CJK_CHARS_PER_S + other / OTHER_CHARS_PER_S) / speed


def sentences(text: str) -> list[str]:
    """The sentences of `text`, each with its end mark, blank ones left out (a paragraph
    break and a line break end a sentence too)."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def _pieces(sentence: str, fits) -> list[str]:
    """`sentence` itself when it fits, else cut at clauses, then words, then characters."""
    if fits(sentence):
        return [sentence]
    for splitter in (_CLAUSE_END, re.compile(r"\s+")):
        parts = [part for part in splitter.split(sentence) if part.strip()]
        if len(parts) > 1:
            return _packed(parts, fits)
    half = len(sentence) // 2
    return _pieces(sentence[:half], fits) + _pieces(sentence[half:], fits)


def joined_text(a: str, b: str) -> str:
    """Two pieces of text as one: a space between them unless CJK punctuation ends the
    first (Chinese runs on without spaces)."""
    if not a:
        return b
    return a + b if _CJK.search(a[-1]) or a[-1] in "。！？，；：、」』”’）" else a + " " + b


def _packed(parts: list[str], fits) -> list[str]:
    """`parts` packed in order into as few groups as fit."""
    groups: list[str] = []
    current = ""
    for part in parts:
        for piece in _pieces(part, fits):
            candidate = joined_text(current, piece)
            if current and not fits(candidate):
                groups.append(current)
                candidate = piece
            current = candidate
    if current:
        groups.append(current)
    return groups


def group_text(
    text: str,
    *,
    max_part_s: float,
    max_speech_s: float = DEFAULT_MAX_SPEECH_S,
    speed: float = 1.0,
    max_chars: int = TTS_MAX_CHARS,
) -> list[str]:
    """The groups of sentences of `text`, in order, each at most `max_chars` and about
    `PART_FILL` × `max_part_s` of speech; InputError (one sentence) when the whole text
    would speak longer than `max_speech_s`, or is empty."""
    said = sentences(text)
    if not said:
        raise InputError(sentence_for("speech.empty"), field="text")
    seconds = estimated_seconds(text, speed)
    if seconds > max_speech_s:
        raise InputError(
            sentence_for(
                "speech.text_too_long",
                seconds=format_seconds(seconds),
                characters=len(text),
                maximum=format_seconds(max_speech_s),
            ),
            field="text",
        )
    budget = max_part_s * PART_FILL

    def fits(group: str) -> bool:
        return len(group) <= max_chars and estimated_seconds(group, speed) <= budget

    return _packed(said, fits)
