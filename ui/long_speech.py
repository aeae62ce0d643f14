"""The page's long voices: a voice file (or recording, or web address) that speaks longer
than one task takes is made in parts and joined (`avatar_core/jobs/video_flow.py`).

Kept apart from the handlers so that the page's one Generate path calls it in one line:
`voice_verdict` asks `long_verdict` first (the parts; the seconds for the estimate, which
is the sum of the parts'), and the Generate flow is `make_video`, which chooses between
one job and a long speech.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import ui.formatting as fmt
from avatar_core.catalogue import sentence_for
from avatar_core.errors import AvatarError, MediaToolError
from avatar_core.jobs.long_voice import PREVIEW_S, SpeechDone
from avatar_core.jobs.pricing import estimate_cost, silence_saving
from avatar_core.jobs.speech_history import ENTRY_PREFIX, SpeechEntry
from avatar_core.jobs.speech_resume import join_if_made, part_jobs
from avatar_core.jobs.studio import Source, Studio
from avatar_core.jobs.video_flow import local_voice, outline_voice
from avatar_core.storage.journal import Job, Stage
from avatar_core.units import plain_seconds
from ui.texts import ui_text

log = logging.getLogger(__name__)


def long_verdict(
    studio: Studio, source: Source, language: str = "en"
) -> tuple[str, float | None] | None:
    """A long voice's verdict (its parts, the silence left out, the estimate: the sum of
    the parts') and its seconds as sent; None for a voice one task takes (or one that is
    not a readable file: the ordinary check says why)."""
    try:
        voice = local_voice(studio, source)
        outline = outline_voice(studio, voice) if isinstance(voice, Path) else None
    except MediaToolError:
        return None
    except AvatarError as error:  # longer than one video may carry, or a bad address
        return fmt.verdict_error(error, language), None
    if outline is None:
        return None
    summary = sentence_for(
        "long.verdict", seconds=plain_seconds(outline.seconds), count=len(outline.parts),
        part=plain_seconds(outline.max_part_s),
    )  # fmt: skip
    saving = silence_saving(outline.left_out_s, studio.settings.prices)
    changes = (saving,) if saving is not None else ()
    return fmt.verdict_ok(summary, changes, (), language), outline.seconds


def is_long(studio: Studio, seconds: float | None) -> bool:
    """Whether a voice of `seconds` (as checked) is made in parts on `studio`."""
    return seconds is not None and seconds > studio.client.profile.max_part_seconds


def preview_cost(studio: Studio, seconds: float, demo: bool, language: str = "en") -> str:
    """The estimate of a long voice's preview ("Try the first 10 s first"): at most its
    first PREVIEW_S seconds, in std; what it is said after the price. `demo`: the app
    runs without a key and none was pasted."""
    estimate = estimate_cost(min(PREVIEW_S, seconds), "std", studio.settings.prices)
    shown = fmt.cost_text(estimate, demo=demo, language=language)
    return f"{shown} · {ui_text('cost_preview', language)}"


async def join_made_speeches(studio: Studio, jobs: list[Job]) -> bool:
    """The History's speeches whose parts' videos are all home but which are not joined
    (stopped on the page after their parts were sent) joined now, each once, paying for
    nothing (`speech_resume.join_if_made`); whether any was. A join that fails leaves its
    entry making (`resume` says why)."""
    made = [
        entry.job_id.removeprefix(ENTRY_PREFIX)
        for entry in jobs
        if isinstance(entry, SpeechEntry)
        and entry.stage is not Stage.DONE
        and 0 < entry.count == entry.ready
    ]
    joined = False
    for key in made:
        try:
            joined = await asyncio.to_thread(join_if_made, studio, key) is not None or joined
        except (AvatarError, OSError):
            log.warning("the speech %s could not be joined from the History", key, exc_info=True)
    return joined


def with_speech_facts(studio: Studio, done: SpeechDone) -> SpeechDone:
    """A speech's end with the facts a single job's end carries (`fmt.done_status`): the
    joined video's length (its parts'), demo or not, and the units its parts were charged
    (only when every part says); as it was when the speech's parts are not journaled."""
    parts = part_jobs(studio, done.key) if done.key else []
    if not parts:
        return done
    seconds = sum(job.video_seconds or 0.0 for job in parts) or None
    try:
        units = [float(job.units_charged or "") for job in parts]
        charged: str | None = f"{sum(units):g}"
    except ValueError:
        charged = None
    facts = replace(parts[0], video_seconds=seconds, units_charged=charged,
                    demo=any(job.demo for job in parts))  # fmt: skip
    return replace(done, job=facts)
