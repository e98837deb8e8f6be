"""The pace of requests: the rate they are spaced at, and how it answers overruns.

This is the token-bucket side of the limiter (:mod:`aura_async.pacing.limiter`). It spaces
request starts at :attr:`Pace.rate` on a fixed schedule, under the ``--rate`` ceiling, and
keeps the **segments** of serving between throttle episodes, from which
:func:`~aura_async.pacing.policy.bucket_rate` reads a bucket's rate:

* an overrun answered with a short wait (a bucket refilling) cuts the rate to just below
  what the bucket serves (:meth:`Pace.cut`), and holds it for ten times what the overrun
  cost, at least for a hundred requests: an overrun must be rare when each costs a
  ``Retry-After`` rounded up to a second, and each refuses requests; a rate cut once that
  overruns again within two seconds is still far off, and is cut to 60 % of itself;
* an overrun answered with a long wait (a ban, a closed window) is punished
  (:meth:`Pace.punish`): that rate becomes the run's cap, never probed again; punished a
  second time, the rate halves (bans may double), but not below the fastest rate under
  the punished one that was served for a while without a throttle, and goes no higher
  in the run;
* after the hold the rate rises (:meth:`Pace.rise`): halfway to a firm upper bound when
  two overruns showed one (or, with a lower bound of at least 80 % of it, a quarter of
  the way down to that), else by 2 % every two seconds; with no ceiling and nothing
  throttled yet, by 10 %.

Times come in as arguments; nothing here reads a clock.
"""

from __future__ import annotations

import math

from aura_async.pacing.memory import Learned
from aura_async.pacing.policy import (
    FIRST_CUT,
    LONG_WAIT,
    SAFETY,
    Segment,
    bucket_rate,
)

__all__ = ["START_RATE", "Pace"]

_EPSILON = 1e-9

START_RATE = 25.0
"""The default ``--rate``; a run without a ceiling sends as fast as its workers go (in its
first second, one request, then one more in flight than were served) until the server
first throttles, then goes on from this pace (or less, if punished), as the default
would have; but a burst that a long wait closed goes on at what the two averaged, if that
is faster (a quota window's rate, :meth:`Pace.cut`)."""

CEILING_SPAN = 10.0
"""The ``--rate`` ceiling holds on average over this many seconds in a quota window: its
quota may go at once when it opens, after the run waited for it."""

PROBE_EVERY = 2.0
"""Seconds of serving without a throttle between two rises of the rate."""

NEAR = 1.25
"""Bounds this close (the upper at most this times the lower) are near each other..."""

TOWARD_LOWER = 0.25
"""...and a climb below a firm upper bound aims this share of the way down from it to the
lower bound: the bucket lies between the two, and a pace just under the upper one still
drains it, to be refused again ten seconds later."""

PROBE_STEP = 0.02
"""How much the rate rises each time, once the server has throttled (a share of it)."""

UNLIMITED_STEP = 0.10
"""With no ceiling and no throttle yet, the rate rises this much each time."""

HOLD = 10.0
"""After an overrun that cost a pause, the rate holds for this many times the pause before
it probes upward again: an overrun must be rare when each costs a rounded-up second."""

HOLD_REQUESTS = 100
"""...and for at least as long as this many requests take: each overrun costs refused
requests, and a run should see at most one per so many served."""

SUSTAIN = 5.0
"""Seconds a rate must be served without a throttle to count as safe."""

QUICK = 2.0
"""Seconds: a rate that was cut once and overruns again sooner than this is far off."""

QUICK_CUT = 0.6
"""...and is cut to this share of itself."""

REPEAT_CUT = 0.5
"""A second punished overrun cuts the rate to this share of the rate punished."""

CATCH_UP = 0.01
"""Seconds of a late wake-up the spacing makes up for (at most a quarter of a spacing):
the event loop wakes a waiter a millisecond or two late when it is busy, which at 20/s
would otherwise cost 3 % of the rate."""


class Pace:
    """The rate requests are spaced at, its bounds, and the segments that set them.

    Args:
        max_rate: the ``--rate`` ceiling (``inf`` for none).
        first: the rate to begin at (``inf``: not spaced until the first throttle).
        floor: the rate never drops below this.
    """

    def __init__(self, max_rate: float, first: float, floor: float) -> None:
        self.max_rate = max_rate
        self.floor = floor
        self.rate = max(floor, min(first, max_rate))
        """The rate requests are spaced at outside quota windows."""
        self.cap = math.inf
        """A rate the server punished: the rate stays below it for the rest of the run."""
        self.throttled = False
        """The server has throttled this run."""
        self.resumed = False
        """The pace came from what an earlier run learned."""
        self.upper = math.inf
        """The segments show the bucket serves less than this."""
        self.lower = 0.0
        """...and at least this."""
        self._next = -math.inf
        self._ceiling_tokens = 1.0
        self._ceiling_stamp: float | None = None
        self._last_change = -math.inf
        self._overruns = 0
        self._punished = False
        self._hold_until = -math.inf
        self._served_rates: set[float] = set()  # every rate served SUSTAIN s unthrottled
        self._rate_since = -math.inf
        self._started = False
        self._seg_start = 0.0
        self._seg_pause = math.inf
        self._seg_served = 0
        self._seg_first = self.rate
        self._ending: tuple[float, float, float, float, float | None] | None = None
        self._segments: list[Segment] = []

    # ------------------------------------------------------------------ spacing
    def delay(self, now: float, *, windowed: bool) -> float:
        """Seconds until the spacing (unless a window's burst) and the ceiling allow a
        start."""
        spacing = 0.0 if windowed else self._next - now
        return max(spacing, self._ceiling_delay(now, windowed))

    def _ceiling_delay(self, now: float, windowed: bool) -> float:
        if math.isinf(self.max_rate):
            return 0.0
        capacity = max(1.0, self.max_rate * CEILING_SPAN) if windowed else 1.0
        if self._ceiling_stamp is not None:
            gained = (now - self._ceiling_stamp) * self.max_rate
            self._ceiling_tokens = min(capacity, self._ceiling_tokens + gained)
        self._ceiling_stamp = now
        if self._ceiling_tokens >= 1.0 - _EPSILON:
            return 0.0
        return (1.0 - self._ceiling_tokens) / self.max_rate

    def started(self, now: float) -> None:
        """A request starts at ``now``."""
        if not self._started:
            self._started = True
            self._seg_start = self._last_change = now
            self._seg_first = self.rate
        self._finish_segment(now)
        self._ceiling_tokens = max(0.0, self._ceiling_tokens - 1.0)
        if math.isfinite(self.rate):
            # one start per 1/rate on a fixed schedule: a waiter woken late (the loop was
            # busy) is made up for by the next start, up to a quarter of a spacing
            spacing = 1.0 / self.rate
            late = now - self._next
            base = self._next if 0.0 <= late <= min(CATCH_UP, 0.25 * spacing) else now
            self._next = base + spacing

    # ------------------------------------------------------------------ segments
    def served(self, start: float) -> None:
        """A request that started at ``start`` was served."""
        if start >= self._seg_start:
            self._seg_served += 1

    def end_segment(self, at: float, pace: float) -> None:
        """An episode ended the segment where the request that overran started."""
        if self._ending is None:
            ended = max(self._seg_start, at)
            # a pace that is not the spacing (a window's burst, counted) has no first
            # spacing to be compared with
            first = self._seg_first if pace == self.rate else None
            self._ending = (self._seg_start, self._seg_pause, pace, ended, first)

    @property
    def segment_start(self) -> float:
        """When the current segment began."""
        return self._seg_start

    def _finish_segment(self, now: float) -> None:
        """At the first start after an episode, the segment it ended is complete (its
        requests in flight have answered) and the next one begins."""
        if self._ending is None:
            return
        start, pause, rate, ended, first = self._ending
        self._ending = None
        if self._seg_served and ended > start:
            self._segments.append(
                Segment(start, pause, self._seg_served, ended - start, rate, first)
            )
            del self._segments[:-8]
        self._seg_start, self._seg_pause, self._seg_served = now, now - ended, 0
        self._seg_first = self.rate

    def _evidence(self) -> list[Segment]:
        """The finished segments and the one an episode just ended."""
        segments = list(self._segments)
        if self._ending is not None and self._seg_served:
            start, pause, rate, ended, first = self._ending
            segments.append(Segment(start, pause, self._seg_served, ended - start, rate, first))
        return segments

    # ------------------------------------------------------------------ answers
    def cut(self, now: float, pause: float, pace: float) -> None:
        """A bucket-like overrun at ``pace`` that cost ``pause`` seconds: space requests
        just below what the bucket serves, and hold that rate a while."""
        if math.isinf(self.rate):
            # not spaced yet: a first burst says nothing of a rate; go on as the default
            # would have (it stays above the ceiling we never had)
            self.rate = START_RATE if pause < LONG_WAIT else self._after_burst(pause)
        else:
            evidence = self._evidence()
            estimate = bucket_rate(evidence, pace, safe=self._served_below(math.inf))
            self.rate = max(self.floor, min(self.rate, estimate.rate))
            quick = bool(evidence) and evidence[-1].length < QUICK
            if estimate.known is None and self._overruns and quick:
                # cut once already and over again within a second or two: far off still
                self.rate = max(self.floor, min(self.rate, QUICK_CUT * pace))
            self.upper = min(self.upper, estimate.upper)
            self.lower = max(self.lower, estimate.lower)
            if estimate.known is not None:
                self.upper = min(self.upper, estimate.known)
                self.lower = max(self.lower, estimate.known)
            self.lower = min(self.lower, self.upper)
            self._overruns += 1
        self._punished = False
        self._rate_since = self._last_change = now
        self._hold_until = now + max(HOLD * pause, HOLD_REQUESTS / self.rate)

    def _after_burst(self, pause: float) -> float:
        """The rate after an unspaced first burst that was made to wait ``pause`` seconds,
        long: what the default goes on at after a first punishment (:data:`FIRST_CUT` of
        :data:`START_RATE`), or, if faster, what the burst averaged over itself and the
        wait (below :data:`SAFETY`). That is a rate the server allows over every such
        cycle if it closes a quota window (150 per 5 s: 29/s, where 20/s would trickle
        through every window without ever seeing it); a ban after a bucket's burst
        averages far less (a burst of 10 over a ban of 2 s: 5/s)."""
        rate = FIRST_CUT * START_RATE
        evidence = self._evidence()
        if evidence:
            burst = evidence[-1]
            rate = max(rate, SAFETY * burst.served / (burst.length + pause))
        return rate

    def punish(self, now: float, pause: float, pace: float, *, again: bool = False) -> None:
        """An overrun at ``pace`` answered with a long wait: never this fast again in the
        run. Punished a second time (``again``: the wait doubled, though the first looked
        like a bucket's; not after a first burst refused briefly, which measured no
        rate), the rate halves."""
        repeat = math.isfinite(self.cap) or (again and (self._overruns > 0 or self._punished))
        self.cap = min(self.cap, pace)
        self.cut(now, pause, pace)
        if repeat:  # punished again: bans may double, so back off as TCP does...
            self.rate = max(self.floor, min(self.rate, REPEAT_CUT * pace))
            served = self._served_below(pace)
            if served > 0.0:
                # ...but not below the fastest rate under the punished one that was served
                # for a while without a throttle (the punished rate itself may have been):
                # go back to it, and probe no more in this run (what lies between was
                # punished)
                self.rate = max(self.rate, SAFETY * served)
                self.cap = min(self.cap, self.rate / SAFETY)
        self._punished = True

    def rise(self, now: float) -> None:
        """After a while without a throttle the rate rises (never above the ceiling, or
        above a rate that was punished).

        Below a rate that overran after the rate had been cut once already (a firm upper
        bound), it climbs halfway to just under it (:meth:`_aim`) every
        :data:`PROBE_EVERY` seconds; above that,
        or after a single overrun or a punished one, it rises by :data:`PROBE_STEP` only
        after the hold the last overrun set.
        """
        if now - self._last_change < PROBE_EVERY:
            return
        if now - self._rate_since >= SUSTAIN:
            self._served_rates.add(self.rate)
        self._last_change = now
        hard = min(self.max_rate, SAFETY * self.cap)
        before = self.rate
        if not self.throttled and not self.resumed:  # nothing known yet
            self.rate = min(hard, self.rate * (1 + UNLIMITED_STEP))
        else:
            firm = min(hard, SAFETY * self._aim()) if self._overruns >= 2 else 0.0
            if self.rate < firm and not self._punished:
                step = max(PROBE_STEP * self.rate, (firm - self.rate) / 2)
                self.rate = min(firm, self.rate + step)
            elif self.rate < hard and now >= self._hold_until:
                self.rate = min(hard, self.rate * (1 + PROBE_STEP))
        if self.rate != before:
            self._rate_since = now

    def _served_below(self, limit: float) -> float:
        """The fastest rate below ``limit`` served for :data:`SUSTAIN` seconds without a
        throttle (0: none)."""
        return max((rate for rate in self._served_rates if rate < limit), default=0.0)

    def _aim(self) -> float:
        """Where a climb below a firm upper bound heads (before :data:`SAFETY`): the upper
        bound, or, when the lower one is near it, a little way down towards it."""
        if self.lower > 0.0 and self.upper <= NEAR * self.lower:
            return self.upper - TOWARD_LOWER * (self.upper - self.lower)
        return self.upper

    def resume(self, learned: Learned) -> None:
        """Start from the rates an earlier run learned: below a punished one, at a
        measured one."""
        self.resumed = True
        if learned.cap is not None:
            self.cap = min(self.cap, learned.cap)
            self.rate = max(self.floor, min(self.rate, FIRST_CUT * learned.cap))
        if learned.rate is not None and self.floor <= learned.rate < self.rate:
            self.rate = learned.rate
