"""How long a task takes at the provider: per kind (the mode), a + b × the audio's seconds.

The line is fitted from finished tasks only - the provider's own timestamps (the journal's
`task_seconds`) against the audio's length (`audio_seconds`) - with recent tasks weighing
more. Before any task of a kind has finished, a prior stands in: for the real provider a
GUESS from public reports (below), for the demo simulator its known task time. The prior
also gives the line its shape while the finished tasks are too alike in length to show
one: a single 5 s clip that took 100 s predicts a 60 s clip from the prior's slope, scaled.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

TYPICAL_AUDIO_S = 10.0  # the length assumed when a task's audio length is unknown
_SHAPE_AUDIO_S = 10.0  # how strongly the prior's shape holds: one task this far apart
_MIN_SPREAD = 0.02  # no model predicts a provider better than this share of a task
_MAX_TASK_S = 24 * 3600.0
_PRIOR_SPREAD_WEIGHT = 0.25  # the prior's spread counts as a quarter of a finished task
_LONGEST_OF = 10  # the longest of this many recent tasks says how long the slowest take


@dataclass(frozen=True)
class LinearDuration:
    """A task's expected duration, a straight line in its audio's length:
    seconds = intercept_s + per_audio_s × audio seconds."""

    intercept_s: float
    per_audio_s: float

    def at(self, audio_s: float) -> float:
        return self.intercept_s + self.per_audio_s * audio_s


@dataclass(frozen=True)
class Prior:
    """What is believed before a task of a kind finishes: the line and how far off it may
    be (`spread`, a share of the prediction); `guess` when no measurement backs it."""

    duration: LinearDuration
    spread: float
    guess: bool


# A GUESS, not measured here: public reports put a short test clip at about 215 s and a 5 s
# clip at 4-5 minutes in std, and "60 s of material usually within ten-odd minutes": 200 s
# plus 8 s per second of audio gives 4 min for 5 s and 11 min for 60 s. No figure was found
# for pro, which renders more: guessed half as slow again. Either may be off by a third.
PRIOR_GUESS: dict[str, Prior] = {
    "std": Prior(LinearDuration(200.0, 8.0), spread=0.35, guess=True),
    "pro": Prior(LinearDuration(300.0, 12.0), spread=0.35, guess=True),
}


@dataclass(frozen=True)
class Expectation:
    """How long a task is expected to take, about how far off that may be (one standard
    deviation, roughly), whether it is still only the prior's guess, and the longest its
    kind's recent tasks took, scaled to it (None before any finished).

    A crowd's first tasks to finish are its quickest: the line learnt from them runs short
    of the others, and `longest_s` says that tasks of this kind still end that late."""

    seconds: float
    spread_s: float
    guess: bool
    longest_s: float | None = None


def task_kind(mode: str, demo: bool) -> str:
    """The model's kind for a task: its mode, kept apart for the demo simulator."""
    return f"demo-{mode}" if demo else mode


@dataclass(frozen=True)
class _Fit:
    duration: LinearDuration
    spread: float  # a share of the prediction
    guess: bool
    longest: float | None = None  # the longest recent task, a multiple of the prediction


class DurationModel:
    """Expected task durations per kind, learnt from finished tasks. Thread-safe."""

    def __init__(
        self,
        priors: dict[str, Prior] | None = None,
        *,
        memory: float = 0.95,  # each older task weighs this much less than the next
        window: int = 50,  # how many recent tasks of a kind are kept
    ) -> None:
        self._priors = dict(PRIOR_GUESS if priors is None else priors)
        self._memory = memory
        self._seen: dict[str, deque[tuple[float, float]]] = {}
        self._window = window
        self._fits: dict[str, _Fit | None] = {}
        self._lock = threading.Lock()

    def assume(self, kind: str, duration: LinearDuration, *, spread: float = 0.0) -> None:
        """A known prior for `kind` (not a guess), e.g. the demo simulator's task time."""
        with self._lock:
            self._priors[kind] = Prior(duration, spread, guess=False)
            self._fits.pop(kind, None)

    def learn(self, kind: str, seconds: float, audio_s: float | None = None) -> None:
        """A finished task of `kind` took `seconds` for `audio_s` seconds of audio."""
        if not 0 < seconds < _MAX_TASK_S:
            return
        audio = audio_s if audio_s is not None and 0 < audio_s < 3600 else None
        with self._lock:
            seen = self._seen.setdefault(kind, deque(maxlen=self._window))
            seen.append((audio if audio is not None else math.nan, float(seconds)))
            self._fits.pop(kind, None)

    def expectation(self, kind: str, audio_s: float | None = None) -> Expectation | None:
        """The expectation for a task of `kind` with `audio_s` seconds of audio (None:
        unknown); None when there is neither a prior nor a finished task to go by."""
        with self._lock:
            if kind not in self._fits:
                self._fits[kind] = self._fit(kind)
            fit = self._fits[kind]
            audio = audio_s if audio_s is not None else self._typical_audio(kind)
        if fit is None:
            return None
        seconds = max(fit.duration.at(audio), 0.1)
        longest = fit.longest * seconds if fit.longest is not None else None
        return Expectation(seconds, fit.spread * seconds, fit.guess, longest)

    def expected(self, kind: str, audio_s: float | None = None) -> float | None:
        """The expected seconds, or None with nothing to go by."""
        found = self.expectation(kind, audio_s)
        return found.seconds if found else None

    # --- fitting (under the lock) ---------------------------------------------------------

    def _typical_audio(self, kind: str) -> float:
        lengths = [x for x, _ in self._seen.get(kind, ()) if not math.isnan(x)]
        return sum(lengths) / len(lengths) if lengths else TYPICAL_AUDIO_S

    def _fit(self, kind: str) -> _Fit | None:
        prior = self._priors.get(kind)
        seen = list(self._seen.get(kind, ()))
        if not seen:
            return _Fit(prior.duration, prior.spread, prior.guess) if prior else None
        typical = self._typical_audio(kind)
        points = [(typical if math.isnan(x) else x, y) for x, y in seen]
        weights = [self._memory**age for age in range(len(points) - 1, -1, -1)]
        fitted = _weighted_line(points, weights, prior.duration if prior else None)
        longest = max(y / max(fitted.at(x), 0.1) for x, y in points[-_LONGEST_OF:])
        return _Fit(fitted, _spread(points, weights, fitted, prior), guess=False, longest=longest)


def _weighted_line(
    points: list[tuple[float, float]], weights: list[float], prior: LinearDuration | None
) -> LinearDuration:
    """Weighted least squares of y = a + b·x, held near the prior's shape b = r·a.

    The penalty `L·(b - r·a)²` weighs like one task `_SHAPE_AUDIO_S` away: with tasks of
    one length only the prior's shape decides the slope; with varied lengths the data do.
    Without a prior, r = 0: a flat line until lengths vary.
    """
    ratio = prior.per_audio_s / prior.intercept_s if prior and prior.intercept_s > 0 else 0.0
    penalty = _SHAPE_AUDIO_S**2
    s0 = sum(weights)
    s1 = sum(w * x for w, (x, _) in zip(weights, points, strict=True))
    s2 = sum(w * x * x for w, (x, _) in zip(weights, points, strict=True))
    t0 = sum(w * y for w, (_, y) in zip(weights, points, strict=True))
    t1 = sum(w * x * y for w, (x, y) in zip(weights, points, strict=True))
    # d/da and d/db of the penalised sum of squares, set to zero.
    m11, m12 = s0 + penalty * ratio * ratio, s1 - penalty * ratio
    m22 = s2 + penalty
    det = m11 * m22 - m12 * m12
    a = (t0 * m22 - m12 * t1) / det
    b = (m11 * t1 - m12 * t0) / det
    if b < 0:  # longer audio never makes a task quicker: a flat line
        return LinearDuration(t0 / s0, 0.0)
    if a < 0:  # nor does a task take no time at all: a line through zero
        return LinearDuration(0.0, t1 / s2)
    return LinearDuration(a, b)


def _spread(
    points: list[tuple[float, float]],
    weights: list[float],
    fitted: LinearDuration,
    prior: Prior | None,
) -> float:
    """How far off the line may be, as a share of its prediction: the prior's spread,
    giving way to the scatter of finished tasks about the line as they accumulate (the
    first task, which the line fits exactly, tells nothing about scatter)."""
    squares = sum(
        w * ((y - fitted.at(x)) / max(fitted.at(x), 0.1)) ** 2
        for w, (x, y) in zip(weights, points, strict=True)
    )
    prior_weight = _PRIOR_SPREAD_WEIGHT
    prior_square = prior.spread**2 if prior else 0.0
    variance = (prior_weight * prior_square + squares) / (
        prior_weight + max(sum(weights) - 1.0, 0.0)
    )
    return max(math.sqrt(variance), _MIN_SPREAD)
