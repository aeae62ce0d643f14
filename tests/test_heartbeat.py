"""The ticker that keeps a long wait moving on the page (`with_heartbeat`), on the fake clock:
while the provider works and nothing new comes, it refreshes the elapsed time every tick of
the clock it is given; what does come passes through unchanged, and the ticks stop once the
flow ends.
"""

from __future__ import annotations

import asyncio

from avatar_core.jobs.events import Done, Running, with_heartbeat
from avatar_core.provider.models import TaskInfo, TaskStatus


def test_a_long_wait_is_refreshed_every_tick_of_the_clock_it_is_given(fake_time):
    task = TaskInfo(task_id="t-1", status=TaskStatus.PROCESSING)
    finish = asyncio.Event()

    async def flow():
        yield Running("working", elapsed_s=5.0, task=task)
        await finish.wait()  # the provider works; no new event meanwhile
        yield Done("done", elapsed_s=42.0)

    async def watch() -> list:
        seen = []
        async for progress in with_heartbeat(flow(), every_s=2.0, clock=fake_time):
            seen.append(progress)
            if len(seen) == 4:  # the first event and three ticks
                finish.set()
        return seen

    seen = asyncio.run(watch())
    # each tick is 2 s of the fake clock after the one before (a real ticker's elapsed
    # times would not be these); one more may come while the flow takes up its last event
    ticks = seen[1:-1]
    assert seen[0].elapsed_s == 5.0 and seen[-1] == Done("done", elapsed_s=42.0)
    assert len(ticks) >= 3 and all(type(p) is Running and p.task == task for p in ticks)
    assert [p.elapsed_s for p in ticks] == [5.0 + 2.0 * n for n in range(1, len(ticks) + 1)]
    assert "0:07" in str(ticks[0].message) and "0:11" in str(ticks[2].message)


def test_the_join_of_a_long_speechs_parts_is_refreshed_too_and_shown_with_its_time(fake_time):
    # a cold tester watched "Joining the 2 parts…" for about 16 s with no time moving
    from avatar_core.catalogue import sentence_for
    from avatar_core.jobs.long_voice import Joining
    from ui import formatting as fmt

    finish = asyncio.Event()

    async def flow():
        yield Joining(sentence_for("long.joining", count=2), ready=2, count=2)
        await finish.wait()  # the app joins the parts; no new event meanwhile
        yield Done("done", elapsed_s=42.0)

    async def watch() -> list:
        seen = []
        async for progress in with_heartbeat(flow(), every_s=1.0, clock=fake_time):
            seen.append(progress)
            if len(seen) == 17:  # the join's event and sixteen ticks
                finish.set()
        return seen

    ticks = asyncio.run(watch())[1:-1]
    assert len(ticks) >= 16 and all(type(p) is Joining and p.count == 2 for p in ticks)
    assert [p.elapsed_s for p in ticks[:16]] == [float(n) for n in range(1, 17)]
    assert fmt.joining(ticks[15], "en") == "⏳ Joining the 2 parts into one video… 0:16 elapsed."
    assert fmt.joining(ticks[15], "zh") == "⏳ 正在把 2 段拼接成一个视频……已用时 0:16。"
    assert fmt.joining(Running("working"), "en") is None  # the provider's stages say their own
