"""The client and the flow against each way a gateway in front of Kling may differ from
Kling's own API (the simulator's gateway profiles, docs/provider.md): unserved query routes
answered with JSON, no lookups by external id, CometAPI's own string codes, video links
that answer 404 right after success, slow creates. Real HTTP to the simulator; its tasks
and every wait follow one fake clock, except where a slow answer is the point."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import threading
import time

import pytest
from flows import events, final

from avatar_core import errors as e
from avatar_core.config import Secret, Settings
from avatar_core.jobs.events import Step
from avatar_core.jobs.studio import Studio
from avatar_core.provider.client import AvatarRequest, ProviderClient
from avatar_core.provider.cometapi import COMETAPI_PATHS
from avatar_core.provider.routes import ROUTES_FILE, RouteMemory
from avatar_core.storage.journal import Journal, Stage
from avatar_core.waiting.scheduler import PollScheduler

KEY = "profile-key"
GENERIC_QUERY = COMETAPI_PATHS.queries[1]  # CometAPI's generic route, the fallback


def studio_on(sim, fake_time, data_dir, *, routes: RouteMemory | None = None, **settings):
    config = Settings(api_key=Secret(KEY), base_url=sim.base_url, data_dir=data_dir, **settings)
    client = ProviderClient(
        sim.base_url,
        KEY,
        clock=fake_time,
        timeout=config.http_timeout_s,
        create_timeout=config.create_timeout_s,
        routes=routes,
    )
    scheduler = PollScheduler(clock=fake_time)
    return Studio(config, client=client, scheduler=scheduler, clock=fake_time)


def _request(portrait_path, speech_path, external_id="ext-1") -> AvatarRequest:
    return AvatarRequest(
        image=base64.b64encode(portrait_path.read_bytes()).decode(),
        sound_file=base64.b64encode(speech_path.read_bytes()).decode(),
        prompt="Hello.",
        external_task_id=external_id,
    )


# --- routes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["unserved-json-400", "unserved-json-404"])
def test_a_json_answer_on_an_unserved_route_falls_back_to_the_generic_one(
    gateway, fake_time, tmp_path, portrait_path, speech_path, profile
):
    sim = gateway(profile)
    routes = RouteMemory(tmp_path)
    with ProviderClient(sim.base_url, KEY, clock=fake_time, routes=routes) as client:
        task = client.create_task(_request(portrait_path, speech_path))
        assert client.get_task(task.task_id).task_id == task.task_id
    assert routes.get(sim.base_url) == GENERIC_QUERY
    unserved = 400 if profile == "unserved-json-400" else 404
    assert sim.stats.count("query", unserved) == 1 and sim.stats.count("query", 200) == 1


def test_the_working_route_is_remembered_in_the_data_folder_across_a_restart(
    gateway, fake_time, tmp_path, portrait_path, speech_path
):
    sim = gateway("unserved-json-400")
    with ProviderClient(sim.base_url, KEY, routes=RouteMemory(tmp_path)) as first:
        task = first.create_task(_request(portrait_path, speech_path))
        first.get_task(task.task_id)
    assert json.loads((tmp_path / ROUTES_FILE).read_text()) == {sim.base_url: GENERIC_QUERY}
    asked = sim.stats.count("query")
    with ProviderClient(sim.base_url, KEY, routes=RouteMemory(tmp_path)) as restarted:
        restarted.get_task(task.task_id)
    assert sim.stats.count("query") == asked + 1  # straight to the route that works


def test_a_remembered_route_that_stops_answering_is_left_for_the_other(
    gateway, fake_time, tmp_path, portrait_path, speech_path
):
    sim = gateway("kling")
    routes = RouteMemory(tmp_path)
    with ProviderClient(sim.base_url, KEY, clock=fake_time, routes=routes) as client:
        task = client.create_task(_request(portrait_path, speech_path))
        client.get_task(task.task_id)
        assert routes.get(sim.base_url) != GENERIC_QUERY
        sim.use_profile("unserved-json-404")  # the gateway changed its routes
        assert client.get_task(task.task_id).task_id == task.task_id
    assert routes.get(sim.base_url) == GENERIC_QUERY


def test_a_task_unknown_on_both_routes_is_unclear_not_failed_and_kept(
    gateway, fake_time, tmp_path, portrait_path, speech_path
):
    sim = gateway("unserved-json-400")
    data = tmp_path / "data"
    first = studio_on(sim, fake_time, data)
    with pytest.raises(e.TaskStillRunningError):
        events(first.generate(portrait_path, speech_path, deadline_s=1))
    sim.reset()  # the gateway forgets the task (its id is still valid to us)
    seen = events(studio_on(sim, fake_time, data).resume())
    assert [event.step for event in seen] == [Step.UNCLEAR]
    assert "not marked failed" in seen[0].message and "on any query route" in seen[0].message
    [job] = Journal(data).unfinished()
    assert job.stage is Stage.RUNNING and job.task_id


# --- a lost create answer: never "not charged", never a second create ------------------------


def test_without_external_id_lookups_a_lost_answer_stays_unclear_and_is_never_resent(
    gateway, fake_time, tmp_path, portrait_path, speech_path
):
    sim = gateway("no-external-ids")
    sim.inject("create", "reset", after_create=True)  # the task exists and is paid for
    studio = studio_on(sim, fake_time, tmp_path / "data")
    with pytest.raises(e.UnclearError) as caught:
        events(studio.generate(portrait_path, speech_path))
    [job] = studio.journal.recent()
    assert job.stage is Stage.OUTCOME_UNKNOWN and job.task_id is None
    said = str(caught.value)
    assert "may exist and be paid for" in said and "may cost twice" in said
    assert f"python -m avatar_core status {job.job_id}" in said
    assert "not charged" not in said and "nothing was charged" not in (job.error or "")
    assert sim.stats.creates == 1 and sim.stats.count("create") == 1
    assert sim.stats.count("query") >= 10  # looked for during the ten minutes


def test_an_unclear_job_is_settled_by_the_task_id_a_person_found_in_the_console(
    gateway, fake_time, tmp_path, portrait_path, speech_path
):
    sim = gateway("no-external-ids")
    sim.inject("create", "reset", after_create=True)
    studio = studio_on(sim, fake_time, tmp_path / "data")
    with pytest.raises(e.UnclearError):
        events(studio.generate(portrait_path, speech_path))
    [job] = studio.journal.recent()
    with pytest.raises(e.UnclearError, match="still unclear"):
        events(studio.follow(job.job_id))  # by our id: still nothing to find
    task_id = sim.stats.tasks_by_external_id[job.job_id]  # what the console shows
    done = final(studio.follow(task_id))
    assert done.step is Step.DONE and done.job.job_id == job.job_id
    assert studio.journal.get(job.job_id).stage is Stage.DONE
    assert len(studio.journal.recent()) == 1 and sim.stats.creates == 1


def test_resume_looks_an_unclear_job_up_once_and_leaves_it_unclear(
    gateway, fake_time, tmp_path, portrait_path, speech_path
):
    sim = gateway("no-external-ids")
    sim.inject("create", "reset", after_create=True)
    data = tmp_path / "data"
    with pytest.raises(e.UnclearError):
        events(studio_on(sim, fake_time, data).generate(portrait_path, speech_path, deadline_s=1))
    asked = sim.stats.count("query")
    seen = events(studio_on(sim, fake_time, data).resume())
    assert [event.step for event in seen] == [Step.UNCLEAR]
    assert "may cost twice" in seen[0].message
    assert Journal(data).recent()[0].stage is Stage.OUTCOME_UNKNOWN
    assert sim.stats.count("query") == asked + 2  # one lookup, on each route
    assert sim.stats.count("create") == 1


def test_a_create_whose_sender_died_is_unclear_not_never_sent(
    gateway, fake_time, tmp_path, portrait_path, speech_path
):
    """A `creating` job whose process is gone may or may not have reached the provider."""
    sim = gateway("no-external-ids")
    data = tmp_path / "data"
    journal = Journal(data)
    job = journal.create(base_url=sim.base_url, demo=False, image_sha256="x")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    journal.update(job, creator=f"{socket.gethostname()}:{gone.pid}")
    seen = events(studio_on(sim, fake_time, data).resume())
    assert [event.step for event in seen] == [Step.UNCLEAR]
    assert journal.get(job.job_id).stage is Stage.OUTCOME_UNKNOWN


# --- CometAPI's own codes --------------------------------------------------------------------


def test_the_callers_own_balance_in_cometapis_words_says_top_up(
    gateway, fake_time, tmp_path, portrait_path, speech_path
):
    sim = gateway("cometapi-codes")
    sim.set_key_state(KEY, "no_credit")
    studio = studio_on(sim, fake_time, tmp_path / "data")
    with pytest.raises(e.QuotaError) as caught:
        events(studio.generate(portrait_path, speech_path))
    assert "Your CometAPI balance is too low" in str(caught.value)
    assert "insufficient_user_quota" in str(caught.value)
    assert studio.journal.recent()[0].stage is Stage.NOT_CREATED
    assert sim.stats.creates == 0


def test_a_refused_key_in_cometapis_words(gateway, fake_time, tmp_path, portrait_path):
    sim = gateway("cometapi-codes", accepted_keys=["another-key"])
    client = ProviderClient(sim.base_url, KEY, clock=fake_time)
    with client, pytest.raises(e.AuthenticationError) as caught:
        client.get_task("1")
    assert "invalid_api_key" in str(caught.value) and "COMETAPI_KEY" in str(caught.value)


@pytest.mark.parametrize(
    ("code", "status", "kind", "words"),
    [
        ("invalid_request", 500, e.InvalidRequestError, "refused the request"),
        ("model_not_found", 503, e.UpstreamUnavailableError, "no channel serving Kling Avatar"),
        ("insufficient_user_quota", 403, e.QuotaError, "top up"),
        ("invalid_api_key", 401, e.AuthenticationError, "did not accept the API key"),
    ],
)
def test_a_create_refused_with_a_string_code_made_nothing_and_says_so(
    gateway, fake_time, tmp_path, portrait_path, speech_path, code, status, kind, words
):
    """Including the documented 500 `invalid_request`: a refusal, not an unclear create."""
    sim = gateway("kling")
    sim.inject("create", "gateway_error", code=code, status=status)
    studio = studio_on(sim, fake_time, tmp_path / "data")
    with pytest.raises(kind) as caught:
        events(studio.generate(portrait_path, speech_path))
    assert words in str(caught.value) and code in str(caught.value)
    assert studio.journal.recent()[0].stage is Stage.NOT_CREATED
    assert sim.stats.count("create") == 1 and sim.stats.count("query") == 0


def test_a_524_on_queries_is_retried(gateway, fake_time, portrait_path, speech_path):
    sim = gateway("kling")
    with ProviderClient(sim.base_url, KEY, clock=fake_time) as client:
        task = client.create_task(_request(portrait_path, speech_path))
        sim.inject("query", "http", status=524, times=2)
        assert client.get_task(task.task_id).task_id == task.task_id
    assert sim.stats.count("query", 524) == 2


def test_an_invalid_request_on_a_query_is_not_retried(gateway, fake_time):
    sim = gateway("kling")
    sim.inject("query", "gateway_error", code="invalid_request", status=500, times=5)
    client = ProviderClient(sim.base_url, KEY, clock=fake_time)
    with client, pytest.raises(e.InvalidRequestError):
        client.get_task("123456789012345678")
    assert sim.stats.count("query") == 1


# --- timeouts ----------------------------------------------------------------------------------


def time_stands_until_each_create_is_made(sim, fake_time, monkeypatch) -> None:
    """The fake clock stands still from each create's send until the simulator has made its
    task (`stats.creates` counts it; at most 60 s of real time). The gateway makes the task
    at once and answers late; but the simulator reads the create and checks its picture and
    sound first, in real time, which a loaded machine stretches past a 0.5 s create timeout.
    The lookups that follow an unclear create are minutes apart on the fake clock, and
    without this they could all be done before the task existed (the ten minutes a real
    client looks for it in a few real milliseconds): "still unclear after 13 lookups"."""
    send = ProviderClient.create_task

    def create_task(client: ProviderClient, request: AvatarRequest):
        made = sim.stats.creates
        holding = fake_time.busy()
        holding.__enter__()

        def until_made() -> None:
            deadline = time.monotonic() + 60.0
            while sim.stats.creates == made and time.monotonic() < deadline:
                time.sleep(0.01)
            holding.__exit__(None, None, None)

        threading.Thread(target=until_made, daemon=True).start()
        return send(client, request)

    monkeypatch.setattr(ProviderClient, "create_task", create_task)


@pytest.mark.parametrize(
    "timeouts",
    [
        # other requests wait 1 s here; the create, carrying the media, waits its own 120 s
        {"http_timeout_s": 1.0},
        # past its timeout the create is unclear, then found by its external id
        {"create_timeout_s": 0.5},
    ],
    ids=["waited-for", "unclear-then-found"],
)
def test_a_slow_create_ends_in_its_one_video(
    gateway, fake_time, tmp_path, portrait_path, speech_path, timeouts, monkeypatch
):
    sim = gateway("slow-creates", create_delay_s=1.5)
    time_stands_until_each_create_is_made(sim, fake_time, monkeypatch)
    studio = studio_on(sim, fake_time, tmp_path / "data", **timeouts)
    done = final(studio.generate(portrait_path, speech_path))
    assert done.step is Step.DONE
    assert sim.stats.count("create") == 1 and sim.stats.creates == 1


# --- the video link ------------------------------------------------------------------------------


def test_a_video_link_that_lags_the_success_is_retried(
    gateway, fake_time, tmp_path, portrait_path, speech_path
):
    sim = gateway("lagging-links")
    studio = studio_on(sim, fake_time, tmp_path / "data")
    done = final(studio.generate(portrait_path, speech_path))
    assert done.video_path.read_bytes()[4:8] == b"ftyp"
    assert sim.stats.count("result", 404) == 2 and sim.stats.count("result", 200) == 1


def test_a_link_that_keeps_lagging_is_asked_for_again_before_it_is_called_expired(
    gateway, fake_time, tmp_path, portrait_path, speech_path
):
    sim = gateway("kling", video_link_misses=6)  # more than one round of retries
    studio = studio_on(sim, fake_time, tmp_path / "data")
    seen = events(studio.generate(portrait_path, speech_path))
    assert seen[-1].step is Step.DONE
    queries = [event for event in seen if event.step is Step.RUNNING]
    assert queries and sim.stats.count("result", 404) == 6
    assert sim.stats.count("query", 200) >= 2  # the follow-up, then the ask for a fresh link


def test_only_after_a_fresh_link_fails_too_is_the_link_called_expired(
    gateway, fake_time, tmp_path, portrait_path, speech_path
):
    sim = gateway("kling", video_link_misses=100)
    data = tmp_path / "data"
    with pytest.raises(e.VideoLinkGoneError) as caught:
        events(studio_on(sim, fake_time, data).generate(portrait_path, speech_path))
    assert "even the fresh one asked for just now" in str(caught.value)
    assert sim.stats.count("result", 404) == 10  # two rounds of five tries
    [job] = Journal(data).unfinished()
    assert job.stage is Stage.DOWNLOADING
    sim.options.video_link_misses = 0  # the storage caught up
    assert events(studio_on(sim, fake_time, data).resume())[-1].step is Step.DONE


def test_a_task_unknown_on_one_route_is_unknown_whatever_page_the_other_shows(gateway, fake_time):
    """The avatar route says "no such task" in JSON; the generic route is not served and
    shows a page: that is one miss (one request on each route), not a server error to retry."""
    sim = gateway("kling")
    sim.inject("query", "slow", delay=0)  # the avatar route answers as it would
    sim.inject("query", "http", status=404, body="html")  # the generic route's page
    client = ProviderClient(sim.base_url, KEY, clock=fake_time)
    with client, pytest.raises(e.NotFoundError, match="on either of its query routes"):
        client.get_task("123456789012345678")
    assert sim.stats.count("query") == 2 and fake_time.sleeps == []
