"""Shared fixtures: a fake clock that the simulator and the client share, so tasks move
through their statuses without any test sleeping for real; one real render per distinct
input for the whole process; and the `slow` mark for the modules that start processes,
apps and browsers or wait in real time (`pytest -m "not slow"` is the quick tier)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from fake_clock import FakeClock

ASSETS = Path(__file__).resolve().parent.parent / "assets"

# Gradio keeps uploads at paths named by their content, and an app deletes the files it made
# when it stops: two test processes (or a test and an app it started) uploading the same media
# into one shared cache would delete each other's uploads. Each test process has its own.
os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="gradio-tests-")


def _one_trust_store_a_process() -> None:
    """httpx makes a new TLS context for every client, loading certifi's CA bundle into it
    (about 20 ms of CPU), and gradio_client makes a client for every request it sends
    (`httpx.get`, `httpx.post`): a third of the CPU of the app modules went to loading
    the same CA bundle again, for requests to loopback over plain HTTP (the app process's
    readiness polls every 20 ms too). Here the default context (verify=True, no client
    certificate) is made once per set of the settings it is read from (SSL_CERT_FILE,
    SSL_CERT_DIR, SSLKEYLOGFILE) and shared, as one long-lived client shares it; every
    other `verify` is made as httpx makes it."""
    from httpx._transports import default as transports

    make = transports.create_ssl_context
    made: dict[tuple[object, ...], object] = {}

    def shared(verify=True, cert=None, trust_env=True):  # type: ignore[no-untyped-def]
        if verify is not True or cert is not None:
            return make(verify=verify, cert=cert, trust_env=trust_env)
        names = ("SSL_CERT_FILE", "SSL_CERT_DIR") if trust_env else ()
        key = (trust_env, os.environ.get("SSLKEYLOGFILE"), *map(os.environ.get, names))
        if key not in made:
            made[key] = make(verify=verify, cert=cert, trust_env=trust_env)
        return made[key]

    transports.create_ssl_context = shared


_one_trust_store_a_process()


# The modules that start processes, apps or a browser (the page's tests launch the app),
# wait in real time or fuzz: marked `slow`, so `pytest -m "not slow"` is the quick tier.
# Heaviest first (worker-seconds of a full run, stop 4): they also run first, so that the
# workers (pytest-xdist) start them early and end together. xdist hands each worker two
# modules at the start (the 1st and 4th to the first worker, and so on): the long
# speeches' browser module comes fourth, after a browser share on the same worker, so that
# three Chromiums do not start at once. A module that takes more than a few seconds
# belongs here.
SLOW_MODULES = (
    "test_browser",  # ~140 s, in two halves (SPLIT_MODULES): one for each of two workers
    "test_long_voice",  # ~33 s
    "test_visitors",  # ~29 s
    "test_long_speech_browser",  # ~34 s
    "test_hostile_inputs",  # ~28 s
    "test_fault_matrix",  # ~20 s, one fixture of 20 s
    "test_long_text",  # ~21 s
    "test_long_speech_page",
    "test_join",
    "test_ui_handlers",
    "test_crash_safety",
    "test_mcp",
    "test_cli_jobs",
    "test_public_inputs",
    "test_large_images",
    "test_speech_parts",
    "test_cli_batch",
    "test_resources",
    "test_silence",
    "test_request_budget",
    "test_app",
    "test_secrets",
    "test_install",
    "test_doctor",
    "test_simulator_process",
)


# The heaviest cases of quick modules (every voice, a photo over 10 MB...): their lighter
# siblings stay in the quick tier.
SLOW_TESTS = (
    "test_simulator_tts_auth.py::test_every_listed_voice_is_known_in_its_language",
    "test_studio.py::test_pasted_keys_do_not_move_the_expected_task_time",
    "test_image.py::test_a_real_photo_over_10_mb_comes_out_under_it",
    "test_config.py::test_the_app_does_not_start_on_a_setting_it_cannot_read",  # processes
    "test_config.py::test_the_command_line_stops_with_exit_2_on_a_setting_it_cannot_read",
    "test_line.py::test_twelve_visitors_at_once_all_get_their_video",  # both limits
    "test_scheduler.py::test_a_crowd_of_real_length_tasks_is_seen_within_seconds_and_the_budget",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the slow modules' and cases' tests, and run the slow modules first, heaviest
    first (a stable sort: each module's own order is kept)."""
    rank = {name: index for index, name in enumerate(SLOW_MODULES)}
    for item in items:
        case = f"{item.path.name}::{item.name.split('[')[0]}"
        if item.path.stem in rank or case in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))


# `--dist loadfile` (the README's command) sends each module whole to one worker, its
# module fixtures set up once. These modules are dealt into as many shares (every other
# test: the heavy and light sections are spread evenly), each sent whole to one worker,
# which sets up the module's fixtures for its share (the browser's: its own app and
# Chromium): alone on one worker, the browser's tests took longer than half the run.
# (`--dist loadgroup` and `xdist_group` marks would say the same, but xdist 3.8 cannot
# rename pytest 9's test ids, so it ignores the groups.)
SPLIT_MODULES = {"test_browser": 2}


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ModulesInShares(LoadFileScheduling):
        shares: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            module = super()._split_scope(nodeid)
            if Path(module).stem not in SPLIT_MODULES:
                return module
            if self.shares is None:  # the collection is known by the time units are made
                self.shares = _shares(self.collection or [])
            return self.shares.get(nodeid, module)

    return ModulesInShares(config, log)


def _shares(nodeids: list[str]) -> dict[str, str]:
    """Each test of a split module: the share it belongs to ("tests/test_x.py#1of2")."""
    modules: dict[str, list[str]] = {}
    for nodeid in nodeids:
        module = nodeid.split("::", 1)[0]
        if Path(module).stem in SPLIT_MODULES:
            modules.setdefault(module, []).append(nodeid)
    shares = {}
    for module, tests in modules.items():
        count = SPLIT_MODULES[Path(module).stem]
        for index, nodeid in enumerate(tests):
            shares[nodeid] = f"{module}#{index % count + 1}of{count}"
    return shares


@pytest.fixture(scope="session", autouse=True)
def shared_renders(tmp_path_factory):
    """Every simulator in this process renders each distinct input once (render_cache.py)."""
    from render_cache import SharedRenders

    from avatar_core.simulator import tasks

    shared = SharedRenders(tasks.render_avatar, tmp_path_factory.mktemp("renders"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tasks, "render_avatar", shared)
        yield shared


@pytest.fixture(scope="session", autouse=True)
def simulators_stop_quickly():
    """Every simulator in this process looks for its stop every 10 ms: it serves with a
    50 ms poll interval (avatar_core/simulator/server.py), so `stop()` waited about 45 ms,
    and the `simulator` fixture starts and stops one for every test that asks for it.
    Nothing a simulator answers changes."""
    from avatar_core.simulator.server import SimulatorHTTPServer

    serve = SimulatorHTTPServer.serve_forever

    def serve_forever(self: SimulatorHTTPServer, poll_interval: float = 0.5) -> None:
        serve(self, poll_interval=min(poll_interval, 0.01))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SimulatorHTTPServer, "serve_forever", serve_forever)
        yield


@pytest.fixture
def fake_time() -> FakeClock:
    return FakeClock()


@pytest.fixture
def simulator(fake_time, tmp_path):
    """A simulator on loopback whose tasks follow the fake clock."""
    from avatar_core.simulator import Simulator

    sim = Simulator(
        task_seconds=20.0, submit_seconds=2.0, clock=fake_time.now, work_dir=tmp_path / "sim"
    )
    sim.start(host="127.0.0.1", port=0)
    yield sim
    sim.stop()


@pytest.fixture
def gateway(fake_time, tmp_path):
    """Start simulators in a gateway profile, on the fake clock (tasks take 20 s unless
    told): `gateway("no-external-ids", video_link_misses=6)`."""
    from avatar_core.simulator import Simulator

    made: list[Simulator] = []

    def start(profile: str, **options) -> Simulator:
        options = {"task_seconds": 20.0, "submit_seconds": 2.0, **options}
        sim = Simulator(
            profile=profile,
            clock=fake_time.now,
            work_dir=tmp_path / f"sim-{len(made)}",
            **options,
        )
        sim.start()
        made.append(sim)
        return sim

    yield start
    for sim in made:
        sim.stop()


@pytest.fixture
def client(simulator, fake_time):
    from avatar_core.provider.client import ProviderClient

    with ProviderClient(simulator.base_url, "test-key", clock=fake_time, timeout=10) as c:
        yield c


@pytest.fixture(scope="session")
def portrait_path() -> Path:
    return ASSETS / "astronaut.jpg"


@pytest.fixture(scope="session")
def speech_path() -> Path:
    return ASSETS / "hello.mp3"
