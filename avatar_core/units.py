"""How sizes and lengths are written in messages for people (decimal units, like Kling's)."""

from __future__ import annotations

import math

from avatar_core.catalogue import Message, sentence_for

MB = 1_000_000


def format_bytes(size: int) -> str:
    """`9.8 MB`, `512 KB`, `812 bytes`: decimal units, as the provider states its limits."""
    if size >= MB:
        return f"{size / MB:.1f}".removesuffix(".0") + " MB"
    if size >= 1000:
        return f"{size / 1000:.0f} KB"
    return f"{size} byte" + ("" if size == 1 else "s")


def format_seconds(value: float, *limits: float) -> Message:
    """Seconds with one decimal, or more when one decimal would land on one of `limits`.

    So 1.99 s reads "1.99 s", never "2.0 s" next to a rule of "at least 2 s". A `Message`:
    its text is the English "1.99 s"; in Chinese it reads "1.99 秒".
    """
    for decimals in (1, 2, 3):
        text = f"{value:.{decimals}f}"
        if all(float(text) != limit or value == limit for limit in limits):
            return sentence_for("unit.seconds", value=text)
    return sentence_for("unit.seconds", value=f"{value:.3f}")


def plain_seconds(value: float) -> Message:
    """Seconds as a person reads them on the page: whole ones without a decimal ("60 s",
    not "60.0 s"), others to a tenth ("147.9 s"; "147.9 秒" in Chinese)."""
    return sentence_for("unit.seconds", value=f"{round(value, 1):g}")


def format_size(width: int, height: int) -> str:
    return f"{width}×{height}"


def about(seconds: float) -> Message:
    """A wait in words: "about 3 h", "about 12 min" (at least a minute)."""
    if seconds >= 3600:
        return sentence_for("wait.hours", hours=math.ceil(seconds / 3600))
    return sentence_for("wait.minutes", minutes=max(math.ceil(seconds / 60), 1))
