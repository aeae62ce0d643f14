"""A local stand-in for the Kling Avatar API as CometAPI serves it.

It runs the app's demo mode (no key) and every test: real HTTP on loopback, the provider's
validation rules and error codes, a task lifecycle driven by an injectable clock, fault
injection, provider callbacks, and real H.264/AAC MP4 results labelled as simulated.

    from avatar_core.simulator import Simulator
    with Simulator(task_seconds=8.0) as sim:
        client_base_url = sim.base_url

How it behaves (task times, the error shape, which query routes answer, the rate limit)
is `SimulatorOptions`, in options.py: the one place to add a new way a gateway may behave.
"""

from avatar_core.simulator.faults import KINDS as FAULT_KINDS
from avatar_core.simulator.faults import ROUTES as FAULT_ROUTES
from avatar_core.simulator.options import SimulatorOptions
from avatar_core.simulator.service import Simulator, serve_forever
from avatar_core.simulator.stats import Stats
from avatar_core.simulator.tasks import DEFAULT_FAIL_REASON

__all__ = [
    "DEFAULT_FAIL_REASON",
    "FAULT_KINDS",
    "FAULT_ROUTES",
    "Simulator",
    "SimulatorOptions",
    "Stats",
    "serve_forever",
]
