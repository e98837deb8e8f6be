"""What the limiter hands out and answers: a request's ticket, why a start waits, and what
a throttle meant.

A :class:`Ticket` is given to each request when it may start (by
:meth:`~aura_async.pacing.limiter.AdaptiveLimiter.acquire`) and handed back with its answer;
a throttle's answer is a :class:`Verdict`. The :class:`~aura_async.pacing.learner.Learner`
makes both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Reason", "Ticket", "Verdict"]

Reason = Literal["go", "spacing", "server", "closed", "window", "burst"]
"""Why a start waits: not at all, the spacing, the server's ``Retry-After``, a closure
without one (probes), a quota window, an opening burst's slow start."""


@dataclass(frozen=True)
class Ticket:
    """A request allowed to start.

    Attributes:
        start: when it started.
        epoch: the throttle episodes seen before it started.
        probe: it tests whether the server serves again (one at a time).
        slot: its place in a quota window (1 for the first; 0 outside windows).
        opening: which of the run's window openings ``slot`` counts in.
    """

    start: float
    epoch: int
    probe: bool = False
    slot: int = 0
    opening: int = 0


@dataclass(frozen=True)
class Verdict:
    """What a throttle meant.

    Attributes:
        wait: seconds until requests may start again, as far as known (0: spacing only).
        told: ``wait`` is the server's word (``Retry-After``).
        new: it began a new episode (not one more answer to requests already in flight).
        long: the wait is a punishment or a closed window, not a bucket refilling.
        early: when ``wait`` ends one request tries before the ``Retry-After`` does (see
            :data:`~aura_async.pacing.learner.EARLY_TRY`); the others wait for its answer.
    """

    wait: float
    told: bool
    new: bool
    long: bool
    early: bool = False
