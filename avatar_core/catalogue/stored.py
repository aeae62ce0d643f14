"""A `Message` as text that can be kept (the journal keeps a job's error this way), and
back: a History read later shows the sentence in the reader's language, not only in the
English it was first said in.

The form is JSON: {"say": key, "params": {...}} (the field name the journal has always
used), where a parameter that is a Message is
kept the same way, a list as a list, a number or a text as it is, anything else as its
text. What cannot be read back (a damaged row, a key a later release dropped) is None:
the caller shows the English it kept beside it.
"""

from __future__ import annotations

import json
from typing import Any

from avatar_core.catalogue.loader import known
from avatar_core.catalogue.message import Message


def message_to_json(message: Message) -> str:
    return json.dumps(_stored_form(message), ensure_ascii=False)


def message_from_json(text: str | None) -> Message | None:
    if not text:
        return None
    try:
        found = _read_back(json.loads(text))
    except (ValueError, TypeError, KeyError, IndexError):
        return None
    return found if isinstance(found, Message) else None


def _stored_form(value: Any) -> Any:
    if isinstance(value, Message):
        return {"say": value.key, "params": {k: _stored_form(v) for k, v in value.params.items()}}
    if isinstance(value, (list, tuple)):
        return [_stored_form(item) for item in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


def _read_back(value: Any) -> Any:
    if isinstance(value, dict):
        if not known(value["say"]):
            raise KeyError(value["say"])
        params = {str(k): _read_back(v) for k, v in value["params"].items()}
        return Message(value["say"], params)
    if isinstance(value, list):
        return [_read_back(item) for item in value]
    return value
