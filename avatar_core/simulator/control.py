"""Control routes under /_simulator/, for tests that drive a simulator in another process.

`GET stats`; `POST faults` (one fault, or {"faults": [...]}), `plan`, `keys`, `reset`, and
`settings` (any option of `SimulatorOptions`, and `profile`: a gateway profile's options).
Each does what the same-named `Simulator` method does; a refused action answers 400 with
{"error": ...}.
"""

from __future__ import annotations

from typing import Any

from avatar_core.simulator.options import profile_options
from avatar_core.simulator.parts import SimulatorParts
from avatar_core.simulator.tasks import Plan
from avatar_core.simulator.validation import parse_body
from avatar_core.simulator.wire import Request, Response, WireError, json_response

CONTROL_PREFIX = "/_simulator/"


def answer_control(parts: SimulatorParts, request: Request) -> Response:
    action = request.path[len(CONTROL_PREFIX) :]
    try:
        if request.method == "GET" and action == "stats":
            return json_response(200, parts.stats_snapshot().to_json())
        if request.method != "POST":
            return json_response(405, {"error": "use POST (GET only for stats)"})
        body = parse_body(request.body) if request.body.strip() else {}
        return json_response(200, _act(parts, action, body))
    except WireError as exc:
        return json_response(400, {"error": exc.message})
    except KeyError as exc:
        return json_response(400, {"error": f"missing field {exc}"})
    except (TypeError, ValueError) as exc:
        return json_response(400, {"error": str(exc)})


def _act(parts: SimulatorParts, action: str, body: dict[str, Any]) -> dict[str, Any]:
    if action == "faults":
        for item in body.get("faults", [body]):
            params = dict(item)
            parts.faults.inject(params.pop("route"), params.pop("kind"), params.pop("times", 1),
                                **params)  # fmt: skip
        return {"ok": True, "pending_faults": parts.faults.pending()}
    if action == "plan":
        fields = dict(body)
        times = fields.pop("times", 1)
        parts.book.plan(Plan(**fields), times)
        return {"ok": True, "pending_plans": parts.book.pending_plans()}
    if action == "reset":
        parts.reset()
        return {"ok": True}
    if action == "keys":
        parts.accounts.set_state(body["key"], body.get("state", "ok"))
        return {"ok": True}
    if action == "settings":
        changes = dict(body)
        profile = changes.pop("profile", None)
        parts.options.update(**{**(profile_options(profile) if profile else {}), **changes})
        return {"ok": True}
    raise ValueError(f"unknown control action {action!r}")
