"""What a folder remembers of the server's throttling from one night to the next (pure).

A run that was throttled stores the rate the server allowed, so tomorrow's run starts there
(and probes up) instead of provoking the same throttling; a quiet run relaxes the stored
rate by a quarter, and forgets it once it reaches the ceiling. The state keeps the value
under :data:`RATE_KEY`; the frame's job reads it before listing and writes it after.
"""

from __future__ import annotations

import math

__all__ = ["RATE_KEY", "next_stored_rate", "stored_rate"]

RATE_KEY = "learned_rate"
"""The state's key/value entry holding the rate the server allowed on the last throttled run."""

RELAX = 1.25
"""A quiet run lets the next one start this much faster."""


def stored_rate(value: object) -> float | None:
    """The stored value as a rate, or ``None`` for nothing usable."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value) if math.isfinite(value) else None
    return None


def next_stored_rate(
    stored: object, *, throttled: bool, learned: float | None, ceiling: float
) -> float | None:
    """What to store for the next run.

    Args:
        stored: what the folder held before this run.
        throttled: the server throttled this run.
        learned: the rate the limiter found the server to allow (``None``: not found).
        ceiling: the run's ``--rate`` ceiling (``inf`` for none).

    Returns:
        The rate to store, or ``None`` to forget it.
    """
    if throttled and learned:
        return round(learned, 3)
    previous = stored_rate(stored)
    if previous is None:
        return None
    raised = previous * RELAX
    return None if raised >= ceiling else raised
