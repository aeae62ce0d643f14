"""Malformed text is refused before Gradio or a handler sees it, on every event.

Each value a page or a program sends (text boxes, choices, file names, a selection's
data) is looked at first: text holding a lone surrogate, a NUL or a control character
other than line breaks and tabs, and a value of the wrong type (ui/value_types.py), are
refused in one sentence naming the field, and nothing runs. Left to them, Gradio's
choice checks echo such a value with a traceback, JSON cannot carry a surrogate back, and
SQLite and HTTP fail on it; the core checks each field again in its own words (the
command line reaches it directly).
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from gradio.components.api_component import Api
from gradio.exceptions import InvalidPathError
from gradio.utils import get_function_params

from avatar_core.catalogue import sentence_for
from avatar_core.inputs.text import malformed_text_sentence, text_problem
from ui.texts import EN
from ui.value_types import missing_selection, wrong_value

NOT_UPLOADED = sentence_for("page:not_uploaded")


def first_problem(value: Any) -> str | None:
    """The first unacceptable character in any text inside `value` (lists and dicts are
    walked, keys too), in words; None when all of it is acceptable."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            problem = text_problem(item, multiline=True)
            if problem is not None:
                return problem
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
    return None


class Refusal(gr.Error):
    """A refusal in one sentence, without a traceback on the console; its str() is the
    sentence itself (Gradio shows `message`; an MCP client receives str())."""

    def __init__(self, message: str) -> None:
        super().__init__(message, print_exception=False)

    def __str__(self) -> str:
        return str(self.message)


def field_name(component: Any) -> str:
    """How a sentence names an input: by its label (in the sentence's language), else
    its kind (an API endpoint's parameter, by its name)."""
    if component is None:  # a value beyond the event's inputs
        return sentence_for("page:field_unnamed")
    if isinstance(component, str):  # a parameter of a function served with gr.api
        return sentence_for("page:parameter_named", name=component)
    label = getattr(component, "label", None)
    key = getattr(label, "key", None)
    if isinstance(key, str):
        label = sentence_for(f"page:{key}") if key in EN else key
    if isinstance(label, str) and label.strip():
        return sentence_for("page:field_labelled", label=label.strip())
    return sentence_for("page:field_of_kind", kind=type(component).__name__.lower())


def malformed_input(inputs: list[Any], components: list[Any], event_data: Any) -> str | None:
    """The sentence refusing an event's values, or None when they are acceptable."""
    for index, value in enumerate(inputs):
        problem = first_problem(value)
        if problem is not None:
            component = components[index] if index < len(components) else None
            return malformed_text_sentence(field_name(component), problem, multiline=True)
    problem = first_problem(getattr(event_data, "_data", None))
    if problem is not None:
        return malformed_text_sentence(sentence_for("page:selection"), problem, multiline=True)
    return None


class GuardedBlocks(gr.Blocks):
    """`gr.Blocks` whose every event refuses malformed text first (see the module).

    Gradio's own refusals (a value outside a list of choices, a file path that was not
    uploaded) are expected answers to a caller too: they reach it without a traceback on
    the console, the path refused in one sentence that does not depend on what it names.
    """

    async def process_api(self, block_fn: Any, inputs: list[Any], *args: Any, **kwargs: Any):
        if kwargs.get("iterator") is None:  # a generator's next step brings no new values
            fn = self.fns[block_fn] if isinstance(block_fn, int) else block_fn
            sentence = malformed_input(inputs or [], _fields(fn), kwargs.get("event_data"))
            sentence = sentence or wrong_value(fn, inputs or [], field_name)
            if sentence is None and missing_selection(fn, kwargs.get("event_data")):
                sentence = str(sentence_for("input.no_selection"))
            if sentence is not None:
                raise Refusal(sentence)
        try:
            return await super().process_api(block_fn, inputs, *args, **kwargs)
        except gr.Error as refusal:
            refusal.print_exception = False
            raise
        except InvalidPathError:
            raise gr.Error(NOT_UPLOADED, print_exception=False) from None


def _fields(block_fn: Any) -> list[Any]:
    """An event's inputs: its components, or a gr.api function's parameter names."""
    if block_fn.inputs and all(isinstance(each, Api) for each in block_fn.inputs):
        return [name for name, *_ in get_function_params(block_fn.fn)]
    return list(block_fn.inputs)
