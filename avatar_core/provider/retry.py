"""When to try a request again, and how long to wait first: one decision, one loop.

Own code rather than urllib3's Retry because the wait goes by the one `Clock` (tests
never wait for real), the same decision serves the provider's API and its video links, and a
create must never be repeated once it may have reached the server.

The decision looks at the failure as it came: an httpx transport error (no whole answer),
an httpx.HTTPStatusError (a download's answer other than 200), or the ProviderError an API
answer was mapped to. Callers put their own sentences on whatever is finally raised.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx

from avatar_core import errors as e
from avatar_core.clock import SYSTEM, Clock
from avatar_core.provider.protocol import retry_after_seconds

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 524})  # 524: a gateway's timeout
LAGGING_LINK_STATUSES = frozenset({403, 404})
"""What a video link may answer while the storage behind it lags the task's success."""
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport errors that prove the request never left this machine."""

IP_NOT_ALLOWED = 1304  # Kling's IP whitelist refusal: asking again cannot help
TOO_MANY_TASKS = 1303  # the account runs as many tasks at once as its plan allows


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter, honouring Retry-After. `fresh_link`:
    the request is for a video link handed out just now (403 and 404 are worth a retry)."""

    attempts: int = 5  # tries in all, the first included
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    max_retry_after_s: float = 60.0
    fresh_link: bool = False

    def delay(self, retry_number: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry_number` (1 for the first retry)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after_s)
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** (retry_number - 1)))
        return random.uniform(ceiling / 2, ceiling)


def may_retry(error: Exception, *, create: bool = False, fresh_link: bool = False) -> bool:
    """Whether a request that failed with `error` may be sent again.

    A create (`create=True`) only when the connection was never made: a create the
    provider's limits turned away (1302, 1303, a bare 429) goes back in the line in front
    of creates instead, after `refused_create_wait` (jobs/line.py).
    Anything else may be retried on a broken connection, a rate limit or a server error;
    a video link handed out just now (`fresh_link=True`) also on 403 and 404.
    """
    if getattr(error, "code", None) == IP_NOT_ALLOWED:
        return False
    if create:
        return isinstance(error, NEVER_SENT)
    if isinstance(error, httpx.HTTPStatusError):
        status = error.response.status_code
        return status in RETRY_STATUSES or (fresh_link and status in LAGGING_LINK_STATUSES)
    return isinstance(error, (httpx.RequestError, e.RateLimitError, e.ServerError))


def refused_create(error: Exception) -> bool:
    """Whether a create was turned away by the provider's limits, creating nothing: too
    many tasks at once (1303), or too many requests (1302, or a bare 429). Such a job goes
    back to the front of the line in front of creates."""
    return isinstance(error, e.RateLimitError) and error.code in (None, 1302, TOO_MANY_TASKS)


def refused_create_wait(error: Exception, refusals: int, policy: RetryPolicy) -> float:
    """Seconds the line waits before trying a refused create again, after its `refusals`-th
    refusal: the Retry-After the provider asked for, else the policy's growing backoff
    (for an account whose tasks at once are all taken by others: no task of ours to wait
    for)."""
    retry_after = getattr(error, "retry_after", None)
    return policy.delay(min(refusals, 16), retry_after)


def retry_delay(
    error: Exception, retry_number: int, policy: RetryPolicy, *, create: bool = False
) -> float | None:
    """Seconds to wait before retry number `retry_number` after `error`; None: do not retry."""
    if retry_number >= policy.attempts:
        return None
    if not may_retry(error, create=create, fresh_link=policy.fresh_link):
        return None
    if isinstance(error, httpx.HTTPStatusError):
        retry_after = retry_after_seconds(error.response.headers)
    else:
        retry_after = getattr(error, "retry_after", None)
    return policy.delay(retry_number, retry_after)


def with_retries(
    attempt: Callable[[], T],
    *,
    policy: RetryPolicy,
    what: str,
    clock: Clock = SYSTEM,
    create: bool = False,
) -> T:
    """`attempt()` until it succeeds or `retry_delay` says no, waiting on `clock` in
    between; then its error is raised.

    Only httpx errors and ProviderErrors are weighed; any other error ends at once.
    """
    for number in itertools.count(1):
        try:
            return attempt()
        except (httpx.HTTPError, e.ProviderError) as error:
            wait = retry_delay(error, number, policy, create=create)
            if wait is None:
                raise
            log.info("%s: %s; retry %d in %.1f s", what, type(error).__name__, number, wait)
        clock.sleep(wait)
    raise AssertionError("unreachable")
