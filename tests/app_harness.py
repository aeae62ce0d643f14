"""The real Gradio app in this process, on a free port, driven through gradio_client or
Debian's Chromium (the browser tests and docs/screenshots.py).

The app's studio and its simulator share a fake clock, so polls, retries and back-offs
cost no real time; only what the simulator does for real (renders, `slow` faults) does.
A page a browser watches runs on real time instead (`demo_studio`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn.server as uvicorn_server
from fake_clock import FakeClock
from gradio_client import Client, handle_file
from live import free_port

import app as app_module
import ui
import ui.limits
from avatar_core.config import Secret, Settings
from avatar_core.demo import DEMO_KEY
from avatar_core.jobs.studio import Studio
from avatar_core.provider.client import ProviderClient
from avatar_core.provider.kling import kling_profile
from avatar_core.provider.retry import RetryPolicy
from avatar_core.simulator import Simulator
from avatar_core.waiting.pacing import Pacing
from avatar_core.waiting.scheduler import PollScheduler
from ui.request_limits import UploadLedger, request_limits

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; never `playwright install`
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
]


NO_LIMITS = {"max_active_per_visitor": 0, "max_daily_per_visitor": 0}


def make_studio(
    sim: Simulator,
    time: FakeClock,
    data_dir: Path,
    *,
    key: str | None = "app-key",
    http_timeout: float = 30.0,
    retry: RetryPolicy | None = None,
    rate_per_s: float | None = None,
    **more_settings: Any,
) -> Studio:
    """A studio on `sim` with `key` (None: demo mode, on `sim` rather than the built-in
    simulator), whose waiting follows the fake clock; its client and its downloads wait as
    `http_timeout` (Settings.http_timeout_s) says, and backs off as `retry` says (the
    line's waits after a refused create too), and takes its requests' slots at `rate_per_s`
    (the request budget, on the fake clock too; None: the product's default).
    `more_settings` are more Settings fields;
    visitors have no spending limits unless they say so (max_daily_per_visitor=3...)."""
    secret = Secret(key) if key else None
    settings = Settings(
        api_key=secret,
        base_url=sim.base_url or "",
        data_dir=data_dir,
        http_timeout_s=http_timeout,
        **{**NO_LIMITS, **more_settings},
    )
    client = ProviderClient(settings.base_url, key or DEMO_KEY, clock=time, timeout=http_timeout)
    rate = {} if rate_per_s is None else {"rate_per_s": rate_per_s}
    scheduler = PollScheduler(clock=time, **rate)
    return Studio(
        settings, client=client, scheduler=scheduler, clock=time,
        retry=retry,
    )  # fmt: skip


def make_kling_studio(
    sim: Simulator,
    time: FakeClock,
    data_dir: Path,
    access_key: str,
    secret_key: str,
    token_clock: Callable[[], float] | None = None,
) -> Studio:
    """A studio on `sim` speaking Kling's own API (its routes, a JWT signed with the
    secret key), whose waiting follows the fake clock; the token follows `token_clock`
    (Unix seconds; the real clock by default, as the simulator checks tokens by it)."""
    settings = Settings(
        kling_access_key=Secret(access_key),
        kling_secret_key=Secret(secret_key),
        kling_base_url=sim.base_url or "",
        data_dir=data_dir,
        **NO_LIMITS,
    )
    profile = kling_profile(
        settings.kling_base_url, Secret(access_key), Secret(secret_key), token_clock
    )
    client = ProviderClient(profile.base_url, profile=profile, clock=time)
    scheduler = PollScheduler(clock=time)
    return Studio(settings, client=client, scheduler=scheduler, clock=time)


# How a real-time studio asks the provider: first after half a second, then about every
# second (the product's first check is 2 s after the create).
REAL_TIME_PACING = Pacing(first_s=0.5, floor_s=0.3, cap_s=1.0)


def demo_studio(sim: Simulator, data_dir: Path, *, pacing: Pacing = REAL_TIME_PACING) -> Studio:
    """Demo mode (no key) on `sim` in real time, polling about every second (for a page a
    browser watches; `pacing` says when); a key pasted on the page goes to `sim` as well."""
    return real_time_studio(sim, data_dir, pacing=pacing)


def real_time_studio(
    sim: Simulator,
    data_dir: Path,
    *,
    key: str | None = None,
    rate_per_s: float = 10.0,
    pacing: Pacing = REAL_TIME_PACING,
    **settings: object,
) -> Studio:
    """A studio on `sim` in real time, polling about every second (`pacing`), with `key`
    (None: demo mode), a request budget of `rate_per_s`, and other Settings' fields."""
    options = {**NO_LIMITS, **settings}  # demo mode has the visitors' limits too
    config = Settings(
        api_key=Secret(key) if key else None,
        base_url=sim.base_url or "",
        data_dir=data_dir,
        **options,  # type: ignore[arg-type]
    )
    return Studio(
        config,
        client=ProviderClient(config.base_url, key or DEMO_KEY),
        scheduler=PollScheduler(rate_per_s=rate_per_s, pacing=pacing),
    )


_building = threading.local()  # set while this thread builds an app that it will launch


def _routes_made_at_launch_only() -> None:
    """Gradio makes an app's FastAPI routes (about 80 of them, each analysed by FastAPI)
    four times before it serves: when the Blocks is made (its `queue()`), when its `with`
    ends, at the `queue()` app.py asks for, and at `launch`, which replaces each earlier
    one: about 0.15 s of CPU for each app a test builds. While `_building.now` is set
    (InProcessApp's build, in its own thread), the three that launch replaces are not
    made; `launch` makes the app it serves as always."""
    from gradio.routes import App

    make = App.create_app

    def create_app(*args: Any, **kwargs: Any) -> Any:
        if getattr(_building, "now", False):
            return None
        return make(*args, **kwargs)

    App.create_app = staticmethod(create_app)  # type: ignore[method-assign]


_routes_made_at_launch_only()


class _QuickTicks:
    """uvicorn's server module as it sees `asyncio`, with its sleeps at most 20 ms: its
    serving loop looks for a stop every 0.1 s, and its shutdown sleeps 0.1 s and then
    polls every 0.1 s until the connections and tasks are done; an app's `close()` took
    about 0.17 s, nearly all of it those sleeps. Here it waits for the same states,
    looking every 20 ms (an in-process app stops in about 40 ms). Only the servers of
    this test process; `python app.py` is untouched."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    async def sleep(delay: float, result: Any = None) -> Any:
        return await asyncio.sleep(min(delay, 0.02), result)


uvicorn_server.asyncio = _QuickTicks()  # type: ignore[attr-defined]


@contextlib.contextmanager
def _until_launch() -> Iterator[None]:
    _building.now = True
    try:
        yield
    finally:
        _building.now = False


class InProcessApp:
    """`app.build_app(studio)` served on loopback, as `python app.py` serves it (its queue
    and its request limits; `queue` overrides some of the queue's options, `ledger` is the
    request limits' own, to look into it or to limit uploads); `options` go to build_app
    (the sessions, to look into them; a quicker cache cleaning)."""

    def __init__(
        self,
        studio: Studio,
        *,
        queue: dict[str, Any] | None = None,
        ledger: Any = None,
        **options: object,
    ) -> None:
        self.studio = studio
        queued = {**ui.limits.queue_options(), **(queue or {})}
        with _until_launch():  # the routes are made once, by launch
            self.blocks = app_module.build_app(studio, **options).queue(**queued)  # type: ignore[arg-type]
        launch = app_module.launch_options(studio.settings)
        # every test's requests come from one address: uploads have no limit a minute
        # unless a test brings its ledger (as visitors have no spending limits, NO_LIMITS)
        ledger = ledger or UploadLedger(files_per_minute=10**6, bytes_per_minute=2**50)
        launch["app_kwargs"] = {"middleware": [request_limits(ledger)]}
        for attempt in range(3):  # a free port can be taken by another process meanwhile
            try:
                self.server, self.url, _ = ui.launch(
                    self.blocks,
                    server_name="127.0.0.1",
                    server_port=free_port(),
                    prevent_thread_lock=True,
                    quiet=True,
                    **launch,
                )
                break
            except OSError:
                if attempt == 2:
                    raise
        app_module.add_callback_route(self.server, studio.callbacks)

    def client(self) -> Client:
        return Client(self.url, verbose=False)

    def close(self) -> None:
        self._stop_streams()
        self.blocks.close()
        self.studio.close()

    def _stop_streams(self) -> None:
        """Set the app's stop event on the server's own loop: `Blocks.close` sets it from
        this thread, and an asyncio event is not safe across threads (the loop adding a
        waiter meanwhile raised "deque mutated during iteration" under load). Once set,
        `close` finds it set and leaves it."""
        event = self.blocks.app.stop_event
        loop = getattr(event, "_loop", None)  # bound once a stream has waited on it
        if loop is None or not loop.is_running():
            return
        done = threading.Event()
        loop.call_soon_threadsafe(lambda: (event.set(), done.set()))
        done.wait(5)


def generate(client: Client, image: Path, audio: Path, prompt: str = "", mode: str = "std") -> str:
    """`/generate` as the README shows it; the video's path (AppError on failure)."""
    return client.predict(
        handle_file(str(image)), handle_file(str(audio)), prompt, mode, api_name="/generate"
    )


@contextlib.contextmanager
def app_on_a_simulator(root: Path) -> Iterator[tuple[InProcessApp, Simulator]]:
    """The app on a simulator of its own in `root`, both on one fake clock."""
    fake = FakeClock()
    with Simulator(task_seconds=20, clock=fake.now, work_dir=root / "sim") as sim:
        running = InProcessApp(make_studio(sim, fake, root / "data"))
        try:
            yield running, sim
        finally:
            running.close()
