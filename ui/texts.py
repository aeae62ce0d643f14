"""Every word of the interface, in English and Chinese, in one place: `texts.json` beside
this module (key -> {"en": ..., "zh": ...}; `{demo_notice}` stands for the core's sentence
about demo mode, which the English banner quotes).

Gradio translates in the browser: components get `t(key)` (a `gr.I18n` key) and the page
shows the text of the browser's language, English when it is neither. A value a handler
returns may hold one `t(key)` among plain text (Gradio translates the first key of a
string only, so a message is one key plus numbers, never two keys). `key_used_unchecked`
is followed by the reason and a closing parenthesis.

What the core says (checks of the inputs, progress, provider errors) comes from the
core's own catalogue (`avatar_core.words`): a handler renders it in the visitor's language,
which it reads from the request's Accept-Language header (`visitor_language`: zh* gives
Chinese, anything else English). A program calling the API sends no such header unless it
asks for Chinese, so API answers are English by default.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import gradio as gr

from avatar_core.demo import DEMO_NOTICE
from avatar_core.words import language_of

CATALOGUE = Path(__file__).with_name("texts.json")
LANGUAGES = ("en", "zh")


def _load(path: Path) -> dict[str, dict[str, str]]:
    """The catalogue by language; a key missing a language fails here, at import."""
    entries: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    by_language: dict[str, dict[str, str]] = {language: {} for language in LANGUAGES}
    for key, texts in entries.items():
        for language in LANGUAGES:
            text = texts[language]
            notice = DEMO_NOTICE.in_language(language)
            by_language[language][key] = text.replace("{demo_notice}", notice)
    return by_language


TEXTS = _load(CATALOGUE)
EN = TEXTS["en"]
ZH = TEXTS["zh"]
# Gradio 6.31 announces a finished event to screen readers as "common.complete", a key its
# own catalogue lacks; the page gives it words.
GRADIO_GAPS = {"en": {"common.complete": "Complete."}, "zh": {"common.complete": "已完成。"}}
# Gradio's own footer words a visitor met ("Use via API or MCP"), in the page's words.
for _language in LANGUAGES:
    GRADIO_GAPS[_language] |= {
        "errors.use_via_api_or_mcp": TEXTS[_language]["gradio_api_link"],
        "errors.use_via_api": TEXTS[_language]["gradio_api_link"],
    }
I18N = gr.I18n(**{language: {**TEXTS[language], **GRADIO_GAPS[language]} for language in LANGUAGES})

_MARKER = re.compile(r"__i18n__(\{[^}]*\})")


def t(key: str) -> gr.i18n.I18nData:
    """The translatable text `key` (a KeyError for a key that has no text)."""
    if key not in EN:
        raise KeyError(f"no interface text for {key!r}")
    return I18N(key)


def translate(text: str, language: str = "en") -> str:
    """`text` as a browser in `language` shows it: its first `t(key)` replaced by that
    key's text, as Gradio's page does (for tests and anything rendered outside a page)."""
    found = _MARKER.search(text)
    if found is None:
        return text
    key = json.loads(found.group(1))["key"]
    return text[: found.start()] + TEXTS[language][key] + text[found.end() :]


def visitor_language(request: gr.Request | None) -> str:
    """The language of the page's visitor (or API caller): "zh" when its Accept-Language
    header puts Chinese first, else "en" (also with no request, as in tests)."""
    headers = getattr(request, "headers", None)
    return language_of(headers.get("accept-language") if headers is not None else None)


def ui_text(key: str, language: str) -> str:
    """The interface text `key` in `language`, rendered here rather than in the browser
    (for sentences that hold more than one key, or come from the core)."""
    return TEXTS.get(language, EN)[key]
