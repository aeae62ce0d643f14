"""Text that people type or send: refused in one sentence when it holds what text may not.

Three kinds of character are never accepted in a field: a lone surrogate (half of a UTF-16
pair, which JSON lets a caller send but UTF-8 cannot encode, so SQLite, HTTP and the page
would each fail on it), NUL (paths and C libraries end a string there) and the other
control characters (terminal escapes, bells, C1 codes). Line breaks and tabs are accepted
where a field may span lines. Sentences name the character by its code point and
position, never by echoing it.
"""

from __future__ import annotations

import re
import unicodedata

from avatar_core.catalogue import Message, sentence_for
from avatar_core.errors import InputError

# The characters refused (C0 and C1 controls, lone surrogates), as one compiled search: a
# text of megabytes is read in C, not character by character in Python.
_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_REFUSED_IN_LINES = re.compile(  # a field of several lines: line breaks and tabs pass
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]"
)


def text_problem(text: str, *, multiline: bool = False) -> Message | None:
    """What makes `text` unacceptable, in words ("a NUL character (U+0000) at character
    3"), or None when every character is acceptable."""
    found = (_REFUSED_IN_LINES if multiline else _REFUSED).search(text)
    if found is None:
        return None
    char = found.group()
    if unicodedata.category(char) == "Cs":
        kind = sentence_for("text.lone_surrogate")
    elif char == "\x00":
        kind = sentence_for("text.nul")
    else:
        kind = sentence_for("text.control")
    return sentence_for(
        "text.problem", kind=kind, code=f"U+{ord(char):04X}", index=found.start() + 1
    )


def malformed_text_sentence(what: str, problem: str, *, multiline: bool = False) -> Message:
    """The one sentence for a field that holds `problem` (from `text_problem`)."""
    allowed = sentence_for("text.allowed_lines") if multiline else sentence_for("text.allowed")
    return sentence_for("text.malformed", what=what, problem=problem, allowed=allowed)


def check_text(text: str, *, what: str, field: str, multiline: bool = False) -> str:
    """`text` itself; InputError (one sentence) when it holds a lone surrogate, a NUL or
    another control character (line breaks and tabs pass when `multiline`)."""
    problem = text_problem(text, multiline=multiline)
    if problem is not None:
        raise InputError(malformed_text_sentence(what, problem, multiline=multiline), field=field)
    return text


def shown(text: str, limit: int = 40) -> str:
    """`text` safe to quote in a sentence: at most `limit` characters, any character that
    is not printable written as its escape (a surrogate in a file name, say)."""
    short = text[:limit]
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in short)
