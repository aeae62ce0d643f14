"""The checks behind tests/test_messages.py for the whole catalogue (every namespace) and
for the page's and the MCP tools' code (ui/): read from the source, each a function of its
inputs so a test can show it fails on a bad catalogue or module.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

Catalogue = dict[str, dict[str, dict[str, str]]]  # namespace -> key -> language -> text

# Calls that take a catalogue key: the full key ("page:intro", or bare for the core's)...
SAID_BY = ("sentence_for",)
# ...and the page's own text, by its bare key (translated by the browser, or rendered).
PAGE_KEYS_BY = ("page_text", "ui_text")
# A programming mistake's message is read by the developer who made it, not by a visitor;
# a log line by the operator (the core's guard treats both the same way).
FOR_DEVELOPERS = {"KeyError", "TypeError", "ValueError", "AssertionError", "RuntimeError"}
LOGGING = {"debug", "info", "warning", "error", "exception", "critical", "log"}
# Text in ui/ that holds words but is no sentence a person reads, and why.
NOT_SENTENCES = {
    "\n#intro h1": "the page's style sheet (ui/assets.py CSS)",
    "\n() => {": "the page's script (ui/assets.py A11Y_JS)",
    "This MCP server includes a tool": "Gradio's own warning, matched to hush it",
    "Drop Audio Here": "Gradio's own upload words, matched to replace them (ui/assets.py)",
    "Click to Upload": "Gradio's own upload words, matched to replace them (ui/assets.py)",
    **{
        f"api {name}": "a hidden button of an API endpoint (ui/layout.py _api_inputs)"
        for name in ("generate", "status", "key", "tts", "history")
    },
    "request body too large": "Starlette's reason for a refused body, replaced by our answer",
    "body too large": "app.py's answer to a provider's callback: read by no person",
    "unknown callback": "app.py's answer to a provider's callback: read by no person",
    "%(levelname)s": "app.py's format of a log line",
}
_WORD = re.compile(r"[^\W\d_]{2,}")


def _fields(template: str) -> set[tuple[str, str | None]]:
    return {
        (name, conversion)
        for _, name, _, conversion in string.Formatter().parse(template)
        if name is not None
    }


def catalogue_problems(catalogue: Catalogue, languages: dict[str, tuple[str, ...]]) -> list[str]:
    """Every key with exactly its namespace's languages, none blank, and the same
    placeholders in each language."""
    wrong = []
    for namespace, entries in catalogue.items():
        for key, texts in entries.items():
            name = f"{namespace}:{key}"
            if set(texts) != set(languages[namespace]):
                wrong.append(f"{name}: languages {sorted(texts)}, not {languages[namespace]}")
            elif not all(text.strip() for text in texts.values()):
                wrong.append(f"{name}: a blank text")
            elif len({frozenset(_fields(text)) for text in texts.values()}) > 1:
                wrong.append(f"{name}: placeholders differ: {[_fields(t) for t in texts.values()]}")
    return wrong


def _called(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def keys_in_code(paths: list[Path]) -> tuple[set[str], set[str], set[str]]:
    """(full keys given literally to the catalogue's functions, every string constant,
    the literal starts of f-strings and sums: `f"style_{name}"` uses every "style_" key)."""
    said, constants, starts = set(), set(), set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                constants.add(node.value)
            elif isinstance(node, ast.JoinedStr) and isinstance(node.values[0], ast.Constant):
                starts.add(str(node.values[0].value))
            elif isinstance(node, ast.BinOp) and isinstance(node.left, ast.Constant):
                starts.add(str(node.left.value))  # "key_box" + suffix
            elif isinstance(node, ast.Call) and node.args:
                first = node.args[0]
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    continue
                if _called(node) in SAID_BY:
                    said.add(first.value if ":" in first.value else f"core:{first.value}")
                elif _called(node) in PAGE_KEYS_BY:
                    said.add(f"page:{first.value.removeprefix('page:')}")
    return said, constants, starts


def unknown_keys(said: set[str], catalogue: Catalogue) -> list[str]:
    return sorted(k for k in said if k.split(":", 1)[1] not in catalogue.get(k.split(":")[0], {}))


def unused_keys(catalogue: Catalogue, constants: set[str], starts: set[str]) -> list[str]:
    """Keys no code names: a core key by itself (nouns are looked up by value, `{what!n}`),
    a page key by itself or by an f-string's start, any key as "namespace:key"."""
    unused = []
    for namespace, entries in catalogue.items():
        for key in entries:
            if f"{namespace}:{key}" in constants:
                continue
            if namespace == "core" and (key in constants or key.startswith("noun.")):
                continue
            if namespace == "page" and (
                key in constants or any(key.startswith(s) for s in starts if len(s) > 2)
            ):
                continue
            unused.append(f"{namespace}:{key}")
    return sorted(unused)


def _docstrings(tree: ast.AST) -> set[int]:
    kinds = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, kinds) and node.body and isinstance(node.body[0], ast.Expr)
    }


def _not_read_by_people(tree: ast.AST) -> set[int]:
    """The literals inside log calls and programming mistakes' exceptions."""
    skipped = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        logged = isinstance(func, ast.Attribute) and func.attr in LOGGING
        logged = logged and "log" in ast.unparse(func.value).lower()
        if logged or _called(node) in FOR_DEVELOPERS:
            skipped |= {id(child) for child in ast.walk(node)}
    return skipped


def _text_of(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(p.value if isinstance(p, ast.Constant) else "{}" for p in node.values)
    return None


def reads_as_a_sentence(text: str) -> bool:
    """Two words or more, separated by spaces (a key, a name or a path is one word)."""
    return sum(1 for token in text.split() if _WORD.search(token) and "_" not in token) >= 2


def sentences_outside_the_catalogue(paths: list[Path], root: Path) -> list[str]:
    """file:line of every literal in the page's or the tools' code that reads as a sentence
    (not a docstring, a log line, a programming mistake's message or a NOT_SENTENCES text)."""
    found = set()
    for path in paths:
        tree = ast.parse(path.read_text())
        skipped = _docstrings(tree) | _not_read_by_people(tree)
        inside_fstrings = {
            id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
            for part in node.values
        }  # fmt: skip
        for node in ast.walk(tree):
            if id(node) in skipped or id(node) in inside_fstrings:
                continue
            text = _text_of(node)
            if text is None or not reads_as_a_sentence(text):
                continue
            if not any(text.startswith(allowed) for allowed in NOT_SENTENCES):
                found.add(f"{path.relative_to(root)}:{node.lineno}")
    return sorted(found)
