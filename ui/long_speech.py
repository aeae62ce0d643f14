"""The page's long voices: a voice file (or recording, or web address) that speaks longer
than one task takes is made in parts and joined (`avatar_core/jobs/video_flow.py`).

Kept apart from the handlers so that the page's one Generate path calls it in one line:
`voice_verdict` asks `long_verdict` first (the parts; the seconds for the estimate, which
is the sum of the parts'), and the Generate flow is `make_video`, which chooses between
one job and a long speech.
"""

from __future__ import annotations

from pathlib import Path

import ui.formatting as fmt
from avatar_core.errors import AvatarError, MediaToolError
from avatar_core.jobs.pricing import silence_saving
from avatar_core.jobs.studio import Source, Studio
from avatar_core.jobs.video_flow import local_voice, outline_voice
from avatar_core.units import format_seconds
from avatar_core.words import say


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
    summary = say(
        "long.verdict", seconds=format_seconds(outline.seconds), count=len(outline.parts),
        part=format_seconds(outline.max_part_s),
    )  # fmt: skip
    saving = silence_saving(outline.left_out_s, studio.settings.prices)
    changes = (saving,) if saving is not None else ()
    return fmt.verdict_ok(summary, changes, (), language), outline.seconds
