"""The catalogue's earlier name, until every import says `avatar_core.catalogue`."""

from avatar_core.catalogue import (
    LANGUAGES,
    Language,
    Message,
    in_language,
    language_of,
    message_from_json,
    message_to_json,
    say,
    sentence_for,
)

__all__ = [
    "LANGUAGES",
    "Language",
    "Message",
    "in_language",
    "language_of",
    "message_from_json",
    "message_to_json",
    "say",
    "sentence_for",
]
