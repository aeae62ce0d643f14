"""Secrets and boundaries, for real.

- A canary key drives the app (in-process, logging captured at DEBUG everywhere) through a
  success and a run of faults - some from a provider that echoes the key back in its error
  messages and failure reasons - and must appear in no log record, printed line, error,
  journal row, file under the data folder, Gradio config, page, API description or answer.
  The same for `python app.py` as a process, its whole output included (the process
  tests/test_visitors.py starts with the default ./data: one process for both).
- A key pasted through `/use_key` serves only that gradio_client session.
- Input URLs cannot reach this machine or its network, whatever the notation, redirect or
  DNS answer; result downloads never carry the key, only write under the data folder, and
  refuse what is not an MP4 over http(s).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from app_harness import InProcessApp, generate, make_kling_studio, make_studio
from fake_clock import FakeClock
from flows import final
from gradio_client import Client
from gradio_client.exceptions import AppError
from live import CANARY_KEY
from media import audio_bytes, image_bytes
from reliability import check_section, table

from avatar_core import errors as e
from avatar_core.config import Secret, Settings
from avatar_core.errors import InputError, UnsafeURLError
from avatar_core.inputs.ffmpeg import run_ffmpeg
from avatar_core.inputs.url_fetch import fetch_url
from avatar_core.jobs.studio import Studio
from avatar_core.provider.client import ProviderClient
from avatar_core.simulator import Simulator
from avatar_core.storage.journal import Stage

PASTED_KEY = "sk-pasted-canary-5b1e77a0"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    files = {
        "face": ("face.jpg", image_bytes(320, 320, fmt="JPEG")),
        "voice": ("voice.mp3", audio_bytes(2.5, fmt="mp3")),
        "tiny": ("tiny.png", image_bytes(100, 100)),
    }
    for name, data in files.values():
        (folder / name).write_bytes(data)
    return {key: folder / name for key, (name, _) in files.items()}


# --- a canary run through the app, everything captured ---------------------------------------


class _Everything(logging.Handler):
    """Every record of every logger, formatted with its traceback and arguments."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{self.format(record)} {record.args!r}")


@contextlib.contextmanager
def everything_logged() -> Iterator[tuple[_Everything, io.StringIO]]:
    """DEBUG on every logger, and whatever is printed to stdout or stderr meanwhile."""
    handler, printed = _Everything(), io.StringIO()
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in levels:
        logging.getLogger(name).setLevel(logging.NOTSET)
    try:
        with contextlib.redirect_stderr(printed), contextlib.redirect_stdout(printed):
            yield handler, printed
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@dataclass
class CanaryRun:
    answers: dict[str, str] = field(default_factory=dict)  # scenario -> answer or error
    logs: list[str] = field(default_factory=list)
    printed: str = ""
    pages: dict[str, str] = field(default_factory=dict)
    files: dict[Path, bytes] = field(default_factory=dict)
    journal: list[str] = field(default_factory=list)
    statuses: dict[str, Stage] = field(default_factory=dict)


def _scenarios(sim: Simulator) -> list[tuple[str, callable, bool]]:
    """(name, how the provider misbehaves, whether /status should follow up)."""
    return [
        ("success", lambda: None, False),
        (
            "a failure reason that quotes the key",
            lambda: sim.plan_task("fail", reason=f"rejected for key {CANARY_KEY}"),
            False,
        ),
        (
            "a refused create whose message quotes the key (gateway shape)",
            lambda: sim.inject(
                "create", "error", code=1004, shape="gateway", message=f"key {CANARY_KEY} expired"
            ),
            False,
        ),
        (
            "status queries failing with the key in their message, all retries",
            lambda: sim.inject(
                "query", "code_in_200", 5, message=f"upstream said {CANARY_KEY}", code=5000
            ),
            True,
        ),
        ("an expired video link", lambda: sim.inject("result", "expired", 10), True),
        ("a lost create answer", lambda: sim.inject("create", "reset", after_create=True), False),
        ("a read timeout on a query", lambda: sim.inject("query", "slow", delay=2), False),
    ]


@pytest.fixture(scope="module")
def canary_run(tmp_path_factory, inputs) -> CanaryRun:
    root = tmp_path_factory.mktemp("canary")
    run = CanaryRun()
    fake = FakeClock()
    with (
        Simulator(task_seconds=20, clock=fake.now, work_dir=root / "sim") as sim,
        everything_logged() as (handler, printed),
    ):
        studio = make_studio(sim, fake, root / "data", key=CANARY_KEY, http_timeout=1.0)
        app = InProcessApp(studio)
        try:
            client = app.client()
            for name, arrange, follow in _scenarios(sim):
                arrange()
                run.answers[name] = _answer(
                    lambda: generate(client, inputs["face"], inputs["voice"])
                )
                if follow:
                    task = studio.journal.recent(1)[0].task_id or ""
                    run.answers[name + ", then /status"] = _answer(
                        lambda task=task: client.predict(task, api_name="/status")
                    )
            run.answers["a photo too small"] = _answer(
                lambda: generate(client, inputs["tiny"], inputs["voice"])
            )
            run.answers["/history"] = json.dumps(client.predict(api_name="/history"))
            sim.set_key_state(CANARY_KEY, "no_credit")  # proof that the canary is the key used
            run.answers["the key's account out of credit"] = _answer(
                lambda: generate(client, inputs["face"], inputs["voice"])
            )
            for page in ("/", "/config", "/gradio_api/info", "/gradio_api/openapi.json"):
                run.pages[page] = httpx.get(app.url.rstrip("/") + page, timeout=30).text
        finally:
            app.close()
        run.journal = [repr(job) for job in studio.journal.recent(1000)]
        run.statuses = {job.job_id: job.stage for job in studio.journal.recent(1000)}
        run.logs, run.printed = list(handler.lines), printed.getvalue()
    run.files = {p: p.read_bytes() for p in (root / "data").rglob("*") if p.is_file()}
    return run


def _answer(call) -> str:
    try:
        return f"answer: {call()}"
    except AppError as error:
        return f"AppError: {error}"


PLACES = {
    "log records of every logger at DEBUG (args included)": lambda run: run.logs,
    "everything printed to stdout and stderr": lambda run: [run.printed],
    "answers and errors of /generate, /status, /history": lambda run: list(run.answers.values()),
    "journal rows": lambda run: run.journal,
    "Gradio pages: /, /config, /gradio_api/info, /gradio_api/openapi.json": lambda run: list(
        run.pages.values()
    ),
    "files under the data folder (journal, WAL, videos)": lambda run: [
        data.decode("latin-1") for data in run.files.values()
    ],
}


def test_the_canary_run_really_used_the_key_and_captured_a_lot(canary_run):
    assert "balance is used up" in canary_run.answers["the key's account out of credit"]
    assert canary_run.answers["success"].startswith("answer: ")
    assert any("httpcore" in line for line in canary_run.logs), "DEBUG capture did not work"
    assert canary_run.files and canary_run.journal and canary_run.pages["/config"]


@pytest.mark.parametrize("place", list(PLACES))
def test_the_canary_key_is_nowhere(canary_run, place):
    texts = PLACES[place](canary_run)
    assert texts
    for text in texts:
        assert CANARY_KEY not in text, text[:2000]


def test_a_provider_that_echoes_the_key_gets_it_masked_not_repeated(canary_run):
    reason = canary_run.answers["a failure reason that quotes the key"]
    assert reason.startswith("AppError: The provider could not make this video: rejected for key")
    assert "********" in reason
    refused = canary_run.answers["a refused create whose message quotes the key (gateway shape)"]
    assert "CometAPI did not accept the API key (Kling code 1004)" in refused


def test_the_secrets_section_is_current(canary_run):
    rows = [(place, "absent") for place in PLACES]
    rows += [(f"`{name}`", _outcome(answer)) for name, answer in canary_run.answers.items()
             if name != "/history"]  # fmt: skip
    body = (
        "The in-process app with the canary key as COMETAPI_KEY, every logger at DEBUG, "
        "stdout and stderr captured, through these scenarios (what each answered):\n\n"
        + table(("where the canary key was looked for / scenario", "result"), rows)
    )
    check_section("secrets", body)


def _outcome(answer: str) -> str:
    if answer.startswith("answer: "):
        return "the video's path"
    return answer


# --- Kling's own API: the secret key, the access key and the token -----------------------------

KLING_CANARY_ACCESS = "ak-canary-kling-4e0b9a1c-never-show-me"
KLING_CANARY_SECRET = "sk-canary-kling-77d3e2f5-never-show-me-either"
KLING_PASTED_SECRET = "sk-canary-kling-pasted-0c9a-never-show-me"


@pytest.fixture(scope="module")
def kling_canary_run(tmp_path_factory, inputs) -> tuple[CanaryRun, list[str]]:
    """The app on Kling's own API with canary keys, every logger at DEBUG, a provider that
    echoes the secret key, the access key and the token back; a visitor pastes another
    pair. Returns the run and the texts that must be nowhere (the keys and the tokens)."""
    root = tmp_path_factory.mktemp("kling-canary")
    run, fake = CanaryRun(), FakeClock()
    keys = (KLING_CANARY_ACCESS, KLING_CANARY_SECRET)
    with (
        Simulator(task_seconds=20, clock=fake.now, work_dir=root / "sim", kling_keys=keys) as sim,
        everything_logged() as (handler, printed),
    ):
        studio = make_kling_studio(sim, fake, root / "data", *keys)
        token = studio.client.profile.credential.token()
        app = InProcessApp(studio)
        try:
            client = app.client()
            echoed = f"access {KLING_CANARY_ACCESS} secret {KLING_CANARY_SECRET} token {token}"
            scenarios = {
                "success": lambda: None,
                "a failure reason that quotes the keys and the token": lambda: sim.plan_task(
                    "fail", reason=echoed
                ),
                "a refused create that quotes them (1004)": lambda: sim.inject(
                    "create", "error", code=1004, message=echoed
                ),
            }
            for name, arrange in scenarios.items():
                arrange()
                run.answers[name] = _answer(
                    lambda: generate(client, inputs["face"], inputs["voice"])
                )
            pasted = f"{KLING_CANARY_ACCESS}-other:{KLING_PASTED_SECRET}"
            run.answers["/use_key with another pair"] = repr(
                client.predict(pasted, api_name="/use_key")
            )
            run.answers["/history"] = json.dumps(client.predict(api_name="/history"))
            for page in ("/", "/config", "/gradio_api/info", "/gradio_api/openapi.json"):
                run.pages[page] = httpx.get(app.url.rstrip("/") + page, timeout=30).text
        finally:
            app.close()
        run.journal = [repr(job) for job in studio.journal.recent(1000)]
        run.logs, run.printed = list(handler.lines), printed.getvalue()
    run.files = {p: p.read_bytes() for p in (root / "data").rglob("*") if p.is_file()}
    return run, [KLING_CANARY_SECRET, KLING_CANARY_ACCESS, KLING_PASTED_SECRET, token]


def test_the_kling_canary_run_really_used_kling_own_api(kling_canary_run):
    run, _ = kling_canary_run
    assert run.answers["success"].startswith("answer: ")
    refused = run.answers["a refused create that quotes them (1004)"]
    assert "Kling did not accept the access key and secret key (Kling code 1004)" in refused
    assert "********" in run.answers["a failure reason that quotes the keys and the token"]
    assert run.files and run.journal and "provider_kling" in run.pages["/config"]


@pytest.mark.parametrize("place", list(PLACES))
def test_the_kling_secret_key_access_key_and_token_are_nowhere(kling_canary_run, place):
    run, hidden = kling_canary_run
    texts = PLACES[place](run)
    assert texts
    for text in texts:
        for value in hidden:
            assert value not in text, (hidden.index(value), text[:2000])


# --- a pasted key --------------------------------------------------------------------------


@dataclass
class Sessions:
    app: InProcessApp
    sim: Simulator
    mine: Client  # pasted PASTED_KEY
    theirs: Client  # pasted nothing
    pasted: object  # what /use_key answered
    my_video: str
    data: Path


@pytest.fixture(scope="module")
def two_sessions(tmp_path_factory, inputs) -> Iterator[Sessions]:
    """One app; session A pastes its own key, session B does not."""
    root = tmp_path_factory.mktemp("sessions")
    fake = FakeClock()
    with Simulator(task_seconds=20, clock=fake.now, work_dir=root / "sim") as sim:
        studio = make_studio(sim, fake, root / "data", key="the-apps-own-key")
        app = InProcessApp(studio)
        try:
            mine, theirs = app.client(), app.client()
            pasted = mine.predict(PASTED_KEY, api_name="/use_key")
            video = generate(mine, inputs["face"], inputs["voice"])
            yield Sessions(app, sim, mine, theirs, pasted, video, root / "data")
        finally:
            app.close()


def test_a_pasted_key_serves_its_session_only(two_sessions, inputs):
    both = two_sessions
    assert PASTED_KEY not in repr(both.pasted)
    both.sim.set_key_state(PASTED_KEY, "no_credit")
    try:
        with pytest.raises(AppError, match="balance is used up"):
            generate(both.mine, inputs["face"], inputs["voice"])
        assert Path(generate(both.theirs, inputs["face"], inputs["voice"])).is_file()
    finally:
        both.sim.set_key_state(PASTED_KEY, "ok")
    seen_by_them = [
        json.dumps(both.theirs.predict(api_name="/history")),
        httpx.get(both.app.url.rstrip("/") + "/config", timeout=30).text,
        httpx.get(both.app.url, timeout=30).text,
        repr(both.theirs.view_api(print_info=False, return_format="dict")),
    ]
    for text in seen_by_them:
        assert PASTED_KEY not in text
    for path in both.data.rglob("*"):
        if path.is_file():
            assert PASTED_KEY.encode() not in path.read_bytes(), path


def test_what_a_pasted_key_made_stays_with_its_session(two_sessions):
    """Another session neither lists the job nor gets its video by task id."""
    rows = two_sessions.theirs.predict(api_name="/history")["data"]
    task_id = Path(two_sessions.my_video).stem
    assert all(task_id not in row for row in rows)
    with pytest.raises(AppError):
        two_sessions.theirs.predict(task_id, api_name="/status")


# --- the app as a process: tests/test_visitors.py's `python app.py`, run with the canary key
# (test_the_app_process_shows_the_key_nowhere, ..._logs_a_refused_input_without_a_traceback)


# --- input URLs ---------------------------------------------------------------------------------


class _Web(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.server.seen.append(parts.path)
        if parts.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", parse_qs(parts.query)["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = image_bytes(320, 320, fmt="JPEG")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def web() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Web)
    server.seen = []
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    yield server
    server.shutdown()
    server.server_close()


# Other ways to write this machine's address; each resolves (by the system, not a fake) to
# loopback, and must be refused before anything is requested.
LOOPBACK_SPELLINGS = [
    "2130706433",  # 127.0.0.1 as one decimal number
    "0x7f000001",
    "0177.0.0.1",  # octal
    "127.1",
    "127.0.0.1.",
    "localhost.",
    "LOCALHOST",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[0:0:0:0:0:0:0:1]",
    "0",
]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_this_machine_is_refused_under_any_spelling(web, host):
    before = len(web.seen)
    url = f"http://{host}:{web.server_address[1]}/portrait.jpg"
    with pytest.raises(InputError):  # UnsafeURLError, or "not a valid web address"
        fetch_url(url, max_bytes=10**6)
    assert len(web.seen) == before, "the request was made"


@pytest.fixture
def names(monkeypatch):
    """Give names addresses (no DNS here); 127.0.0.1, the test server, counts as public."""
    from avatar_core.inputs import url_fetch

    real_reason, real_lookup = url_fetch.blocked_reason, socket.getaddrinfo
    answers: dict[str, list[str]] = {}
    asked: dict[str, int] = {}

    def lookup(host, port, *args, **kwargs):
        if host not in answers:
            return real_lookup(host, port, *args, **kwargs)
        asked[host] = asked.get(host, 0) + 1
        address = answers[host][min(asked[host], len(answers[host])) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    monkeypatch.setattr(
        url_fetch,
        "blocked_reason",
        lambda address: None if str(address) == "127.0.0.1" else real_reason(address),
    )
    return answers, asked


def test_a_redirect_to_a_name_that_resolves_inside_is_refused(web, names):
    answers, _ = names
    answers.update({"cdn.example": ["127.0.0.1"], "intranet.example": ["10.20.30.40"]})
    port = web.server_address[1]
    url = f"http://cdn.example:{port}/redirect?to=http://intranet.example:{port}/x.jpg"
    with pytest.raises(UnsafeURLError, match=r"10\.20\.30\.40, a private network address"):
        fetch_url(url, max_bytes=10**6)


def test_a_name_that_rebinds_between_redirects_is_checked_again(web, names):
    """A DNS answer is trusted for one connection only: after a redirect to the same name,
    the new answer (now inside) is checked and refused."""
    answers, asked = names
    answers["rebind.example"] = ["127.0.0.1", "169.254.169.254"]
    port = web.server_address[1]
    url = f"http://rebind.example:{port}/redirect?to=/portrait.jpg"
    with pytest.raises(UnsafeURLError, match=r"169\.254\.169\.254, a link-local address"):
        fetch_url(url, max_bytes=10**6)
    assert asked["rebind.example"] == 2


# --- result downloads from a hostile provider --------------------------------------------------


class _Provider(BaseHTTPRequestHandler):
    """Answers any task query with `server.task` (id and video link of the test's choosing)
    and serves a real MP4, an HTML page, and a video that claims a terabyte."""

    def log_message(self, *args) -> None:
        pass

    def _send(self, body: bytes, kind: str, length: int | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.seen.append((self.path, dict(self.headers)))
        if self.path.startswith("/kling/"):
            task_id, video = self.server.task
            data = {"task_id": task_id, "task_status": "succeed", "created_at": 1, "updated_at": 2,
                    "task_result": {"videos": [{"url": video, "duration": "2.0"}]}}  # fmt: skip
            self._send(json.dumps({"code": 0, "data": data}).encode(), "application/json")
        elif self.path == "/video.mp4":
            self._send(self.server.mp4, "video/mp4")
        elif self.path == "/huge.mp4":
            self._send(self.server.mp4, "video/mp4", length=10**12)
        else:
            self._send(b"<!DOCTYPE html><html><body>Sign in to continue</body></html>", "text/html")


@pytest.fixture(scope="module")
def hostile_provider() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Provider)
    server.seen, server.task = [], ("1", "")
    done = run_ffmpeg(["-f", "lavfi", "-i", "testsrc=s=64x64:d=1", "-pix_fmt", "yuv420p",
                       "-movflags", "frag_keyframe+empty_moov", "-f", "mp4", "pipe:1"])  # fmt: skip
    assert done.returncode == 0, done.stderr
    server.mp4 = done.stdout
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    yield server
    server.shutdown()
    server.server_close()


def _follow(server: ThreadingHTTPServer, data: Path, task_id: str, video: str):
    """Follow `task_id` at the hostile provider with the canary key: (error, journal row)."""
    base = f"http://127.0.0.1:{server.server_address[1]}"
    server.task = (task_id, video.replace("BASE", base))
    settings = Settings(api_key=Secret(CANARY_KEY), base_url=base, data_dir=data)
    studio = Studio(settings, client=ProviderClient(base, CANARY_KEY, timeout=10))
    error = None
    try:
        final(studio.follow(task_id))
    except e.AvatarError as caught:
        error = caught
    [job] = studio.journal.recent()
    return error, job


def test_the_video_download_never_carries_the_key(hostile_provider, tmp_path):
    error, job = _follow(hostile_provider, tmp_path, "778899", "BASE/video.mp4")
    assert error is None and job.stage is Stage.DONE
    queries = [h for path, h in hostile_provider.seen if path.startswith("/kling/")]
    downloads = [h for path, h in hostile_provider.seen if path == "/video.mp4"]
    assert queries and all(h["Authorization"] == f"Bearer {CANARY_KEY}" for h in queries)
    assert downloads and all(CANARY_KEY not in repr(h) for h in downloads)


def test_a_task_id_that_climbs_out_is_stored_inside_the_videos_folder(hostile_provider, tmp_path):
    error, job = _follow(hostile_provider, tmp_path / "data", "../../../escape", "BASE/video.mp4")
    assert error is None
    stored = Path(job.video_path or "")
    assert stored.parent == tmp_path / "data" / "videos" and stored.is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["data"]


@pytest.mark.parametrize(
    ("video", "said"),
    [
        ("file:///etc/passwd", "The provider's video link is not http(s) (file:): it was not "
         "downloaded."),
        ("BASE/login.html", "The provider's video link gave something that is not an MP4 "
         "video: try the lookup again later."),
        ("BASE/huge.mp4", "The video is 1000000 MB, over this app's limit of 524 MB: it was not "
         "downloaded."),
    ],
)  # fmt: skip
def test_a_video_link_that_is_not_a_video_is_refused_and_nothing_is_kept(
    hostile_provider, tmp_path, video, said
):
    error, job = _follow(hostile_provider, tmp_path, "445566", video)
    assert isinstance(error, e.ResultDownloadError) and str(error) == said
    assert job.stage is Stage.DOWNLOADING and job.error == said  # resumable, and it says why
    assert not any((tmp_path / "videos").glob("*")) if (tmp_path / "videos").exists() else True
