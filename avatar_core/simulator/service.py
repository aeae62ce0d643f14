"""`Simulator`: the fake provider as one object - start it, steer it, read its stats.

It is how the app runs in demo mode and how every test meets "the provider": a local HTTP
server speaking Kling's protocol, with a clock tests can drive, planned task outcomes,
injectable faults, and real MP4 results marked as simulated.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from avatar_core.simulator.options import SimulatorOptions, profile_options
from avatar_core.simulator.parts import SimulatorParts
from avatar_core.simulator.routes import Routes
from avatar_core.simulator.server import SimulatorHTTPServer, start_server
from avatar_core.simulator.stats import Stats
from avatar_core.simulator.tasks import Clock, Plan


class _Option:
    """A `Simulator` attribute that reads and writes the option of the same name."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, simulator: Simulator | None, owner: type | None = None) -> Any:
        return self if simulator is None else getattr(simulator.options, self.name)

    def __set__(self, simulator: Simulator, value: Any) -> None:
        setattr(simulator.options, self.name, value)


class Simulator:
    """A local Kling Avatar provider for demo mode and tests: CometAPI's paths (a bearer
    key) and Kling's own (no `/kling` prefix; with `kling_keys=(access, secret)`, a JWT).

    `options` are the fields of `SimulatorOptions` (task_seconds, submit_seconds,
    avatar_query_route, error_shape, rate_limit_per_s, ...), also readable and settable
    later through `simulator.options`; `profile` names a gateway profile (options.PROFILES)
    whose options come first. Task statuses follow `clock` only (default
    `time.monotonic`): pass a fake clock to move tasks along without sleeping. Results live
    under `work_dir` (a temporary directory, removed at stop, when None).
    """

    avatar_query_route = _Option()
    error_shape = _Option()
    rate_limit_per_s = _Option()

    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        accepted_keys: Iterable[str] | None = None,
        work_dir: str | Path | None = None,
        profile: str | None = None,
        **options: Any,
    ) -> None:
        if profile is not None:
            options = {**profile_options(profile), **options}
        checked = SimulatorOptions(**options)  # before anything is made: a typo fails at once
        self._temp: tempfile.TemporaryDirectory[str] | None = None
        if work_dir is None:
            self._temp = tempfile.TemporaryDirectory(
                prefix="kling-sim-", ignore_cleanup_errors=True
            )
            work_dir = self._temp.name
        self.work_dir = Path(work_dir)
        self._parts = SimulatorParts.build(
            checked, clock=clock, accepted_keys=accepted_keys, work_dir=self.work_dir
        )
        self._routes = Routes(self._parts)
        self._server: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    @property
    def options(self) -> SimulatorOptions:
        """How the simulator behaves; change a field to change the next requests' answers."""
        return self._parts.options

    # --- running --------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in background threads; returns the base URL, e.g. "http://127.0.0.1:PORT"."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._server, self._thread = start_server(self._routes.handle, host, port)
        self._base_url = self._server.base_url
        self._parts.callbacks.start()
        return self._base_url

    @property
    def base_url(self) -> str | None:
        """The root URL clients use as base_url; None until started."""
        return self._base_url

    def stop(self) -> None:
        """Stop serving, wait briefly for renders, remove a temporary work_dir."""
        self._parts.callbacks.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._parts.book.join_renders(timeout=30)
        if self._temp is not None:
            self._temp.cleanup()

    def __enter__(self) -> Simulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- steering -------------------------------------------------------------------

    def inject(self, route: str, kind: str, times: int = 1, **params: Any) -> None:
        """Queue a fault for the next `times` requests on `route` (see faults.py)."""
        self._parts.faults.inject(route, kind, times, **params)

    def use_profile(self, name: str) -> None:
        """Behave as the gateway profile `name` (options.PROFILES) from the next request."""
        self.options.update(**profile_options(name))

    def plan_task(
        self,
        outcome: str = "succeed",
        reason: str | None = None,
        task_seconds: float | None = None,
        times: int = 1,
    ) -> None:
        """Decide how the next `times` created tasks end: "succeed", "fail" or "stuck"."""
        self._parts.book.plan(Plan(outcome, reason, task_seconds), times)

    def set_key_state(self, key: str, state: str) -> None:
        """Put the account of `key` in "ok", "no_credit", "arrears" or "no_permission"."""
        self._parts.accounts.set_state(key, state)

    @property
    def stats(self) -> Stats:
        """A snapshot of what the simulator has seen since start or the last reset."""
        return self._parts.stats_snapshot()

    def succeeded_at_ms(self, task_id: str) -> int | None:
        """When a task planned to succeed does (wall-clock ms, as the provider would report
        it in `updated_at`), without a request that would count against the rate limit."""
        return self._parts.book.succeeded_at_ms(task_id)

    def reset(self) -> None:
        """Forget tasks, audios, faults, plans, account states and stats; keep the options."""
        self._parts.reset()


def serve_forever(host: str = "127.0.0.1", port: int = 8765, **kwargs: Any) -> None:
    """Run a simulator in the foreground until Ctrl-C, printing its base URL."""
    simulator = Simulator(**kwargs)
    base_url = simulator.start(host=host, port=port)
    print(f"Kling Avatar simulator serving at {base_url} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("Stopping the simulator.", file=sys.stderr, flush=True)
    finally:
        simulator.stop()
