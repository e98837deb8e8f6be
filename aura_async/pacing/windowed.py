"""How the :class:`~aura_async.pacing.learner.Learner` reads answers while a quota window
is in use, or may be: a mixin of it, kept apart because windows are their own concept.

The window itself is kept by :class:`~aura_async.pacing.quota.QuotaUse`; this part finds
it (two alike closures, :class:`~aura_async.pacing.closures.ClosureLog`), and reads what
the server says while it is in use: a throttle inside the quota's burst that is soon free
again shows a **sliding** log; a closure after fewer requests than the quota shows a
smaller quota, or, far fewer, a ban that looked like a window; a wait longer than a window
is a punishment, and the run goes back to a rate. Times come in as arguments; nothing here
reads a clock.
"""

from __future__ import annotations

import math
from dataclasses import replace

from aura_async.pacing.closures import ClosureLog
from aura_async.pacing.pace import Pace
from aura_async.pacing.policy import Window, is_long_wait, probe_at
from aura_async.pacing.quota import QuotaUse
from aura_async.pacing.ticket import Ticket

__all__ = ["WindowAnswers"]


class WindowAnswers:
    """The window side of a :class:`~aura_async.pacing.learner.Learner`."""

    pace: Pace
    quota: QuotaUse
    closures: ClosureLog
    paused_until: float
    _closed_pace: float
    _bracket: tuple[float, float] | None
    _next_probe: float

    def going_at(self) -> float:
        raise NotImplementedError

    def _close(self, now: float, ticket: Ticket) -> None:
        raise NotImplementedError

    @property
    def window(self) -> Window | None:
        """The quota window the server was found to use, if any."""
        return self.quota.window

    @window.setter
    def window(self, window: Window | None) -> None:
        self.quota.window = window

    def _find_window(self, at: float, told: bool) -> None:
        """Use the quota window the closures show, if they show one, open since ``at``."""
        window = self.closures.window() if self.window is None else None
        if window is not None:
            self.quota.use(window, at, probed=not told)

    def _served_late(self) -> None:
        """A request of the segment before the last closure was served after the closure
        was noted (it was in flight when a ``Retry-After`` came): it counts there, and
        the closures may now show a window."""
        last = self.closures.last
        if last is not None and last.told and self.closures.count == 0:
            # still paused: nothing of the next
            self._find_window(last.reopened, told=True)

    def _window_reopens(self, at: float, told: bool, closed_at: float, earliest: float) -> None:
        assert self.window is not None
        suspect, self.quota.suspect = self.quota.suspect, None
        if suspect is not None:
            if not is_long_wait(at - closed_at, self._closed_pace):
                # served again soon: the quota comes back a request at a time
                self.window = replace(self.window, sliding=True)
                self.quota.out = 0
                return
            self._shrink(suspect, at)
            if self.window is None:
                return
        lo = at if told else max(earliest, closed_at)
        self.window = self.window.opens(lo, at)
        self.quota.open(at, probed=not told)

    def _slot(self, ticket: Ticket) -> int:
        """``ticket``'s place in the window open now (:meth:`QuotaUse.slot`)."""
        return self.quota.slot(ticket.slot, ticket.opening)

    def _window_throttle(self, now: float, ticket: Ticket, retry_after: float | None) -> bool:
        """A new throttle episode while a quota window is in use; returns whether it was
        long (the window closed)."""
        window = self.window
        assert window is not None
        slot = self._slot(ticket)
        if retry_after is not None:
            in_burst = 0 < slot <= window.quota
            if in_burst and not is_long_wait(retry_after, self.going_at()):
                if not window.sliding:
                    # refused in a burst yet free again soon: the quota comes back a request
                    # at a time, as those before expire (a sliding log)
                    self.window = replace(window, sliding=True)
                return False
            end = now + retry_after
            if window.length is not None and retry_after > 1.5 * window.length[1] + 1:
                # a wait longer than a window: punished, not closed (a ban, maybe doubled)
                self._leave_window(now, retry_after)
                return True
            if in_burst:
                self._shrink(slot - 1, now)
            if self.window is not None:
                self.window = self.window.opens(end, end)
                self.quota.open(end)
            return True
        # without Retry-After
        if slot == 1 and self.quota.trying is not None:
            lo, hi, failures = self.quota.trying
            lo = max(lo, ticket.start)
            if ticket.start < hi:
                self.quota.open(probe_at(now, now, (lo, hi), failures + 1, self.quota.accept()))
                self.quota.trying = (lo, hi, failures + 1)
                return True
            self.quota.trying = None  # later than expected: probe as after any closure
        elif 0 < slot <= window.quota and not window.sliding:
            # refused before the quota: a smaller quota, or a sliding log whose slots come
            # back one by one; a probe soon after tells which
            self.quota.suspect = slot - 1
            self._close(now, ticket)
            self._bracket = None
            self._next_probe = probe_at(now, now)
            return True
        self._close(now, ticket)
        return True

    def _leave_window(self, now: float, pause: float) -> None:
        """It was no window (a ban that looked like one): back to a rate, punished at the
        rate requests were spaced at outside the window (a window's burst, or the few
        served since it closed, say nothing of a rate)."""
        pace = self.pace.rate if math.isfinite(self.pace.rate) else self.going_at()
        self.window = None
        self.pace.punish(now, pause, pace)

    def _shrink(self, quota: int, now: float) -> None:
        """The window closed after ``quota`` requests, fewer than learned: use that; far
        fewer means it was no window (a ban that looked like one): back to a rate."""
        window = self.window
        assert window is not None
        if quota < 0.5 * window.quota:
            self._leave_window(now, max(0.0, self.paused_until - now))
            return
        self.window = replace(window, quota=max(1, quota))
