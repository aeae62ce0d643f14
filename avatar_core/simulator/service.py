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

from avatar_core.simulator.accounts import Accounts
from avatar_core.simulator.callbacks import CallbackTicker
from avatar_core.simulator.faults import FaultQueue
from avatar_core.simulator.render import DEFAULT_MAX_SIDE
from avatar_core.simulator.routes import Routes
from avatar_core.simulator.server import SimulatorHTTPServer, start_server
from avatar_core.simulator.stats import Stats, StatsRecorder
from avatar_core.simulator.tasks import Clock, TaskBook
from avatar_core.simulator.tts import AudioStore
from avatar_core.simulator.wire import ERROR_SHAPES


class Simulator:
    """A local Kling Avatar provider (CometAPI paths) for demo mode and tests.

    Task statuses follow `clock` only (default `time.monotonic`): pass a fake clock to
    move tasks along without sleeping. Results live under `work_dir` (a temporary
    directory, removed at stop, when None).
    """

    def __init__(
        self,
        task_seconds: float = 8.0,
        submit_seconds: float = 1.0,
        clock: Clock = time.monotonic,
        accepted_keys: Iterable[str] | None = None,
        avatar_query_route: bool = True,
        work_dir: str | Path | None = None,
        *,
        error_shape: str = "kling",
        rate_limit_per_s: float | None = None,
        task_seconds_jitter: float = 0.0,
        render_max_side: int = DEFAULT_MAX_SIDE,
        callback_interval: float = 0.1,
    ) -> None:
        if error_shape not in ERROR_SHAPES:
            raise ValueError(f"unknown error shape {error_shape!r}")
        self.avatar_query_route = avatar_query_route
        self.error_shape = error_shape  # the shape of the simulator's own (non-fault) errors
        self.rate_limit_per_s = rate_limit_per_s  # API requests a second before 429 (1302)
        self._temp: tempfile.TemporaryDirectory[str] | None = None
        if work_dir is None:
            self._temp = tempfile.TemporaryDirectory(
                prefix="kling-sim-", ignore_cleanup_errors=True
            )
            work_dir = self._temp.name
        self.work_dir = Path(work_dir)
        results = self.work_dir / "results"
        self._accounts = Accounts(accepted_keys)
        self._faults = FaultQueue()
        self._stats = StatsRecorder()
        self._audio = AudioStore(results / "audio")
        self._book = TaskBook(
            clock=clock,
            submit_seconds=float(submit_seconds),
            task_seconds=float(task_seconds),
            task_seconds_jitter=float(task_seconds_jitter),
            results_dir=results,
            inputs_dir=self.work_dir / "inputs",
            render_max_side=render_max_side,
        )
        self._ticker = CallbackTicker(
            self._book, interval=callback_interval, on_sent=self._stats.callback
        )
        self._routes = Routes(self)
        self._server: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    # --- running --------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in background threads; returns the base URL, e.g. "http://127.0.0.1:PORT"."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._server, self._thread = start_server(self._routes, host, port)
        bound_host, bound_port = self._server.server_address[:2]
        shown = "127.0.0.1" if bound_host in ("0.0.0.0", "") else bound_host
        if ":" in str(shown):
            shown = f"[{shown}]"
        self._base_url = f"http://{shown}:{bound_port}"
        self._ticker.start()
        return self._base_url

    @property
    def base_url(self) -> str | None:
        """The root URL clients use as base_url; None until started."""
        return self._base_url

    def stop(self) -> None:
        """Stop serving, wait briefly for renders, remove a temporary work_dir."""
        self._ticker.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._book.join_renders(timeout=30)
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
        self._faults.inject(route, kind, times, **params)

    def plan_task(
        self,
        outcome: str = "succeed",
        reason: str | None = None,
        task_seconds: float | None = None,
        times: int = 1,
    ) -> None:
        """Decide how the next `times` created tasks end: "succeed", "fail" or "stuck"."""
        self._book.plan(outcome, reason, task_seconds, times)

    def set_key_state(self, key: str, state: str) -> None:
        """Put the account of `key` in "ok", "no_credit", "arrears" or "no_permission"."""
        self._accounts.set_state(key, state)

    @property
    def stats(self) -> Stats:
        """A snapshot of what the simulator has seen since start or the last reset."""
        return self._stats.snapshot(self._book.external_ids())

    def succeeded_at_ms(self, task_id: str) -> int | None:
        """When a task planned to succeed does (wall-clock ms, as the provider would report
        it in `updated_at`), without a request that would count against the rate limit."""
        for task in self._book.tasks():
            if task.task_id == task_id and task.outcome == "succeed":
                return task.created_at + round(task.task_seconds * 1000)
        return None

    def reset(self) -> None:
        """Forget tasks, audios, faults, plans, account states and stats; keep settings."""
        self._faults.clear()
        self._book.clear()
        self._audio.clear()
        self._accounts.clear_states()
        self._ticker.clear()
        self._stats.reset()


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
