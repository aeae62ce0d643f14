"""The `Message` that carries a catalogued key (avatar_core/catalogue/loader.py) and its
parameters, rendered in any language.

Templates use `str.format` fields by name (`{seconds:.1f}`). A parameter that is itself a
`Message` is rendered in the same language, a list of them is joined as the language
joins sentences; anything else (a file name, the provider's own words) is shown as it is.
`{what!n}` names a thing by its English noun ("image", "audio"): the key `noun.<value>`
gives its name in the language (the noun itself when the catalogue has none). `{place!o}`
is a number as a place: "3rd" in English, "3" where the template says the rest ("第 3 位").
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from typing import Any

from avatar_core.catalogue.loader import LANGUAGES, Language, known, template

_SENTENCE_GAP = {"en": " ", "zh": ""}  # between sentences joined into one text


def _value(value: Any, language: str) -> Any:
    if isinstance(value, Message):
        return value.in_language(language)
    if isinstance(value, (list, tuple)):
        gap = _SENTENCE_GAP.get(language, " ")
        return gap.join(str(_value(item, language)) for item in value)
    return value


class _Formatter(string.Formatter):
    def __init__(self, language: str) -> None:
        self.language = language

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion == "n":
            noun = f"noun.{value}"
            return template(noun, self.language) if known(noun) else value
        if conversion == "o":
            return _ordinal(int(value)) if self.language == "en" else str(value)
        return super().convert_field(value, conversion)


def _ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st…"""
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th') }"


_FORMATTERS = {language: _Formatter(language) for language in LANGUAGES}


def _render(key: str, language: str, params: dict[str, Any]) -> str:
    values = {name: _value(v, language) for name, v in params.items()}
    return _FORMATTERS[language].vformat(template(key, language), (), values)


class Message(str):
    """One catalogued sentence: `str()` is its English text; `in_language` the others."""

    key: str
    params: dict[str, Any]

    def __new__(cls, key: str, params: dict[str, Any] | None = None) -> Message:
        params = dict(params or {})
        message = super().__new__(cls, _render(key, "en", params))
        message.key = key
        message.params = params
        return message

    def in_language(self, language: str) -> str:
        """The sentence in `language` ("en" or "zh"; any other gives English)."""
        return _render(self.key, language if language in LANGUAGES else "en", self.params)

    def __reduce__(self):  # pickles (and copies) as a Message, not as a bare str
        return (Message, (self.key, self.params))


def sentence_for(key: str, /, **params: Any) -> Message:
    """The catalogued sentence `key` ("page:intro"; a bare key is the core's) with its
    parameters (a KeyError for an unknown key)."""
    if not known(key):
        template(key, "en")  # raises the KeyError naming the namespace's file
    return Message(key, params)


def in_language(text: object, language: str) -> str:
    """`text` in `language` when it is a catalogued `Message`, else `str(text)` unchanged
    (a job's error journaled by an earlier release, a path, the provider's own words)."""
    if isinstance(text, Message):
        return text.in_language(language)
    message = getattr(text, "message", None)  # an AvatarError keeps its Message
    if isinstance(message, Message):
        return message.in_language(language)
    return "" if text is None else str(text)


def language_of(tags: str | Iterable[str] | None) -> Language:
    """ "zh" when the first language a reader asks for is Chinese (an Accept-Language
    header "zh-CN,zh;q=0.9,en;q=0.8", or a locale "zh_CN.UTF-8"), else "en"."""
    if tags is None:
        return "en"
    if isinstance(tags, str):
        tags = tags.split(",")
    for tag in tags:
        name = tag.split(";")[0].strip().lower()
        if not name or name == "*":
            continue
        return "zh" if name.split("-")[0].split("_")[0] == "zh" else "en"
    return "en"
