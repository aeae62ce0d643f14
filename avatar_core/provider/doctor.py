"""The doctor: what the provider behind this key really does, with free requests only.

Nothing is created. It asks each query route about a task that does not exist (is the key
accepted? how does each route say "unknown"?), asks for one of this data folder's finished
tasks by its external id when there is one (are lookups by external id answered?), and
reads the clock offset from the `Date` header. The report is short, for pasting into a bug
report; the key is never in it. `python -m avatar_core doctor` prints it; the page shows
the same report beside the key box.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import httpx

from avatar_core import __version__
from avatar_core import errors as e
from avatar_core.provider.client import ProviderClient, says_unknown
from avatar_core.provider.protocol import find_error, parse_answer

UNKNOWN_TASK_ID = "000000000000000000"  # the form of Kling's ids; no task has it


@dataclass(frozen=True)
class RouteAnswer:
    """How one query route answered the lookup of a task that does not exist."""

    route: str
    said: str  # "HTTP 400, JSON, CometAPI code task_not_exist" or "no answer (ConnectError)"
    unknown_here: bool  # the answer says the route or the task is unknown here
    verdict: str  # the key's fate by this answer: "accepted", "refused", "no permission", ""


@dataclass(frozen=True)
class DoctorReport:
    base_url: str
    key_label: str  # what is said of the key: never the key
    routes: list[RouteAnswer]
    external_ids: str
    clock_offset_s: float | None
    remembered_route: str | None
    notes: list[str] = field(default_factory=list)
    provider: str = ""  # "Provider: Kling (api-singapore.klingai.com)"

    @property
    def key_accepted(self) -> bool | None:
        """True, False, or None when no answer could tell."""
        verdicts = {answer.verdict for answer in self.routes}
        if "refused" in verdicts:
            return False
        if verdicts & {"accepted", "no permission"}:
            return True
        return None

    @property
    def ok(self) -> bool:
        """The key is accepted and some query route answers."""
        answering = any(a.unknown_here and a.verdict == "accepted" for a in self.routes)
        return self.key_accepted is True and answering

    def lines(self) -> list[str]:
        accepted = {True: "yes", False: "no", None: "could not tell"}[self.key_accepted]
        lines = [
            f"Talking Avatar Studio {__version__} doctor (free requests only: nothing created)",
            *([self.provider] if self.provider else []),
            f"base URL: {self.base_url}",
            f"key: {self.key_label}",
            f"key accepted: {accepted}",
        ]
        for answer in self.routes:
            lines.append(f"query {answer.route} for an unknown task: {answer.said}")
        lines.append(f"query route remembered here: {self.remembered_route or 'none yet'}")
        lines.append(f"lookups by external id: {self.external_ids}")
        lines.append(f"clock offset: {_offset_text(self.clock_offset_s)}")
        return lines + self.notes

    def text(self) -> str:
        return "\n".join(self.lines())


def diagnose(
    client: ProviderClient,
    *,
    key_label: str,
    known: tuple[str, str] | None = None,
    notes: list[str] | None = None,
    provider: str = "",
) -> DoctorReport:
    """The report for `client`'s base URL and key. `known` is (external id, task id) of a
    task this data folder saw made there, for the external-id check. Each request takes its
    slot in the request budget as every request does (the client's send)."""
    answers, offset = [], None
    for template in client.query_paths:
        answer, response = _ask_route(client, template)
        answers.append(answer)
        if offset is None and response is not None:
            offset = _clock_offset(response)
    report = DoctorReport(
        base_url=client.base_url,
        key_label=key_label,
        routes=answers,
        external_ids=_external_ids(client, known),
        clock_offset_s=offset,
        remembered_route=client.routes.get(client.base_url)
        if len(client.query_paths) > 1
        else client.query_paths[0],  # one known route: nothing to discover
        notes=list(notes or []),
        provider=provider,
    )
    return _scrubbed(report, client)


def _ask_route(client: ProviderClient, template: str) -> tuple[RouteAnswer, httpx.Response | None]:
    try:
        response = client.ask(template.format(id=UNKNOWN_TASK_ID))
    except httpx.HTTPError as exc:
        return RouteAnswer(template, f"no answer ({type(exc).__name__})", False, ""), None
    unknown = says_unknown(response)
    said = _described(response) + (" - says unknown here" if unknown else "")
    return RouteAnswer(template, said, unknown, _verdict(response)), response


def _described(response: httpx.Response) -> str:
    parts = [f"HTTP {response.status_code}"]
    if response.is_redirect:
        return f"{parts[0]}, a redirect"
    try:
        body = json.loads(response.content)
    except ValueError:
        looks_html = response.content.lstrip()[:1] == b"<"
        return f"{parts[0]}, {'an HTML page' if looks_html else 'not JSON'}"
    parts.append("JSON")
    found = find_error(body)
    if found is not None and found.gateway_code:
        parts.append(f"CometAPI code {found.gateway_code}")
    elif found is not None and found.code:
        parts.append(f"Kling code {found.code}")
    elif found is not None and "invalid url" in found.message.lower():
        parts.append('"Invalid URL"')
    elif found is None:
        parts.append("a task (unexpected)")
    return ", ".join(parts)


def _verdict(response: httpx.Response) -> str:
    """What this answer says of the key: "" when it says nothing (a route that is not
    served may be answered before the key is even read)."""
    try:
        parse_answer(  # only the kind of error counts here, not its sentence
            response.status_code, response.headers, response.content, base_setting=""
        )
    except e.AuthenticationError:
        return "refused"
    except e.PermissionDeniedError:
        return "no permission"
    except e.NotFoundError as unknown:
        task_level = unknown.code == 1203 or unknown.gateway_code == "task_not_exist"
        return "accepted" if task_level else ""
    except (e.QuotaError, e.UpstreamUnavailableError):
        return "accepted"
    except e.ProviderError:
        return ""
    return "accepted"


def _external_ids(client: ProviderClient, known: tuple[str, str] | None) -> str:
    if known is None:
        return "could not tell (no task made from this data folder to look up)"
    external_id, task_id = known
    try:
        found = client.get_task(external_id)
    except e.NotFoundError:
        return f"not answered (task {task_id} was not found by its external id {external_id})"
    except e.AvatarError as error:
        return f"could not tell ({type(error).__name__} for external id {external_id})"
    if found.task_id == task_id:
        return f"answered (external id {external_id} gave task {task_id})"
    return f"answered, but with task {found.task_id} instead of {task_id}"


def _clock_offset(response: httpx.Response) -> float | None:
    """The provider's clock minus this machine's, in seconds, from the `Date` header."""
    date = response.headers.get("date")
    if not date:
        return None
    try:
        return parsedate_to_datetime(date).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


def _offset_text(offset: float | None) -> str:
    if offset is None:
        return "unknown (no Date header)"
    if abs(offset) < 2:
        return "in step (under 2 s apart; the Date header counts whole seconds)"
    side = "ahead of" if offset > 0 else "behind"
    return f"{offset:+.0f} s (the provider's clock is {abs(offset):.0f} s {side} this machine's)"


def _scrubbed(report: DoctorReport, client: ProviderClient) -> DoctorReport:
    """The same report with the key taken out of every text an answer put in it."""
    routes = [
        RouteAnswer(a.route, client.scrub(a.said), a.unknown_here, a.verdict) for a in report.routes
    ]
    return DoctorReport(
        report.base_url,
        report.key_label,
        routes,
        client.scrub(report.external_ids),
        report.clock_offset_s,
        report.remembered_route,
        [client.scrub(note) for note in report.notes],
        report.provider,
    )
