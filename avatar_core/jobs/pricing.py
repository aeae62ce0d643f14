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

from collections.abc import Mapping
from dataclasses import dataclass

from avatar_core.catalogue import Message, sentence_for
from avatar_core.config import Settings
from avatar_core.units import format_seconds

CURRENCY_SYMBOL = "$"  # prices are in US dollars

# mode -> ASSUMED price in USD per second of video when the operator sets none.
PRICE_PER_SECOND: dict[str, float] = Settings().prices


@dataclass(frozen=True)
class Estimate:
    """`seconds` of video in `mode` at `price_per_second`: about `total` US dollars."""

    seconds: float
    mode: str
    price_per_second: float
    total: float


def estimate_cost(
    seconds: float | None, mode: str, prices: Mapping[str, float] = PRICE_PER_SECOND
) -> Estimate | None:
    """The estimate for a voice of `seconds` in `mode` at `prices` (mode -> USD per
    second, `Settings.prices`); None when either is unknown."""
    price = prices.get(mode)
    if price is None or seconds is None or seconds <= 0:
        return None
    return Estimate(seconds=seconds, mode=mode, price_per_second=price, total=seconds * price)


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
    return sentence_for("silence.saves", seconds=format_seconds(seconds), std=std, pro=pro)
