"""Several flows at once, as one stream of events (`Studio.resume`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

T = TypeVar("T")
_ENDED = object()


async def merged(flows: list[AsyncIterator[T]]) -> AsyncIterator[T]:
    """Run every flow at once and yield their events as they come; the first error of a
    flow is raised (after the others are stopped). Closing the stream stops every flow."""
    queue: asyncio.Queue[object] = asyncio.Queue()

    async def drain(flow: AsyncIterator[T]) -> None:
        try:
            async with contextlib.aclosing(flow):  # type: ignore[type-var]
                async for item in flow:
                    queue.put_nowait(item)
        except Exception as error:  # handed to the reader, raised there
            queue.put_nowait(error)
        finally:
            queue.put_nowait(_ENDED)

    tasks = [asyncio.create_task(drain(flow)) for flow in flows]
    try:
        running = len(tasks)
        while running:
            item = await queue.get()
            if item is _ENDED:
                running -= 1
            elif isinstance(item, Exception):
                raise item
            else:
                yield item  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
