"""The one retry decision: what may be sent again, after how long, and the create's rule
that a second create is a second paid task."""

from __future__ import annotations

import httpx
import pytest

from avatar_core import errors as e
from avatar_core.provider.retry import (
    RetryPolicy,
    may_retry,
    refused_create,
    refused_create_wait,
    retry_delay,
    with_retries,
)

POLICY = RetryPolicy(attempts=5, base_delay_s=1.0, max_delay_s=8.0, max_retry_after_s=60.0)


def _rate_limit(code: int | None, retry_after: float | None = None) -> e.RateLimitError:
    return e.RateLimitError("limited", code=code, status=429, retry_after=retry_after)


def _status(status: int, retry_after: str | None = None) -> httpx.HTTPStatusError:
    headers = {"Retry-After": retry_after} if retry_after else {}
    request = httpx.Request("GET", "https://cdn.example/video.mp4")
    response = httpx.Response(status, headers=headers, request=request)
    return httpx.HTTPStatusError(f"HTTP {status}", request=request, response=response)


NEVER_SENT = [httpx.ConnectError("refused"), httpx.ConnectTimeout("no handshake")]
MAYBE_SENT = [
    httpx.ReadError("reset"),
    httpx.ReadTimeout("no answer"),
    httpx.WriteError("broke while sending"),
    httpx.RemoteProtocolError("closed mid-answer"),
]


@pytest.mark.parametrize("error", NEVER_SENT, ids=type)
def test_a_create_that_never_connected_may_be_sent_again(error):
    assert may_retry(error, create=True)


@pytest.mark.parametrize("error", MAYBE_SENT, ids=type)
def test_a_create_that_may_have_arrived_is_never_sent_again(error):
    assert not may_retry(error, create=True)
    assert may_retry(error)  # the same failure on a query is retried


@pytest.mark.parametrize(
    ("code", "refused"), [(1302, True), (None, True), (1303, True), (1304, False)]
)
def test_a_create_turned_away_by_a_limit_goes_back_in_line_not_into_a_retry(code, refused):
    assert not may_retry(_rate_limit(code), create=True)  # one decision: the line's
    assert refused_create(_rate_limit(code)) is refused


def test_the_line_waits_what_the_provider_asks_for_else_a_backoff():
    assert refused_create_wait(_rate_limit(1302, retry_after=3), 1, POLICY) == 3
    waits = [refused_create_wait(_rate_limit(1303), n, POLICY) for n in (1, 2, 40)]
    assert 0 < waits[0] <= POLICY.base_delay_s <= waits[2] <= POLICY.max_delay_s


def test_a_create_with_a_server_error_may_have_been_processed():
    assert not may_retry(e.ServerError("boom", status=502), create=True)
    assert may_retry(e.ServerError("boom", status=502))


def test_an_ip_address_refusal_is_never_retried():
    assert not may_retry(_rate_limit(1304))
    assert not may_retry(_rate_limit(1304), create=True)


@pytest.mark.parametrize(
    "error",
    [
        e.AuthenticationError("no", code=1002, status=401),
        e.QuotaError("no", code=1102, status=429),
        e.InvalidRequestError("no", code=1201, status=400),
        e.NotFoundError("no", code=1203, status=404),
        e.ContentPolicyError("no", code=1301, status=400),
    ],
    ids=type,
)
def test_an_answer_that_will_not_change_is_not_retried(error):
    assert not may_retry(error)


@pytest.mark.parametrize(("status", "again"), [(429, True), (500, True), (502, True),
                                               (503, True), (504, True), (524, True),
                                               (400, False), (403, False), (404, False),
                                               (410, False)])  # fmt: skip
def test_download_statuses(status, again):
    assert may_retry(_status(status)) is again


def test_retry_after_is_honoured_from_the_error_or_the_header_and_capped():
    assert retry_delay(_rate_limit(1302, retry_after=3), 1, POLICY) == 3
    assert retry_delay(_status(503, "7"), 1, POLICY) == 7
    assert retry_delay(_status(503, "3600"), 1, POLICY) == POLICY.max_retry_after_s


def test_without_retry_after_the_wait_doubles_up_to_its_ceiling():
    for number, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0)]:
        assert ceiling / 2 <= retry_delay(httpx.ReadError("x"), number, POLICY) <= ceiling
    assert retry_delay(httpx.ReadError("x"), 5, POLICY) is None  # the fifth try was the last


def test_the_loop_sleeps_between_tries_and_raises_the_last_error(fake_time):
    tries: list[int] = []

    def attempt() -> str:
        tries.append(1)
        raise _status(503, "2")

    with pytest.raises(httpx.HTTPStatusError):
        with_retries(attempt, policy=POLICY, clock=fake_time, what="test")
    assert len(tries) == POLICY.attempts and fake_time.sleeps == [2, 2, 2, 2]


def test_the_loop_returns_once_a_try_succeeds(fake_time):
    answers = iter([httpx.ConnectError("refused"), "done"])

    def attempt() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert with_retries(attempt, policy=POLICY, clock=fake_time, what="t", create=True) == "done"
    assert len(fake_time.sleeps) == 1


@pytest.mark.parametrize("error", [ValueError("a bug"), e.NotFoundError("gone", status=404)])
def test_the_loop_lets_other_errors_through_at_once(error, fake_time):

    def attempt() -> None:
        raise error

    with pytest.raises(type(error)):
        with_retries(attempt, policy=POLICY, clock=fake_time, what="test")
    assert fake_time.sleeps == []
