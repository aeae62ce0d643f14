"""Gradio's queue spoken over plain HTTP, as a hostile client would: any event (private
ones too, by their index) with any JSON values, lone surrogates included (gradio_client
cannot send those: it encodes its requests as UTF-8 first)."""

from __future__ import annotations

import json
import ssl
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

# The apps are on loopback over plain HTTP; a new httpx.Client loads the CA bundle into a
# fresh TLS context each time (about 20 ms of CPU), once per event of the tests that send
# hundreds: one context, made once, serves them all.
_TLS = ssl.create_default_context()


@dataclass(frozen=True)
class Answer:
    """How one event ended: its output, or the error sentence a caller sees."""

    success: bool
    output: Any
    error: str | None


def run_event(
    base_url: str,
    fn_index: int,
    data: list[Any],
    *,
    event_data: Any = None,
    trigger_id: int | None = None,
    timeout: float = 60.0,
) -> Answer:
    """Join the queue for event `fn_index` with `data` and wait for its end."""
    base = base_url.rstrip("/") + "/gradio_api/queue/"
    session = uuid.uuid4().hex
    body = {"data": data, "fn_index": fn_index, "session_hash": session,
            "event_data": event_data, "trigger_id": trigger_id}  # fmt: skip
    with httpx.Client(timeout=timeout, verify=_TLS) as http:
        joined = http.post(  # json.dumps escapes surrogates as \\ud800: they travel as sent
            base + "join", content=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
        )  # fmt: skip
        joined.raise_for_status()
        event_id = joined.json()["event_id"]
        with http.stream("GET", base + "data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") != event_id:
                    continue
                if message.get("msg") == "process_completed":
                    output = message.get("output") or {}
                    error = output.get("error") if isinstance(output, dict) else None
                    return Answer(bool(message.get("success")), output, error)
    raise AssertionError(f"event {fn_index} never completed")


def call_api(base_url: str, api_name: str, data: list[Any], timeout: float = 60.0) -> Answer:
    """A public endpoint (`/status`, ...) by its name, through `/gradio_api/call/`."""
    base = base_url.rstrip("/") + f"/gradio_api/call/{api_name.strip('/')}"
    with httpx.Client(timeout=timeout, verify=_TLS) as http:
        posted = http.post(
            base, content=json.dumps({"data": data}).encode(),
            headers={"content-type": "application/json"},
        )  # fmt: skip
        posted.raise_for_status()
        text = http.get(f"{base}/{posted.json()['event_id']}").text
    kind, payload = None, None
    for line in text.splitlines():
        if line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:") and kind in ("complete", "error"):
            payload = json.loads(line[5:])
    if kind == "error":
        error = payload.get("error") if isinstance(payload, dict) else payload
        return Answer(False, payload, error)
    return Answer(kind == "complete", payload, None)
