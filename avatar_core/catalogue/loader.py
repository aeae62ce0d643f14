"""The catalogue's files, read once at import: one JSON file per namespace beside this
module (`<namespace>.json`: key -> {"en": template, "zh": template}).

A key is written with its namespace, `"page:intro"`; a key without one is the core's
(`"image.none"` is `"core:image.none"`), which keeps the keys a journal stored before
namespaces readable. Namespaces:

- `core`: what the core says (checks of the inputs, progress, provider errors, the
  command line), English and Chinese.
- `page`: the page's own words (labels, buttons, notes), English and Chinese; Gradio
  translates them in the browser (ui/texts.py).
- `mcp`: the answers of the MCP tools, English only: an AI assistant reads them, and the
  README promises English answers there ("Use it from an AI assistant").
- `cli`: the command line's `--help`, English only: argparse writes its own words
  ("usage:", "options:", its errors) in English around them, and the README says
  `--help` stays English; what a command reports is the core's, in both languages.

Asked for in another language, an English-only namespace's sentence is English.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")
FOLDER = Path(__file__).parent
DEFAULT_NAMESPACE = "core"
# The languages every key of a namespace must have; the first is the one a missing
# language falls back to.
NAMESPACES: dict[str, tuple[Language, ...]] = {
    "core": LANGUAGES,
    "page": LANGUAGES,
    "mcp": ("en",),
    "cli": ("en",),
}


def file_of(namespace: str) -> Path:
    return FOLDER / f"{namespace}.json"


def _load(namespace: str, languages: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """A namespace's entries; a key missing a required language fails here, at import."""
    path = file_of(namespace)
    entries: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    for key, texts in entries.items():
        missing = [language for language in languages if not texts.get(language)]
        if missing:
            raise ValueError(f"{path.name}: {key!r} has no text in {missing}")
    return entries


CATALOGUE: dict[str, dict[str, dict[str, str]]] = {
    namespace: _load(namespace, languages) for namespace, languages in NAMESPACES.items()
}


def split(key: str) -> tuple[str, str]:
    """("page", "intro") for "page:intro"; ("core", "image.none") for "image.none"."""
    namespace, colon, name = key.partition(":")
    return (namespace, name) if colon else (DEFAULT_NAMESPACE, key)


def known(key: str) -> bool:
    namespace, name = split(key)
    return name in CATALOGUE.get(namespace, {})


def template(key: str, language: str) -> str:
    """The text of `key` in `language`, else in its namespace's first language (a
    KeyError for an unknown key)."""
    namespace, name = split(key)
    if not known(key):
        raise KeyError(f"no sentence {key!r} in {file_of(namespace).name}")
    texts = CATALOGUE[namespace][name]
    return texts.get(language) or texts[NAMESPACES[namespace][0]]
