"""The process's one way to its providers: one HTTP connection pool, one request budget.

Every provider session (`ProviderClient`: an account's base URL, credential and routes) of a
process sends through the same `ProviderConnection`, so a pasted key costs a light object,
not an HTTP client of its own (its TLS context and connection pool), and every request of
every key takes its slot in the one budget before it goes. The budget is the process's
(`Studio` hands its own to the connection of the client it is given); a connection made
outside any studio (a script's or a test's own client) has none until then.
"""

from __future__ import annotations

from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from avatar_core.provider.budget import RequestBudget
from avatar_core.timeouts import DEFAULT_HTTP_TIMEOUT_S

USER_AGENT = "talking-avatar-studio/0.1"
DEFAULT_RATE_PER_S = 10.0  # AVATAR_MAX_QUERIES_PER_S when not told


def http_timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(10.0, seconds))


def _refusing_cookies() -> CookieJar:
    """A jar that keeps no cookie: one pool serves every key, so a cookie one account's
    answer set would go out with every other account's requests."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class ProviderConnection:
    """An HTTP connection pool shared by the process's provider sessions, and the budget
    each of their requests takes a slot in. Thread-safe (httpx.Client is)."""

    def __init__(
        self,
        budget: RequestBudget | None = None,  # None: none until a studio gives its own
        *,
        timeout: float = DEFAULT_HTTP_TIMEOUT_S,
        http: httpx.Client | None = None,
    ) -> None:
        self.budget = budget
        self._http = http or httpx.Client(
            timeout=http_timeout(timeout),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
            cookies=_refusing_cookies(),
        )

    def within(self, budget: RequestBudget) -> None:
        """Take every request's slot in `budget` from now on (the process's own, when this
        connection was made before the process's services were)."""
        self.budget = budget

    def send(
        self,
        method: str,
        url: str,
        **options: Any,
    ) -> httpx.Response:
        """One request, once its slot in the budget has come (waiting on the budget's
        clock); the slot counts until its answer came (the provider counted it meanwhile)."""
        budget = self.budget
        if budget is None:
            return self._http.request(method, url, **options)
        slot = budget.take()
        try:
            return self._http.request(method, url, **options)
        finally:
            budget.done(slot)

    def close(self) -> None:
        self._http.close()

    @property
    def closed(self) -> bool:
        return self._http.is_closed
