"""Every sentence the core shows people, in English and Chinese, from one catalogue.

A sentence is written where it is said as `say("image.too_small", width=..., ...)`: a
`Message`, a `str` whose text is the English sentence (so logs, tests and the
programmatic API read it as before) that keeps its key and parameters, so the page and
the command line can show it in the reader's language with `in_language(text, "zh")`.
"""

from avatar_core.words.catalogue import (
    LANGUAGES,
    Language,
    Message,
    in_language,
    language_of,
    say,
)
from avatar_core.words.kept import message_from_json, message_to_json

__all__ = [
    "LANGUAGES",
    "Language",
    "Message",
    "in_language",
    "language_of",
    "message_from_json",
    "message_to_json",
    "say",
]
