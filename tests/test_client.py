"""The client speaks real HTTP to the simulator: every answer shape, fault and retry rule."""

from __future__ import annotations

import base64

import pytest

from avatar_core import errors as e
from avatar_core.provider.client import AvatarRequest, ProviderClient
from avatar_core.provider.models import TaskStatus


def _request(portrait_path, speech_path, **extra) -> AvatarRequest:
    return AvatarRequest(
        image=base64.b64encode(portrait_path.read_bytes()).decode(),
        sound_file=base64.b64encode(speech_path.read_bytes()).decode(),
        prompt="A friendly hello.",
        **extra,
    )


@pytest.fixture
def avatar_request(portrait_path, speech_path):
    return _request(portrait_path, speech_path, external_task_id="ext-1")


def test_a_task_moves_from_submitted_to_succeed_with_a_video(client, avatar_request, fake_time):
    created = client.create_task(avatar_request)
    assert created.task_id and created.status is TaskStatus.SUBMITTED
    assert created.external_task_id == "ext-1"
    fake_time.sleep(5)
    assert client.get_task(created.task_id).status is TaskStatus.PROCESSING
    fake_time.sleep(30)
    done = client.get_task(created.task_id)
    assert done.status is TaskStatus.SUCCEED
    assert done.video_url and done.video_url.startswith("http")
    assert done.video_duration_s == pytest.approx(7.3, abs=0.3)
    assert done.created_at_ms and done.updated_at_ms >= done.created_at_ms


def test_a_task_can_be_found_by_our_external_id(client, avatar_request):
    created = client.create_task(avatar_request)
    assert client.get_task("ext-1").task_id == created.task_id


# --- error shapes and codes ------------------------------------------------------------------

CODE_CASES = [
    (1000, e.AuthenticationError, "API key"),
    (1002, e.AuthenticationError, "API key"),
    (1004, e.AuthenticationError, "API key"),
    (1100, e.UpstreamUnavailableError, "CometAPI's own Kling account"),
    (1101, e.UpstreamUnavailableError, "arrears (Kling code 1101: the gateway's account"),
    (1102, e.UpstreamUnavailableError, "not your CometAPI balance"),
    (1103, e.PermissionDeniedError, "may not use"),
    (1200, e.InvalidRequestError, "refused the request"),
    (1201, e.InvalidRequestError, "refused the request"),
    (1300, e.ContentPolicyError, "content policy"),
    (1301, e.ContentPolicyError, "content policy"),
    (1303, e.RateLimitError, "tasks at once"),
    (1304, e.RateLimitError, "IP address"),
]


@pytest.mark.parametrize("shape", ["kling", "gateway", "wrapped"])
@pytest.mark.parametrize(("code", "kind", "words"), CODE_CASES)
def test_each_error_code_and_shape_maps_to_its_exception(
    client, simulator, avatar_request, code, kind, words, shape
):
    simulator.inject("create", "error", code=code, shape=shape)
    with pytest.raises(kind) as caught:
        client.create_task(avatar_request)
    error = caught.value
    assert words in str(error)
    if shape != "gateway" or code is not None:
        assert error.code in (code, None)
    assert error.status is not None
    assert simulator.stats.creates == 0
    assert "\n" not in str(error) and "Traceback" not in str(error)


@pytest.mark.parametrize("shape", ["kling", "gateway", "wrapped"])
def test_a_non_zero_code_under_http_200_is_an_error(client, simulator, avatar_request, shape):
    simulator.inject("create", "code_in_200", code=1301, shape=shape)
    with pytest.raises(e.ContentPolicyError):
        client.create_task(avatar_request)


def test_the_request_id_is_kept_for_support(client, simulator, avatar_request):
    simulator.inject("create", "error", code=1201, shape="kling")
    with pytest.raises(e.InvalidRequestError) as caught:
        client.create_task(avatar_request)
    assert caught.value.request_id


def test_the_simulators_own_validation_reaches_the_person(client, portrait_path):
    bad = AvatarRequest(
        image="data:image/jpeg;base64," + base64.b64encode(portrait_path.read_bytes()).decode(),
        audio_id="nope",
        prompt="x",
    )
    with pytest.raises(e.InvalidRequestError) as caught:
        client.create_task(bad)
    assert "1201" in str(caught.value) or caught.value.code == 1201


def test_unknown_task_is_not_found(client):
    with pytest.raises(e.NotFoundError) as caught:
        client.get_task("999999999999999999")
    assert "999999999999999999" in str(caught.value)


def test_kling_1102_through_the_gateway_is_not_called_the_callers_balance(
    simulator, fake_time, avatar_request
):
    """Under CometAPI, Kling's 1102 is the gateway's own resource pack: topping up the
    caller's balance would not help, so the sentence must not say so."""
    simulator.set_key_state("spent-key", "no_credit")
    spent = ProviderClient(simulator.base_url, "spent-key", clock=fake_time)
    with spent, pytest.raises(e.UpstreamUnavailableError) as caught:
        spent.create_task(avatar_request)
    assert "not your CometAPI balance" in str(caught.value)
    assert "top up" not in str(caught.value)
    assert simulator.stats.creates == 0


# --- retries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_queries_survive_server_error_bursts(client, simulator, avatar_request, status, fake_time):
    task = client.create_task(avatar_request)
    simulator.inject("query", "http", status=status, times=3)
    assert client.get_task(task.task_id).task_id == task.task_id
    assert len(fake_time.sleeps) == 3


def test_queries_honour_retry_after(client, simulator, avatar_request, fake_time):
    task = client.create_task(avatar_request)
    simulator.inject("query", "http", status=429, retry_after=7)
    client.get_task(task.task_id)
    assert fake_time.sleeps == [7]


@pytest.mark.parametrize("kind", ["malformed", "html", "reset"])
def test_queries_survive_broken_answers(client, simulator, avatar_request, kind):
    task = client.create_task(avatar_request)
    simulator.inject("query", kind)
    assert client.get_task(task.task_id).task_id == task.task_id


def test_queries_give_up_with_a_sentence_after_the_last_try(client, simulator, avatar_request):
    task = client.create_task(avatar_request)
    simulator.inject("query", "http", status=503, times=50)
    with pytest.raises(e.ServerError) as caught:
        client.get_task(task.task_id)
    assert "try again in a few minutes" in str(caught.value)


def test_a_rate_limited_create_is_left_to_the_line_with_the_wait_asked_for(
    client, simulator, avatar_request, fake_time
):
    simulator.inject("create", "error", code=1302, retry_after=3)
    with pytest.raises(e.RateLimitError) as caught:
        client.create_task(avatar_request)
    assert (caught.value.code, caught.value.retry_after) == (1302, 3)
    assert fake_time.sleeps == []  # the client does not wait: the line does (jobs/line.py)
    assert simulator.stats.creates == 0


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("reset", {"after_create": True}),
        ("malformed", {"after_create": True}),
        ("http", {"status": 502, "body": "html"}),
        ("http", {"status": 504}),
        ("html", {"status": 200}),
    ],
)
def test_a_create_with_an_unclear_outcome_is_never_resent(
    client, simulator, avatar_request, kind, params
):
    simulator.inject("create", kind, **params)
    with pytest.raises(e.CreateOutcomeUnknownError) as caught:
        client.create_task(avatar_request)
    assert caught.value.external_task_id == "ext-1"
    assert "ext-1" in str(caught.value) and "not resent" in str(caught.value)
    assert simulator.stats.count("create") == 1


def test_a_create_that_never_connected_is_retried_then_explained(fake_time, avatar_request):
    nowhere = ProviderClient("http://127.0.0.1:9", "k", clock=fake_time)
    with nowhere, pytest.raises(e.ProviderConnectionError) as caught:
        nowhere.create_task(avatar_request)
    assert not isinstance(caught.value, e.CreateOutcomeUnknownError)
    assert "could not be reached" in str(caught.value)
    assert len(fake_time.sleeps) == 4


def test_the_timeout_passed_down_bounds_each_answer(simulator, fake_time, avatar_request):
    """A query answered 2 s late, by a client that waits 1 s: it times out once, then the
    retry gets the answer."""
    with ProviderClient(simulator.base_url, "k", clock=fake_time, timeout=1) as c:
        task = c.create_task(avatar_request)
        simulator.inject("query", "slow", delay=2)
        assert c.get_task(task.task_id).task_id == task.task_id
    assert len(fake_time.sleeps) == 1


# --- routes ----------------------------------------------------------------------------------


def test_the_query_falls_back_to_the_generic_route_and_remembers_it(
    simulator, fake_time, avatar_request
):
    simulator.avatar_query_route = False
    with ProviderClient(simulator.base_url, "k", clock=fake_time) as c:
        task = c.create_task(avatar_request)
        for _ in range(3):
            assert c.get_task(task.task_id).task_id == task.task_id
    stats = simulator.stats
    assert stats.count("query", 404) == 1  # the avatar route was tried once, then never again
    assert stats.count("query", 200) == 3


# --- text to speech --------------------------------------------------------------------------


def test_text_to_speech_gives_an_audio_id_that_drives_an_avatar(client, portrait_path):
    speech = client.text_to_speech("Hello there, this is a test of the voice.", "oversea_male1")
    assert speech.audio_id and speech.duration_s and speech.duration_s >= 2
    task = client.create_task(
        AvatarRequest(
            image=base64.b64encode(portrait_path.read_bytes()).decode(),
            audio_id=speech.audio_id,
            task_id=speech.task_id,
            prompt="hi",
        )
    )
    assert task.task_id


def test_a_voice_in_the_wrong_language_is_refused(client):
    with pytest.raises(e.InvalidRequestError) as caught:
        client.text_to_speech("Hello", "oversea_male1", language="zh")
    assert "Voice id not found" in str(caught.value)


# --- the key stays secret --------------------------------------------------------------------

CANARY = "sk-CANARY-7f3a9c1e5b"


def test_the_key_appears_in_no_error_or_repr(simulator, fake_time, avatar_request):
    simulator.inject("create", "error", code=1002, shape="gateway", message=f"bad key {CANARY}")
    with ProviderClient(simulator.base_url, CANARY, clock=fake_time) as c:
        assert CANARY not in repr(c)
        with pytest.raises(e.AuthenticationError) as caught:
            c.create_task(avatar_request)
    error = caught.value
    for text in (str(error), repr(error), error.detail or "", repr(error.args)):
        assert CANARY not in text
