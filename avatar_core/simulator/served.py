"""The provider routes the simulator serves: every provider's own (provider/choice.py
`PROVIDERS`, each module's `ProviderPaths`), so a new provider's routes are served as soon
as its module exists. Faults and stats name a route by its kind ("create", "query", "tts"),
the same on every provider's paths."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from avatar_core.provider.base import Provider
from avatar_core.provider.choice import PROVIDERS


@dataclass(frozen=True)
class ServedRoute:
    kind: str  # "create", "query" or "tts"
    method: str
    template: str  # the provider's path; a query's has `{id}`
    provider: Provider
    # the first of several query routes (its provider's are discovered): a gateway may not
    # serve it (the `avatar_query_route` option)
    optional: bool = False

    @property
    def pattern(self) -> re.Pattern[str]:
        """The path as a pattern whose group, for a query, is the task id."""
        return _pattern(self.template)

    def match(self, path: str) -> str | None:
        """The task id of a query (or "" for another route) when `path` is this route."""
        found = self.pattern.match(path)
        if found is None:
            return None
        return found.group(1) if self.kind == "query" else ""


@functools.cache
def _pattern(template: str) -> re.Pattern[str]:
    """A route ("/v1/.../{id}") as a pattern; `{id}` becomes a group."""
    before, has_id, after = template.partition("{id}")
    group = "([^/]+)" if has_id else ""
    return re.compile("^" + re.escape(before) + group + re.escape(after) + "$")


def served_routes(providers: tuple[Provider, ...] = PROVIDERS) -> tuple[ServedRoute, ...]:
    """Each provider's create, text to speech and query routes, once each (demo mode's
    are CometAPI's)."""
    routes: list[ServedRoute] = []
    seen: set[str] = set()
    for provider in providers:
        paths = provider.paths
        if paths.create in seen:
            continue
        seen.add(paths.create)
        routes.append(ServedRoute("create", "POST", paths.create, provider))
        routes.append(ServedRoute("tts", "POST", paths.tts, provider))
        for number, template in enumerate(paths.queries):
            optional = paths.discovered and number == 0
            routes.append(ServedRoute("query", "GET", template, provider, optional))
    return tuple(routes)


def api_prefixes(routes: tuple[ServedRoute, ...]) -> tuple[str, ...]:
    """Where each provider's API lives ("/kling/", "/v1/"): the first part of its paths.
    An unknown route there is answered as the API answers one (1202), not as a web page."""
    return tuple(sorted({"/" + route.template.split("/")[1] + "/" for route in routes}))
