"""What a video is likely to cost: the estimate shown next to the mode before Generate.

Kling Avatar bills by the second of video, and the video is as long as the voice, so the
estimate is the voice's seconds times the chosen mode's price per second.

THE PRICES ARE ASSUMPTIONS, not figures published by CometAPI or Kling for this app: the
defaults are public resellers' list prices (`config.DEFAULT_PRICE_STD`/`_PRO`), and the
operator sets the real ones with AVATAR_PRICE_STD and AVATAR_PRICE_PRO (`Settings.prices`).
The provider's own charge for a finished task, when it reports one, is shown beside the
video as "credits charged".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from avatar_core.config import Settings
from avatar_core.units import format_seconds
from avatar_core.words import Message, say

CURRENCY_SYMBOL = "$"  # prices are in US dollars

# mode -> ASSUMED price in USD per second of video when the operator sets none.
PRICE_PER_SECOND: dict[str, float] = Settings().prices


@dataclass(frozen=True)
class Estimate:
    """`seconds` of video in `mode` at `price_per_second`: about `total` US dollars, in
    `parts` tasks (a long speech's parts; 1 for one video)."""

    seconds: float
    mode: str
    price_per_second: float
    total: float
    parts: int = 1


def estimate_cost(
    seconds: float | None, mode: str, prices: Mapping[str, float] = PRICE_PER_SECOND
) -> Estimate | None:
    """The estimate for a voice of `seconds` in `mode` at `prices` (mode -> USD per
    second, `Settings.prices`); None when either is unknown."""
    price = prices.get(mode)
    if price is None or seconds is None or seconds <= 0:
        return None
    return Estimate(seconds=seconds, mode=mode, price_per_second=price, total=seconds * price)


def estimate_parts(
    part_seconds: Sequence[float], mode: str, prices: Mapping[str, float] = PRICE_PER_SECOND
) -> Estimate | None:
    """A long speech's estimate: the sum of its parts' (each part is a task of its own,
    billed by its seconds); None when a part's or the mode's price is unknown."""
    each = [estimate_cost(seconds, mode, prices) for seconds in part_seconds]
    if not each or any(estimate is None for estimate in each):
        return None
    known = [estimate for estimate in each if estimate is not None]
    return Estimate(
        seconds=sum(estimate.seconds for estimate in known),
        mode=mode,
        price_per_second=known[0].price_per_second,
        total=sum(estimate.total for estimate in known),
        parts=len(known),
    )


def estimate_words(estimate: Estimate) -> Message:
    """ "3 parts, 172.4 s of video in std at $0.056/s: about $9.65 (assumed prices)." """
    return say(
        "long.estimate", parts=estimate.parts, seconds=format_seconds(estimate.seconds),
        mode=estimate.mode, rate=format_rate(estimate.price_per_second),
        total=format_money(estimate.total),
    )  # fmt: skip


def format_money(amount: float) -> str:
    """`$0.31`; amounts under a cent show as `<$0.01`."""
    if 0 < amount < 0.005:
        return f"<{CURRENCY_SYMBOL}0.01"
    return f"{CURRENCY_SYMBOL}{amount:.2f}"


def format_rate(price_per_second: float) -> str:
    """`$0.06/s` (as many decimals as the price needs, at least two)."""
    text = f"{price_per_second:.4f}".rstrip("0")
    if len(text.split(".")[1]) < 2:
        text = f"{price_per_second:.2f}"
    return f"{CURRENCY_SYMBOL}{text}/s"


def silence_saving(
    seconds: float, prices: Mapping[str, float] = PRICE_PER_SECOND
) -> Message | None:
    """What leaving `seconds` of silence out of a voice saves, in each mode; None when
    nothing was left out."""
    if seconds <= 0:
        return None
    std, pro = (format_money(seconds * prices.get(mode, 0.0)) for mode in ("std", "pro"))
    return say("silence.saves", seconds=format_seconds(seconds), std=std, pro=pro)
