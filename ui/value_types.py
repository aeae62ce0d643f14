"""Values of the wrong type are refused before Gradio or a handler sees them, on every event.

A program may send any JSON for any input: a number where the page has a text box, a
list for a file, nothing where a table's selection belongs. Left to them, Gradio's
preprocessing and the handlers fail on it with a traceback in the log; here each value is
held against what its input takes (a component's kind, or a gr.api parameter's type) and
a wrong one is refused in one sentence naming the field (`wrong_value`). What is not
listed here (State, values the server keeps) is not looked at.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

import gradio as gr
from gradio.components.api_component import Api
from gradio.utils import get_function_params

from avatar_core.catalogue import sentence_for

Check = Callable[[Any, Any], bool]  # (value, component) -> whether it is acceptable


def _text(value: Any, _: Any) -> bool:
    return value is None or isinstance(value, str)


def _number(value: Any, _: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _slider(value: Any, _: Any) -> bool:
    """A slider always holds a number: Gradio's own check of its bounds fails on nothing."""
    return value is not None and _number(value, _)


def _switch(value: Any, _: Any) -> bool:
    return value is None or isinstance(value, bool)


def _file(value: Any, _: Any) -> bool:
    """Gradio's file data: an object naming the uploaded file's path or link."""
    if value is None:
        return True
    if not isinstance(value, dict):
        return False
    return any(isinstance(value.get(key), str) and value[key] for key in ("path", "url"))


def _example(value: Any, dataset: Any) -> bool:
    """An example's place in its list."""
    samples = getattr(dataset, "samples", None) or []
    return (
        isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(samples)
    ) or value is None


CHECKS: list[tuple[type, Check, str]] = [  # a component's kind, its check, what it takes
    (gr.Textbox, _text, "input.takes_text"),
    (gr.Dropdown, _text, "input.takes_text"),
    (gr.Radio, _text, "input.takes_text"),
    (gr.Slider, _slider, "input.takes_number"),
    (gr.Number, _number, "input.takes_number"),
    (gr.Checkbox, _switch, "input.takes_switch"),
    (gr.File, _file, "input.takes_file"),
    (gr.Image, _file, "input.takes_file"),
    (gr.Audio, _file, "input.takes_file"),
    (gr.Video, _file, "input.takes_file"),
    (gr.Dataset, _example, "input.takes_example"),
]
_BY_ANNOTATION: dict[Any, tuple[Check, str]] = {
    str: (_text, "input.takes_text"),
    bool: (_switch, "input.takes_switch"),
    float: (_number, "input.takes_number"),
    int: (_number, "input.takes_number"),
}


def _given(value: Any) -> str:
    """What kind of value was sent, in the catalogue's words."""
    if isinstance(value, bool):
        return sentence_for("input.sent_switch")
    if isinstance(value, (int, float)):
        return sentence_for("input.sent_number")
    if isinstance(value, str):
        return sentence_for("input.sent_text")
    if isinstance(value, (list, tuple)):
        return sentence_for("input.sent_list")
    return sentence_for("input.sent_object")


def _check_of(component: Any, parameter: inspect.Parameter | None) -> tuple[Check, str] | None:
    if isinstance(component, Api):
        annotation = parameter.annotation if parameter is not None else None
        if typing.get_origin(annotation) is typing.Literal:
            return _text, "input.takes_text"
        return _BY_ANNOTATION.get(annotation)
    for kind, check, takes in CHECKS:
        if isinstance(component, kind):
            return check, takes
    return None


def wrong_value(block_fn: Any, inputs: list[Any], field_name: Callable[[Any], str]) -> str | None:
    """The sentence refusing the first value of the wrong type among an event's `inputs`
    (`field_name` names an input as the other refusals do), or None."""
    parameters = _api_parameters(block_fn)
    for index, component in enumerate(block_fn.inputs):
        if index >= len(inputs):
            break
        parameter = parameters[index] if index < len(parameters) else None
        found = _check_of(component, parameter)
        if found is None or found[0](inputs[index], component):
            continue
        named = parameter.name if isinstance(component, Api) and parameter else component
        return str(
            sentence_for("input.wrong_type", field=field_name(named), given=_given(inputs[index]),
                takes=sentence_for(found[1]))
        )  # fmt: skip
    return None


def missing_selection(block_fn: Any, event_data: Any) -> bool:
    """Whether an event whose handler reads a selection (gr.SelectData) came without one."""
    wants = any(
        parameter.annotation is gr.SelectData
        for parameter in _signature(block_fn.fn).parameters.values()
    )
    data = getattr(event_data, "_data", None)
    return wants and not (isinstance(data, dict) and "index" in data and "value" in data)


def _signature(fn: Any) -> inspect.Signature:
    try:
        hints = typing.get_type_hints(fn)
    except (NameError, TypeError):
        hints = {}
    signature = inspect.signature(fn)
    return signature.replace(
        parameters=[p.replace(annotation=hints.get(p.name, p.annotation))
                    for p in signature.parameters.values()]
    )  # fmt: skip


def _api_parameters(block_fn: Any) -> list[inspect.Parameter]:
    """A gr.api function's parameters the caller fills in (Gradio's own list: not the
    request), with their types."""
    if not (block_fn.inputs and all(isinstance(each, Api) for each in block_fn.inputs)):
        return []
    parameters = _signature(block_fn.fn).parameters
    return [parameters[name] for name, *_ in get_function_params(block_fn.fn)]
