"""Simulators that stop within about 10 ms, for modules that start one in most tests.

The simulator serves with a 50 ms poll interval (avatar_core/simulator/server.py): its
`stop()` waits for the serving loop to look again, about 45 ms a simulator, and the
`simulator` fixture (tests/conftest.py) starts and stops one for every test that asks for
it. A module that imports `simulators_stop_quickly` (an autouse fixture) has the
simulators it starts look every 10 ms instead; nothing they answer changes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

QUICK_POLL_S = 0.01


@pytest.fixture(scope="module", autouse=True)
def simulators_stop_quickly() -> Iterator[None]:
    from avatar_core.simulator.server import SimulatorHTTPServer

    serve = SimulatorHTTPServer.serve_forever

    def serve_forever(self: SimulatorHTTPServer, poll_interval: float = 0.5) -> None:
        serve(self, poll_interval=min(poll_interval, QUICK_POLL_S))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SimulatorHTTPServer, "serve_forever", serve_forever)
        yield
