"""What the simulator saw, so tests can assert on it ("exactly one create", "no retries")."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Stats:
    """A snapshot. `requests` counts answers by (route, HTTP status); status 0 means the
    connection was closed without an answer (a `reset` fault)."""

    creates: int = 0
    tts: int = 0
    requests: Counter[tuple[str, int]] = field(default_factory=Counter)
    tasks_by_external_id: dict[str, str] = field(default_factory=dict)
    faults_used: Counter[str] = field(default_factory=Counter)
    callbacks_sent: int = 0
    callbacks_failed: int = 0
    busy_refusals: int = 0  # creates refused with 1303 (the account's tasks at once)
    busiest_second: int = 0  # the most API requests that arrived within one second, in real time

    def count(self, route: str, status: int | None = None) -> int:
        """Requests on `route` (with `status`, only those answered with it)."""
        return sum(n for (r, s), n in self.requests.items() if r == route and status in (None, s))

    def to_json(self) -> dict[str, Any]:
        return {
            "creates": self.creates,
            "tts": self.tts,
            "requests": {f"{r} {s}": n for (r, s), n in sorted(self.requests.items())},
            "tasks_by_external_id": dict(self.tasks_by_external_id),
            "faults_used": dict(self.faults_used),
            "callbacks_sent": self.callbacks_sent,
            "callbacks_failed": self.callbacks_failed,
            "busy_refusals": self.busy_refusals,
            "busiest_second": self.busiest_second,
        }


class StatsRecorder:
    """Thread-safe counters behind `Simulator.stats`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._creates = 0
            self._tts = 0
            self._requests: Counter[tuple[str, int]] = Counter()
            self._faults: Counter[str] = Counter()
            self._callbacks_sent = 0
            self._callbacks_failed = 0
            self._busy = 0
            self._last_second: deque[float] = deque()  # when the last second's requests came
            self._busiest = 0

    def request(self, route: str, status: int, arrived: float | None = None) -> None:
        """Count an answered request; an API request (`arrived`: when it came, on the real
        monotonic clock) counts toward the busiest second too."""
        with self._lock:
            self._requests[(route, status)] += 1
            if arrived is None:
                return
            while self._last_second and self._last_second[0] <= arrived - 1.0:
                self._last_second.popleft()
            self._last_second.append(arrived)
            self._busiest = max(self._busiest, len(self._last_second))

    def created(self) -> None:
        with self._lock:
            self._creates += 1

    def refused_busy(self) -> None:
        with self._lock:
            self._busy += 1

    def spoke(self) -> None:
        with self._lock:
            self._tts += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def callback(self, ok: bool) -> None:
        with self._lock:
            if ok:
                self._callbacks_sent += 1
            else:
                self._callbacks_failed += 1

    def snapshot(self, tasks_by_external_id: dict[str, str]) -> Stats:
        with self._lock:
            return Stats(
                creates=self._creates,
                tts=self._tts,
                requests=Counter(self._requests),
                tasks_by_external_id=dict(tasks_by_external_id),
                faults_used=Counter(self._faults),
                callbacks_sent=self._callbacks_sent,
                callbacks_failed=self._callbacks_failed,
                busy_refusals=self._busy,
                busiest_second=self._busiest,
            )
