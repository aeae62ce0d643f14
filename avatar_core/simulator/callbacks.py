"""Provider callbacks: POST the task to its `callback_url` at each status change.

A background ticker (real time) looks at every task with a callback URL; the statuses
themselves still come from the simulator's clock, so with a fake clock a test moves time
and then waits for the callbacks to arrive. If the clock jumps past several changes at
once, each status is still sent, in order. Delivery is best effort, like the provider's:
a short timeout, no retries, failures only counted.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections.abc import Callable

from avatar_core.simulator.options import SimulatorOptions
from avatar_core.simulator.tasks import Task, TaskBook

log = logging.getLogger(__name__)

POST_TIMEOUT_S = 2.0


def post_json(url: str, payload: dict, timeout: float = POST_TIMEOUT_S) -> bool:
    """POST `payload` as JSON; True when the receiver answered 2xx."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json", "User-Agent": "kling-simulator/1"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return 200 <= answer.status < 300
    except Exception as exc:  # any failure: the provider just moves on
        log.debug("callback to %s failed: %s", url, exc)
        return False


class CallbackTicker:
    """Sends each task's status changes to its callback_url from one background thread."""

    def __init__(
        self,
        book: TaskBook,
        options: SimulatorOptions,
        *,
        on_sent: Callable[[bool], None] = lambda ok: None,
        post: Callable[[str, dict], bool] = post_json,
    ) -> None:
        self.book = book
        self.options = options  # callback_interval: how often to look, in real seconds
        self.on_sent = on_sent
        self.post = post
        self._sent: dict[str, int] = {}  # task_id -> statuses already sent
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sim-callbacks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=POST_TIMEOUT_S * 2)
            self._thread = None

    def clear(self) -> None:
        with self._lock:
            self._sent.clear()

    def _run(self) -> None:
        while not self._stop.wait(self.options.callback_interval):
            try:
                self.tick()
            except Exception:  # the ticker must outlive any one bad task
                log.exception("callback ticker failed")

    def tick(self) -> None:
        """Send every status change not sent yet."""
        for task in self.book.tasks():
            if task.callback_url:
                self._advance(task)

    def _advance(self, task: Task) -> None:
        status, _ = self.book.state(task, wait=False)
        path = ["submitted"]
        if status != "submitted":
            path.append("processing")
        if status in ("succeed", "failed"):
            path.append(status)
        with self._lock:
            already = self._sent.get(task.task_id, 0)
        for step in path[already:]:
            if self._stop.is_set():
                return
            payload = self.book.snapshot(task, status=step, wait=False)
            self.on_sent(self.post(task.callback_url or "", payload))
            with self._lock:
                self._sent[task.task_id] = self._sent.get(task.task_id, 0) + 1
