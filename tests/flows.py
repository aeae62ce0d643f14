"""Running the studio's async flows from plain tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from avatar_core.jobs.events import Progress, final_progress


def events(flow: AsyncIterator[Progress]) -> list[Progress]:
    """Every event of a flow, run to its end (its error, if it ends in one, is raised)."""

    async def collect() -> list[Progress]:
        return [event async for event in flow]

    return asyncio.run(collect())


def final(flow: AsyncIterator[Progress]) -> Progress:
    """A flow's last event."""
    return asyncio.run(final_progress(flow))
