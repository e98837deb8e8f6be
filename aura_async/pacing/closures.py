"""The closures a run has seen, and the quota window they may show.

A closure is a throttle episode seen whole (:class:`~aura_async.pacing.policy.Closure`):
the :class:`~aura_async.pacing.learner.Learner` notes each one when the server serves
again, with what the segment before it served since the previous opening. Two alike are
a quota window (:func:`~aura_async.pacing.policy.infer_window`); a long one is taken for a
window until shown otherwise (:attr:`ClosureLog.tentative`), and where the next one would
open guides the probes of the next closure without ``Retry-After``. Times come in as
arguments; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import replace

from aura_async.pacing.policy import Closure, Window, infer_window

__all__ = ["ClosureLog"]


class ClosureLog:
    """The run's last closures, and what the segment since the last opening served."""

    def __init__(self) -> None:
        self.seen: list[Closure] = []
        """The last four closures, oldest first."""
        self.opened = 0.0
        """When the current segment began: the run's first request, or the last opening."""
        self.count = 0
        """Requests started since :attr:`opened` and served."""
        self.tentative: Window | None = None
        """The window the last long closure would be, if it was one."""

    @property
    def last(self) -> Closure | None:
        """The last closure noted."""
        return self.seen[-1] if self.seen else None

    def served(self, start: float) -> bool:
        """A request that started at ``start`` was served: it counts in the segment it
        started in. Returns whether that was the one before the last closure (it was in
        flight when a ``Retry-After`` came, and was served after the closure was noted)."""
        if start >= self.opened:
            self.count += 1
            return False
        last = self.last
        if last is not None and start >= last.opened:
            self.seen[-1] = replace(last, served=last.served + 1)
            return True
        return False

    def note(
        self,
        closed_at: float,
        at: float,
        *,
        told: bool,
        earliest: float,
        long: bool,
        length: float,
    ) -> None:
        """A closure from ``closed_at`` until the server served again at ``at`` (told by
        ``Retry-After``, or found by a probe after the last refused one, ``earliest``);
        ``long``: a punishment or a closed window; ``length``: how long the segment before
        it lasted. The next segment begins at ``at``."""
        closure = Closure(self.opened, self.count, closed_at, at, told, earliest, long, length)
        self.seen = [*self.seen[-3:], closure]
        if long:
            # a window until shown otherwise: where the next one would open guides the
            # probes of the next closure without Retry-After (taking the window to have
            # begun with its first request)
            lo = at if told else max(earliest, closed_at)
            start = self.opened
            length_bracket = (max(0.0, lo - start), at - start)
            self.tentative = Window(max(1, self.count), (lo, at), length_bracket)
        self.opened, self.count = at, 0

    def window(self) -> Window | None:
        """The quota window the closures show, if they show one."""
        return infer_window(self.seen)
