"""Every sentence a person reads - the core's, the page's, the MCP tools' - from one
catalogue: one JSON file per namespace in this folder, read by `loader.py`.

A sentence is written where it is said as `sentence_for("image.too_small", width=...)` (or
`sentence_for("page:intro")`): a `Message`, a `str` whose text is the English sentence (so
logs, tests and the programmatic API read it as before) that keeps its key and
parameters, so the page and the command line can show it in the reader's language with
`in_language(text, "zh")`. The page gives its own words to Gradio to translate in the
browser (ui/texts.py); `stored.py` keeps a Message in the journal and reads it back.
"""

from avatar_core.catalogue.loader import LANGUAGES, Language
from avatar_core.catalogue.message import Message, in_language, language_of, sentence_for
from avatar_core.catalogue.stored import message_from_json, message_to_json

__all__ = [
    "LANGUAGES",
    "Language",
    "Message",
    "in_language",
    "language_of",
    "message_from_json",
    "message_to_json",
    "sentence_for",
]
