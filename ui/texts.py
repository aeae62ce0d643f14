"""The page's words, from the `page` namespace of the catalogue (avatar_core/catalogue/
page.json, English and Chinese; `{demo_notice}` stands for the core's sentence about demo
mode, which the English banner quotes).

Gradio translates in the browser: components get `page_text(key)` (a `gr.I18n` key) and the page
shows the text of the browser's language, English when it is neither. A value a handler
returns may hold one `page_text(key)` among plain text (Gradio translates the first key of a
string only, so a message is one key plus numbers, never two keys). `key_used_unchecked`
is followed by the reason and a closing parenthesis.

What the core says (checks of the inputs, progress, provider errors) comes from the
core's namespace of the catalogue: a handler renders it in the visitor's language,
which it reads from the request's Accept-Language header (`visitor_language`: zh* gives
Chinese, anything else English). A program calling the API sends no such header unless it
asks for Chinese, so API answers are English by default.
"""

from __future__ import annotations

import json
import re
from string import Formatter

import gradio as gr

from avatar_core.catalogue import LANGUAGES, Message, language_of
from avatar_core.catalogue.loader import CATALOGUE
from avatar_core.demo import DEMO_NOTICE


def _translated_in_the_browser(key: str) -> bool:
    """A page text without parameters (but the demo notice) is the browser's to translate;
    one with parameters is rendered here, `sentence_for("page:key", name=value)`."""
    texts = CATALOGUE["page"][key].values()
    fields = {name for text in texts for _, name, _, _ in Formatter().parse(text) if name}
    return fields <= {"demo_notice"}


def _page_texts() -> dict[str, dict[str, str]]:
    """The page's words by language, as Gradio's `I18n` takes them (bare keys)."""
    return {
        language: {
            key: Message(f"page:{key}", {"demo_notice": DEMO_NOTICE}).in_language(language)
            for key in CATALOGUE["page"]
            if _translated_in_the_browser(key)
        }
        for language in LANGUAGES
    }


TEXTS = _page_texts()
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


def page_text(key: str) -> gr.i18n.I18nData:
    """The page's text `key` ("page:intro", or bare "intro"), translated by the browser (a
    KeyError for a key the page namespace lacks: a sentence of another namespace is
    rendered on the server, `ui_text`)."""
    name = key.removeprefix("page:")
    if name not in EN:
        raise KeyError(
            f"no page text {key!r} in page.json (only page: keys are translated "
            "in the browser; render others with ui_text)"
        )
    return I18N(name)


def translate(text: str, language: str = "en") -> str:
    """`text` as a browser in `language` shows it: its first `page_text(key)` replaced by that
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
    """The text of `key` in `language`, rendered here rather than in the browser (for
    sentences that hold more than one key, or come from another namespace): a page key
    bare or as "page:key", any other as its namespaced key."""
    name = key.removeprefix("page:")
    if ":" not in key or key.startswith("page:"):
        return TEXTS.get(language, EN)[name]
    return Message(key, {}).in_language(language)
