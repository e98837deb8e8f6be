"""Using a quota window once the run has found one: its opening, its slots, its burst.

The :class:`~aura_async.pacing.learner.Learner` decides that the server uses a quota
window (:func:`~aura_async.pacing.policy.infer_window`) and what each throttle in it
means; :class:`QuotaUse` keeps the bookkeeping of using it, with times passed in:

* when the window opens, one request goes, then more as answers come (slow start: at
  most :data:`BURST_TEST` in flight until one burst was served whole), until the quota
  is used;
* after the quota, one request more asks when the next window opens (with
  ``Retry-After``), or, without it, the next opening is tried halfway through the
  bracket the last openings give (within :data:`ACCEPT` of its length: at its end);
* in a **sliding** log, a request may go once the one a quota back is a window old
  (plus :data:`SLIDING_MARGIN`), and each request served sooner than that shows the log
  to be shorter (:func:`~aura_async.pacing.policy.sliding_bound`);
* each opening is numbered, and a request counts only in the opening it went in: an
  answer read after the next opening was tried says nothing of that one's quota.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from aura_async.pacing.policy import Window, probe_at, sliding_bound

__all__ = ["ACCEPT", "BURST_TEST", "SLIDING_MARGIN", "QuotaUse"]

_EPSILON = 1e-9

BURST_TEST = 2
"""Requests in flight at most in a window's burst until one burst was served whole: if
the quota comes back a request at a time (a sliding log), few are refused."""

ACCEPT = 0.05
"""A window's opening known within this share of its length is tried at the latest
moment it may be, not halfway (no refusal to learn it better)."""

SLIDING_MARGIN = 0.05
"""Seconds added to a sliding window's length: the way to the server and back."""


class QuotaUse:
    """The window in use, if any, and where the run stands in its current opening."""

    def __init__(self) -> None:
        self.window: Window | None = None
        """The quota window the server was found to use, if any."""
        self.open_at = -math.inf
        """When the current opening opens (or opened)."""
        self.openings = 0
        """Openings so far: the number of the current one."""
        self.used = 0
        """Requests started in the current opening."""
        self.served = 0
        """...and served."""
        self.out = 0
        """...and in flight."""
        self.asked = False
        """The request past the quota, that asks when the next opening is, is out."""
        self.trying: tuple[float, float, int] | None = None
        """Without ``Retry-After``: the bracket the next opening is tried in, and the
        tries it refused."""
        self.confirmed = False
        """A whole quota was served at once (not a sliding log)."""
        self.suspect: int | None = None
        """Refused before the quota without ``Retry-After``: the requests it served (a
        smaller quota, or a sliding log; the next probe tells which)."""

    def use(self, window: Window, at: float, *, probed: bool = False) -> None:
        """Use ``window``, just found, open since ``at`` (see :meth:`open`); its first
        burst is not known to be served whole yet."""
        self.window = window
        self.confirmed = False
        self.open(at, probed=probed)

    def open(self, at: float, *, probed: bool = False) -> None:
        """The next opening is at ``at``: its slots start again (``probed``: from the
        second; the probe that found it open, served, was its first request)."""
        self.open_at = at
        self.openings += 1
        self.used = self.served = 1 if probed else 0
        self.out = 0
        self.asked = False
        self.trying = None

    def slot(self, slot: int, opening: int) -> int:
        """A request's place in the current opening (0: none, or an earlier opening's:
        its answer, however late, says nothing of this one's quota)."""
        return slot if opening == self.openings else 0

    def accept(self) -> float:
        """Seconds of lateness at a window's opening not worth a refused probe."""
        window = self.window
        if window is None or window.length is None:
            return 0.0
        return ACCEPT * window.length[0]

    # ------------------------------------------------------------------ starting
    def delay(
        self, now: float, served_log: Sequence[float], last_start: float, told_last: bool
    ) -> tuple[float, Literal["go", "window", "burst"]]:
        """Seconds until the window lets a request start, and why (``inf``: when an
        answer comes).

        Args:
            now: the present.
            served_log: start times of served requests, oldest first.
            last_start: when the last request started.
            told_last: the last throttle came with ``Retry-After``.
        """
        window = self.window
        assert window is not None
        if self.open_at - now > _EPSILON:
            return self.open_at - now, "window"
        if window.sliding and window.length is not None:
            # a sliding log: a request may go once the one `quota` requests back is a
            # window old
            span = window.length[1] + SLIDING_MARGIN
            recent = [t for t in served_log if t > now - span]
            over = len(recent) + self.out - window.quota
            if over < 0:
                return 0.0, "go"
            if not recent:
                return math.inf, "burst"
            return max(4 * _EPSILON, recent[min(over, len(recent) - 1)] + span - now), "window"
        if self.used >= window.quota:
            if self.asked:
                return math.inf, "window"  # its answer says when the next opens
            expected = window.next_opening()
            if told_last or expected is None:
                return 0.0, "go"  # one more request: its answer says when the next opens
            # without Retry-After: try the next opening halfway through its bracket
            lo = max(expected[0], last_start)
            hi = max(lo, expected[1])
            self.open(probe_at(now, now, (lo, hi), 0, self.accept()))
            self.trying = (lo, hi, 0)
            return max(0.0, self.open_at - now), "window"
        if self.out > self.served or (not self.confirmed and self.out >= BURST_TEST):
            return math.inf, "burst"  # slow start: one, then two more, then four...
        return 0.0, "go"

    def start(self) -> tuple[int, bool]:
        """A request starts in the window: its slot, and whether it asks when the next
        opening is (the one past the quota)."""
        window = self.window
        assert window is not None
        self.used += 1
        self.out += 1
        asks = self.used > window.quota and not window.sliding
        if asks:
            self.asked = True
        return self.used, asks

    # ------------------------------------------------------------------ answers
    def served_at(self, start: float, slot: int, served_log: Sequence[float]) -> None:
        """A request that started at ``start`` was served; ``slot`` is its place in the
        current opening (:meth:`slot`)."""
        window = self.window
        if window is None:
            return
        if window.sliding and window.length is not None:
            bound = sliding_bound(served_log, start, window.quota)
            if bound is not None and bound < window.length[1]:
                window = self.window = replace(window, length=(min(window.length[0], bound), bound))
        if not slot:
            return
        self.served += 1
        self.out = max(0, self.out - 1)
        if self.served >= window.quota:
            self.confirmed = True  # a whole quota at once: not a sliding log
        if slot > window.quota and not window.sliding:
            window = self.window = replace(window, quota=slot)  # more than thought
            self.asked = False
        if self.trying is not None and slot == 1:
            self.window = window.opens(self.trying[0], start)
            self.trying = None

    def ended(self, slot: int, *, throttled: bool) -> None:
        """A request of the current opening (``slot``) was throttled, or ended without
        an answer (then the next may ask again)."""
        if not slot:
            return
        self.out = max(0, self.out - 1)
        if not throttled and self.window is not None and slot > self.window.quota:
            self.asked = False
