"""What a folder remembers of the server's throttling from one night to the next (pure).

A run that was throttled stores what it learned of the server's policy: the rate it was
served at over a real interval (never a rate guessed from an opening burst), a rate the
server punished (the next run starts below it and never probes above it), and a quota
window. Tomorrow's run starts from there instead of provoking the same throttling. A
quiet run relaxes the stored rates by a quarter each night, and forgets them once they
reach the ceiling. The state keeps the value under :data:`RATE_KEY` (a JSON object; a
bare number is the rate an older version stored); the frame's job reads it before
listing and writes it after.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["RATE_KEY", "Learned", "recall", "remember"]

RATE_KEY = "learned_rate"
"""The state's key/value entry holding what the last throttled runs learned."""

RELAX = 1.25
"""A quiet run lets the next one go this much faster."""


@dataclass(frozen=True)
class Learned:
    """What a run learned of the server's throttling (or a folder remembers of it).

    Attributes:
        rate: requests per second served over a real interval after the server throttled.
        cap: a rate the server punished (a ban, a long wait): stay below it.
        quota: requests per quota window.
        window: seconds from one window's opening to the next.
        throttled: the run was throttled (only for what a run learned).
    """

    rate: float | None = None
    cap: float | None = None
    quota: int | None = None
    window: float | None = None
    throttled: bool = False


def _positive(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value > 0 and math.isfinite(value) else None


def recall(stored: object) -> Learned | None:
    """The stored value as what was learned, or ``None`` for nothing usable."""
    rate = _positive(stored)
    if rate is not None:
        return Learned(rate=rate)
    if not isinstance(stored, dict):
        return None
    quota = _positive(stored.get("quota"))
    learned = Learned(
        rate=_positive(stored.get("rate")),
        cap=_positive(stored.get("cap")),
        quota=int(quota) if quota is not None and quota >= 1 else None,
        window=_positive(stored.get("window")),
    )
    return learned if learned != Learned() else None


def remember(stored: object, learned: Learned, *, ceiling: float) -> dict[str, Any] | None:
    """What to store for the next run.

    Args:
        stored: what the folder held before this run.
        learned: what this run learned (it started from ``stored``).
        ceiling: the run's ``--rate`` ceiling (``inf`` for none).

    Returns:
        The JSON object to store, or ``None`` to forget everything.
    """
    previous = recall(stored) or Learned()
    if learned.throttled:
        rate = learned.rate if learned.rate is not None else previous.rate
        cap = learned.cap if learned.cap is not None else previous.cap
        quota, window = learned.quota, learned.window
        if quota is None and learned.rate is None:
            quota, window = previous.quota, previous.window
    else:  # a quiet night: a little more room tomorrow
        rate = _relaxed(previous.rate, ceiling)
        cap = _relaxed(previous.cap, ceiling)
        quota, window = previous.quota, previous.window
    value: dict[str, Any] = {}
    for key, number in (("rate", rate), ("cap", cap), ("window", window)):
        if number is not None:
            value[key] = round(number, 3)
    if quota is not None:
        value["quota"] = quota
    return value or None


def _relaxed(value: float | None, ceiling: float) -> float | None:
    if value is None:
        return None
    raised = value * RELAX
    return None if raised >= ceiling else raised
