"""Kling's own API as the second provider: the JWT, its routes, the choice of provider.

The simulator checks tokens as Kling documents them (kling_auth.py); the client signs them
(provider/auth.py) and speaks Kling's routes without CometAPI's `/kling` prefix.
"""

from __future__ import annotations

import io
import time

import httpx
import jwt
import pytest
from app_harness import InProcessApp, make_kling_studio
from flows import events

from avatar_core import errors as e
from avatar_core.catalogue import sentence_for
from avatar_core.cli.main import main
from avatar_core.config import DEFAULT_KLING_BASE_URL, Secret, Settings
from avatar_core.errors import SettingsError
from avatar_core.jobs.events import Step
from avatar_core.jobs.studio import Studio
from avatar_core.provider.auth import KlingToken, sign_token
from avatar_core.provider.client import ProviderClient, redact
from avatar_core.provider.kling import kling_profile
from avatar_core.simulator import Simulator
from avatar_core.storage.journal import Stage
from avatar_core.waiting.scheduler import PollScheduler
from ui.handlers import use_key
from ui.sessions import Sessions

ACCESS = "kling-access-7d21-0a0b0c0d0e0f10111213"
SECRET = "kling-secret-e4c9-0123456789abcdef0123456789"
OTHER_SECRET = "not-the-secret-0123456789abcdef0123"
OWN_CREATE = "/v1/videos/avatar/image2video"


@pytest.fixture
def kling_sim(fake_time, tmp_path):
    """Kling's own API: JWTs signed with (ACCESS, SECRET); CometAPI's /kling/ routes take
    only another key, so a client that used them would be refused."""
    sim = Simulator(
        task_seconds=20.0,
        submit_seconds=2.0,
        clock=fake_time.now,
        work_dir=tmp_path / "sim",
        accepted_keys=["only-a-cometapi-key"],
        kling_keys=(ACCESS, SECRET),
    )
    sim.start()
    yield sim
    sim.stop()


def _ask(sim: Simulator, token: str | None, path: str = OWN_CREATE + "/123") -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.get(f"{sim.base_url}{path}", headers=headers, timeout=10)


# --- the simulator verifies the JWT ----------------------------------------------------------


def test_a_good_token_is_accepted_on_kling_own_route(kling_sim):
    answer = _ask(kling_sim, sign_token(ACCESS, SECRET, time.time()))
    assert answer.status_code == 404 and answer.json()["code"] == 1203  # no such task: accepted


@pytest.mark.parametrize(
    ("token", "code"),
    [  # each token signed when its test runs (not when tests are collected, maybe long before)
        (lambda: None, 1001),
        (lambda: "not-a-jwt", 1002),
        (lambda: sign_token(ACCESS, "another-secret-0123456789abcdef01234", time.time()), 1000),
        (lambda: sign_token("another-access", SECRET, time.time()), 1000),
        (lambda: sign_token(ACCESS, SECRET, time.time() - 3600), 1004),  # expired 30 min ago
        (lambda: sign_token(ACCESS, SECRET, time.time() + 600), 1003),  # valid from 10 min on
    ],
    ids=["missing", "malformed", "wrong signature", "wrong iss", "expired", "nbf in the future"],
)
def test_a_bad_token_is_refused_with_kling_auth_code(kling_sim, token, code):
    answer = _ask(kling_sim, token())
    assert answer.status_code == 401
    assert answer.json()["code"] == code


def test_a_refused_token_is_an_authentication_error_naming_the_kling_keys(kling_sim):
    wrong = kling_profile(
        kling_sim.base_url, Secret(ACCESS), Secret("wrong-secret-0123456789abcdef0123456")
    )
    with (
        ProviderClient(wrong.base_url, profile=wrong) as client,
        pytest.raises(e.AuthenticationError) as refused,
    ):
        client.get_task("123")
    assert str(refused.value).startswith(
        "Kling did not accept the access key and secret key (Kling code 1000): check "
        "KLING_ACCESS_KEY and KLING_SECRET_KEY"
    )
    assert "wrong-secret-0123456789abcdef0123456" not in str(refused.value)


# --- a whole job on Kling's own routes --------------------------------------------------------


def test_a_whole_job_runs_on_kling_own_routes_with_a_jwt(
    kling_sim, fake_time, tmp_path, portrait_path, speech_path
):
    studio = make_kling_studio(kling_sim, fake_time, tmp_path / "data", ACCESS, SECRET)
    try:
        seen = events(studio.generate(portrait_path, speech_path, prompt="Hello"))
    finally:
        studio.close()
    done = seen[-1]
    assert done.step is Step.DONE and done.video_path.stat().st_size > 1000
    assert kling_sim.stats.creates == 1
    job = studio.journal.get(done.job.job_id)
    assert job.stage is Stage.DONE and job.base_url == kling_sim.base_url  # resumed there only
    assert studio.provider == f"Provider: Kling ({kling_sim.base_url.split('//')[1]})"
    assert not (tmp_path / "data" / "provider_routes.json").exists()  # the route is known


def test_a_job_made_on_kling_is_resumed_on_kling_only(
    kling_sim, fake_time, tmp_path, portrait_path, speech_path
):
    job_dir = tmp_path / "data"
    first = make_kling_studio(kling_sim, fake_time, job_dir, ACCESS, SECRET)
    with pytest.raises(e.TaskStillRunningError):
        events(first.generate(portrait_path, speech_path, deadline_s=5))
    first.close()
    [job] = first.journal.unfinished()
    assert job.base_url == kling_sim.base_url

    elsewhere = kling_sim.base_url.replace("127.0.0.1", "localhost")  # CometAPI's endpoint
    settings = Settings(api_key=Secret("a-cometapi-key"), base_url=elsewhere, data_dir=job_dir)
    cometapi = Studio(
        settings,
        client=ProviderClient(elsewhere, "a-cometapi-key", clock=fake_time),
        scheduler=PollScheduler(clock=fake_time),
        clock=fake_time,
    )
    try:
        assert events(cometapi.resume(deadline_s=5)) == []  # not its job: left alone
    finally:
        cometapi.close()
    again = make_kling_studio(kling_sim, fake_time, tmp_path / "data", ACCESS, SECRET)
    try:
        seen = events(again.resume())
    finally:
        again.close()
    assert seen[-1].step is Step.DONE and again.journal.unfinished() == []
    assert kling_sim.stats.creates == 1


def test_the_token_is_signed_again_when_near_its_expiry(kling_sim, fake_time, tmp_path):
    """The client's clock starts 1750 s in the past: its first token has 50 s left by the
    simulator's real clock; moved 1550 s on, under 5 min is left and it signs a new one,
    which the simulator accepts too."""
    shift = {"by": -1750.0}
    token = KlingToken(Secret(ACCESS), Secret(SECRET), clock=lambda: time.time() + shift["by"])
    first = token.token()
    assert token.token() == first and token.signed == 1
    assert _ask(kling_sim, first).json()["code"] == 1203
    shift["by"] = -200.0
    second = token.token()
    assert second != first and token.signed == 2
    assert _ask(kling_sim, second).json()["code"] == 1203
    # an error formatted meanwhile may echo the token its request was signed with
    echoed = redact(f"401 for Bearer {first}, now {second}", token.hidden())
    assert first not in echoed and second not in echoed


def test_a_token_has_the_documented_header_and_claims():
    token = KlingToken(Secret(ACCESS), Secret(SECRET), clock=lambda: 1_700_000_000.0)
    text = token.token()
    assert jwt.get_unverified_header(text) == {"alg": "HS256", "typ": "JWT"}
    unchecked = {"verify_exp": False, "verify_nbf": False}  # the fake clock is long past
    claims = jwt.decode(text, SECRET, algorithms=["HS256"], options=unchecked)
    assert claims == {"iss": ACCESS, "exp": 1_700_001_800, "nbf": 1_699_999_995}
    assert SECRET not in repr(token) and ACCESS not in repr(token)


# --- which provider, from which keys -----------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "provider"),
    [
        ({}, "demo"),
        ({"COMETAPI_KEY": "c"}, "cometapi"),
        ({"KLING_ACCESS_KEY": "a", "KLING_SECRET_KEY": SECRET}, "kling"),
        ({"COMETAPI_KEY": "c", "KLING_ACCESS_KEY": "a", "KLING_SECRET_KEY": SECRET}, "cometapi"),
    ],
    ids=["none", "cometapi", "kling", "both: CometAPI first"],
)
def test_the_keys_that_are_set_choose_the_provider(env, provider):
    settings = Settings.from_env(env)
    assert settings.provider == provider
    assert settings.kling_base_url == DEFAULT_KLING_BASE_URL
    assert SECRET not in repr(settings)


@pytest.mark.parametrize("given", ["KLING_ACCESS_KEY", "KLING_SECRET_KEY"])
def test_one_kling_key_without_the_other_is_one_clear_sentence(given):
    with pytest.raises(SettingsError) as half:
        Settings.from_env({given: "value-of-" + given})
    missing = ({"KLING_ACCESS_KEY", "KLING_SECRET_KEY"} - {given}).pop()
    assert str(half.value) == (
        f"{given} is set but {missing} is not: set both to use Kling's own API, or neither."
    )


def test_a_pasted_kling_key_is_access_colon_secret():
    own = Settings(kling_access_key=Secret("a1"), kling_secret_key=Secret("s1"))
    pasted = own.with_key(" a2 : s2 ")
    assert pasted.provider == "kling" and pasted.account != own.account
    assert pasted.kling_secret_key == Secret("s2")
    assert own.with_key("").account == own.account
    with pytest.raises(SettingsError, match="ACCESS_KEY:SECRET_KEY") as refused:
        own.with_key("only-one-part")
    assert "only-one-part" not in str(refused.value)


# --- the command line names the provider --------------------------------------------------------


def _doctor(monkeypatch, tmp_path, env: dict[str, str]) -> tuple[int, str, str]:
    for name in ("COMETAPI_KEY", "KLING_ACCESS_KEY", "KLING_SECRET_KEY", "KLING_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AVATAR_DATA_DIR", str(tmp_path / "data"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out, err = io.StringIO(), io.StringIO()
    code = main(["doctor"], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_the_cli_doctor_names_kling_as_the_provider(kling_sim, monkeypatch, tmp_path):
    env = {
        "KLING_ACCESS_KEY": ACCESS,
        "KLING_SECRET_KEY": SECRET,
        "KLING_BASE_URL": kling_sim.base_url,
    }
    code, out, err = _doctor(monkeypatch, tmp_path, env)
    host = kling_sim.base_url.split("//")[1]
    assert code == 0, out + err
    assert f"Provider: Kling ({host})" in out and "key accepted: yes" in out
    assert SECRET not in out + err and ACCESS not in out + err


def test_the_cli_refuses_half_a_kling_key_in_one_line(monkeypatch, tmp_path):
    code, out, err = _doctor(monkeypatch, tmp_path, {"KLING_ACCESS_KEY": ACCESS})
    assert code == 2 and out == ""  # a setting not acceptable: nothing sent
    assert err.strip() == (
        "KLING_ACCESS_KEY is set but KLING_SECRET_KEY is not: set both to use Kling's own "
        "API, or neither."
    )


# --- the page names the provider, and its key box takes Kling's pair --------------------------


def test_the_page_names_kling_and_asks_for_an_access_secret_pair(kling_sim, fake_time, tmp_path):
    studio = make_kling_studio(kling_sim, fake_time, tmp_path / "data", ACCESS, SECRET)
    app = InProcessApp(studio)
    try:
        config = httpx.get(app.url.rstrip("/") + "/config", timeout=30).text
        sessions = Sessions(studio)
        half = use_key(sessions, "no-colon-here")
        wrong = use_key(sessions, f"{ACCESS}:{OTHER_SECRET}")
        right = use_key(sessions, f"{ACCESS}:{SECRET}")
    finally:
        app.close()
    host = kling_sim.base_url.split("//")[1]
    assert "provider_kling" in config and f"({host})" in config
    assert "key_box_kling" in config and SECRET not in config
    assert half[0] is not None and not isinstance(half[0], str)  # skipped: nothing taken
    assert half[3] == "❌ " + sentence_for("settings.paste_rule")
    assert wrong[3].startswith("❌ Kling did not accept the access key and secret key")
    assert OTHER_SECRET not in wrong[3]
    assert "key_used" in right[3] and sessions.kept == 0  # the app's own pair: nothing kept
