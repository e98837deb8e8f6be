"""The run's limiter: when each media request may start, from what the server has shown.

One :class:`AdaptiveLimiter` is shared by every worker and frame of a run, so concurrency
(workers) and rate (requests per second) stay separate knobs. It assumes no throttle
policy; it records what happens and asks the pure functions of
:mod:`aura_async.pacing.policy` what that means:

* ``Retry-After`` is the server's word: no request starts before it ends, and the first
  one starts when it ends;
* a throttle without one closes the gate: a single probe at a time, further apart after
  each refusal, until one is served;
* an overrun answered like a token bucket (a short wait) spaces requests just below the
  rate the bucket was found to serve; after a while without throttling the rate rises a
  little, never above the ``--rate`` ceiling, above what the segments showed the bucket
  to allow, or above a rate that was punished;
* an overrun answered with a long wait (a ban, a closed window) is punished: the rate is
  cut, and never probed above that rate again in the run;
* a quota window, once recognised, is used whole: its quota is sent when it opens (slow
  start: one request, then two more, then four...), then one more request asks, with its
  ``Retry-After``, when the next opens; without ``Retry-After`` the next opening is
  bracketed from the last ones and tried halfway through its bracket;
* the time requests are held back by the server is counted once however many workers
  wait (:attr:`AdaptiveLimiter.lost`), and a wait that would take the run past
  ``max_wait`` raises :class:`~aura_async.exceptions.WaitedTooLong`.

Each request gets a :class:`Ticket` from :meth:`AdaptiveLimiter.acquire`, handed back
with :meth:`~AdaptiveLimiter.on_success` or :meth:`~AdaptiveLimiter.on_throttle`. Time
comes from an injected clock and sleep, so tests drive it instead of waiting.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Literal

from aura_async.exceptions import WaitedTooLong
from aura_async.pacing.memory import Learned
from aura_async.pacing.policy import (
    FIRST_CUT,
    LONG_WAIT,
    SAFETY,
    Closure,
    Segment,
    Window,
    bucket_rate,
    infer_window,
    is_long_wait,
    probe_at,
    served_rate,
)

__all__ = [
    "DEFAULT_MAX_WAIT",
    "START_RATE",
    "AdaptiveLimiter",
    "Ticket",
    "Verdict",
    "human_wait",
]

_EPSILON = 1e-9  # float dust must not turn into sleeps too short to move the clock
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]
Reason = Literal["go", "spacing", "server", "closed", "window", "burst"]
_HELD = ("server", "closed", "window")  # waits the server imposes: counted in `lost`

START_RATE = 25.0
"""The default ``--rate``; a run without a ceiling sends as fast as its workers go until
the server first throttles, then goes on from this pace (or less, if punished), as the
default would have."""

DEFAULT_MAX_WAIT = 1800.0
"""Seconds a run may lose to the server's throttling before it gives up (``--max-wait``)."""

CEILING_SPAN = 10.0
"""The ``--rate`` ceiling holds on average over this many seconds in a quota window: its
quota may go at once when it opens, after the run waited for it."""

PROBE_EVERY = 2.0
"""Seconds of serving without a throttle before the rate rises by :data:`PROBE_STEP`."""

BURST_TEST = 4
"""Requests in flight at most in a window's burst until one burst was served whole: if
the quota comes back a request at a time (a sliding log), few are refused."""

ACCEPT = 0.05
"""A window's opening known within this share of its length is tried at the latest
moment it may be, not halfway (no refusal to learn it better)."""

REPEAT_CUT = 0.5
"""A second punished overrun cuts the rate to this share of the rate punished."""

HOLD_REQUESTS = 100
"""...and for at least as long as this many requests take: each overrun costs refused
requests, and a run should see at most one per so many served."""

SUSTAIN = 5.0
"""Seconds a rate must be served without a throttle to count as safe."""

HOLD = 10.0
"""After an overrun that cost a pause, the rate holds for this many times the pause before
it probes upward again: an overrun must be rare when each costs a rounded-up second."""

PROBE_STEP = 0.02
"""How much the rate rises each time, once the server has throttled (a share of it)."""

UNLIMITED_STEP = 0.10
"""With no ceiling and no throttle yet, the rate rises this much each time."""

EPISODE_SLACK = 0.05
"""Seconds after an episode's first throttle within which the server answered the other
requests then in flight: their ``Retry-After``, however late it is read, counts from
then."""

CATCH_UP = 0.01
"""Seconds of a late wake-up the spacing makes up for (at most a quarter of a spacing):
the event loop wakes a waiter a millisecond or two late when it is busy, which at 20/s
would otherwise cost 3 % of the rate."""

MEASURED = 10.0
"""Seconds of serving that make a rate measured (what the folder may remember)."""

SLIDING_MARGIN = 0.05
"""Seconds added to a sliding window's length: the way to the server and back."""


@dataclass(frozen=True)
class Ticket:
    """A request allowed to start.

    Attributes:
        start: when it started.
        epoch: the throttle episodes seen before it started.
        probe: it tests whether the server serves again (one at a time).
        slot: its place in a quota window (1 for the first; 0 outside windows).
    """

    start: float
    epoch: int
    probe: bool = False
    slot: int = 0


@dataclass(frozen=True)
class Verdict:
    """What a throttle meant.

    Attributes:
        wait: seconds until requests may start again, as far as known (0: spacing only).
        told: ``wait`` is the server's word (``Retry-After``).
        new: it began a new episode (not one more answer to requests already in flight).
        long: the wait is a punishment or a closed window, not a bucket refilling.
    """

    wait: float
    told: bool
    new: bool
    long: bool


class AdaptiveLimiter:
    """Decides when each media request starts; learns the server's throttle policy.

    Args:
        max_rate: the ceiling in requests per second (``--rate``); ``None`` or 0 for
            none: requests are not spaced until the server first throttles; from there
            the run goes on as the default would, and its rate may rise above
            :data:`START_RATE` while nothing is throttled.
        start_rate: where to begin (defaults to the ceiling; none without one).
        floor: the rate never drops below this.
        max_wait: seconds the run may lose to the server's throttling in all; a wait
            beyond it raises :class:`~aura_async.exceptions.WaitedTooLong`.
        clock: returns seconds; defaults to the running loop's clock.
        sleep: awaits seconds; defaults to ``asyncio.sleep``.
    """

    def __init__(
        self,
        max_rate: float | None,
        *,
        start_rate: float | None = None,
        floor: float = 0.2,
        max_wait: float = DEFAULT_MAX_WAIT,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self.max_rate = max_rate if max_rate and max_rate > 0 else math.inf
        first = start_rate if start_rate and start_rate > 0 else self.max_rate
        self.floor = floor
        self.rate = max(floor, min(first, self.max_rate))
        """The rate requests are spaced at outside quota windows."""
        self.cap = math.inf
        """A rate the server punished: the rate stays below it for the rest of the run."""
        self.max_wait = max_wait
        self.throttles = 0
        self.lost = 0.0
        """Seconds requests were held back by the server's throttling (pauses, closed
        windows, probes), counted once however many workers waited."""
        self.window: Window | None = None
        """The quota window the server was found to use, if any."""
        self._clock = clock
        self._sleep: Sleep = sleep or asyncio.sleep
        self._lock = asyncio.Lock()
        self._news = asyncio.Event()
        self._wants_news = False
        # spacing, ceiling, probing upward
        self._next = -math.inf
        self._ceiling_tokens = 1.0
        self._ceiling_stamp: float | None = None
        self._last_change = -math.inf
        self._throttled_ever = False
        self._upper = math.inf
        self._overruns = 0
        self._punished = False
        self._hold_until = -math.inf
        self._sustained = 0.0
        self._resumed = False
        self._rate_since = -math.inf
        self._unserved_episodes = 0
        # episodes and pauses
        self._epoch = 0
        self._episode_at = -math.inf
        self._paused_until = -math.inf
        self._told_last = True
        # closed without Retry-After: one probe at a time
        self._closed_at: float | None = None
        self._closed_pace = math.inf
        self._closure_len = 0.0
        self._confirmed = False
        self._bracket: tuple[float, float] | None = None
        self._suspect: int | None = None
        self._tentative: Window | None = None
        self._failures = 0
        self._next_probe = -math.inf
        self._last_failed = -math.inf
        self._probe_out = False
        # segments (the bucket's evidence) and closures (the windows')
        self._started = False
        self._seg_start = 0.0
        self._seg_pause = math.inf
        self._seg_served = 0
        self._ending: tuple[float, float, float, float] | None = None
        self._segments: list[Segment] = []
        self._closures: list[Closure] = []
        self._opened = 0.0
        self._opened_count = 0
        # using a window
        self._win_open = -math.inf
        self._win_used = 0
        self._win_served = 0
        self._win_out = 0
        self._asked = False
        self._trying: tuple[float, float, int] | None = None  # bracket and refusals
        # what was served
        self._served: deque[float] = deque(maxlen=4096)
        self._last_start = -math.inf

    # ------------------------------------------------------------------ reading
    def now(self) -> float:
        """The limiter's clock."""
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    @property
    def paused_for(self) -> float:
        """Seconds left of a pending ``Retry-After`` pause."""
        return max(0.0, self._paused_until - self.now())

    def served(self, span: float = 10.0) -> float | None:
        """Requests served per second over the last ``span`` seconds (``None`` before the
        run has served for that long)."""
        return served_rate(self._served, self.now(), span)

    @property
    def ceiling(self) -> float:
        """The rate requests are spaced at now (``inf`` in a quota window, whose quota
        goes when it opens)."""
        return math.inf if self.window is not None else self.rate

    @property
    def learned(self) -> Learned:
        """What the run learned, for the folder's memory (:mod:`aura_async.pacing.memory`).

        A rate is learned only once the server has throttled, and only if it was served
        over a real interval: :data:`MEASURED` seconds without a throttle in which the
        server served at least 90 % of it (a run slowed by its own bandwidth, or one
        that ended soon after a throttle, teaches no rate).
        """
        rate = None
        if self._throttled_ever and self.window is None:
            measured = self.served(MEASURED)
            quiet = self.now() - self._episode_at >= MEASURED
            if measured is not None and quiet and measured >= 0.9 * self.rate:
                rate = self.rate
        length = None
        if self.window is not None and self.window.length is not None:
            length = self.window.length[1]
        return Learned(
            rate=rate,
            cap=self.cap if math.isfinite(self.cap) else None,
            quota=self.window.quota if self.window is not None else None,
            window=length,
            throttled=self._throttled_ever,
        )

    # ------------------------------------------------------------------ acquiring
    async def acquire(self) -> Ticket:
        """Wait until a request may start; return its ticket.

        Raises:
            WaitedTooLong: waiting longer would take the run past ``max_wait``.
        """
        async with self._lock:  # FIFO: waiters are served in arrival order
            while True:
                now = self.now()
                wait, reason = self._delay(now)
                if wait <= _EPSILON:
                    return self._start(now)
                refused = self._unserved_episodes >= 2  # refused again and again: held
                held = reason in _HELD or (refused and reason == "spacing")
                if held and math.isfinite(wait) and self.lost + wait > self.max_wait:
                    if self._closed_at is not None:  # it never opened again: punished
                        self._punish(now, now - self._closed_at, self._closed_pace)
                    raise WaitedTooLong(
                        f"throttled too long: Aura asks to wait {human_wait(wait)} more, "
                        "past --max-wait "
                        f"({human_wait(self.max_wait)} in all, {human_wait(self.lost)} "
                        "waited already)",
                        retry_after=wait,
                    )
                if math.isinf(wait):
                    self._news.clear()
                    self._wants_news = True
                    await self._news.wait()
                else:
                    await self._sleep(wait)
                if held:
                    self.lost += max(0.0, self.now() - now)

    def _tell(self) -> None:
        """Wake a waiter that waits for an answer (a probe's, a burst's)."""
        if self._wants_news:
            self._wants_news = False
            self._news.set()

    def _delay(self, now: float) -> tuple[float, Reason]:
        """Seconds until the next request may start, and why (0: it may now)."""
        if now < self._paused_until:
            return self._paused_until - now, "server"
        if self._closed_at is not None:
            if self._probe_out:
                return math.inf, "closed"
            return max(0.0, self._next_probe - now), "closed"
        if self.window is not None:
            wait, reason = self._window_delay(now)
            if wait > _EPSILON:
                return wait, reason
            return self._ceiling_delay(now), "spacing"
        return max(self._next - now, self._ceiling_delay(now)), "spacing"

    def _ceiling_delay(self, now: float) -> float:
        if math.isinf(self.max_rate):
            return 0.0
        capacity = max(1.0, self.max_rate * CEILING_SPAN) if self.window is not None else 1.0
        if self._ceiling_stamp is not None:
            gained = (now - self._ceiling_stamp) * self.max_rate
            self._ceiling_tokens = min(capacity, self._ceiling_tokens + gained)
        self._ceiling_stamp = now
        if self._ceiling_tokens >= 1.0 - _EPSILON:
            return 0.0
        return (1.0 - self._ceiling_tokens) / self.max_rate

    def _window_delay(self, now: float) -> tuple[float, Reason]:
        window = self.window
        assert window is not None
        if now < self._win_open:
            return self._win_open - now, "window"
        if window.sliding and window.length is not None:
            # a sliding log: a request may go once the one `quota` requests back is a
            # window old
            span = window.length[1] + SLIDING_MARGIN
            recent = [t for t in self._served if t > now - span]
            over = len(recent) + self._win_out - window.quota
            if over >= 0:
                if not recent:
                    return math.inf, "burst"
                return max(4 * _EPSILON, recent[min(over, len(recent) - 1)] + span - now), "window"
            return 0.0, "go"
        if self._win_used >= window.quota:
            if self._asked:
                return math.inf, "window"  # its answer says when the next opens
            expected = window.next_opening()
            if self._told_last or expected is None:
                return 0.0, "go"  # one more request: its answer says when the next opens
            # without Retry-After: try the next opening halfway through its bracket
            lo, hi = expected
            lo = max(lo, self._last_start)
            hi = max(lo, hi)
            self._open_window(probe_at(now, now, (lo, hi), 0, self._accept()))
            self._trying = (lo, hi, 0)
            return max(0.0, self._win_open - now), "window"
        if self._win_out > self._win_served or (
            not self._confirmed and self._win_out >= BURST_TEST
        ):
            return math.inf, "burst"  # slow start: one, then two more, then four...
        return 0.0, "go"

    def _start(self, now: float) -> Ticket:
        if not self._started:
            self._started = True
            self._seg_start = self._opened = self._last_change = now
        self._finish_segment(now)
        probe, slot = False, 0
        if self._closed_at is not None:
            self._probe_out = probe = True
        elif self.window is not None:
            self._win_used += 1
            self._win_out += 1
            slot = self._win_used
            if slot > self.window.quota and not self.window.sliding:
                self._asked = probe = True
        self._ceiling_tokens = max(0.0, self._ceiling_tokens - 1.0)
        if math.isfinite(self.rate):
            # one start per 1/rate on a fixed schedule: a waiter woken late (the loop was
            # busy) is made up for by the next start, up to a quarter of a spacing
            spacing = 1.0 / self.rate
            self._next = max(self._next, now - min(CATCH_UP, 0.25 * spacing)) + spacing
        self._last_start = now
        return Ticket(now, self._epoch, probe, slot)

    # ------------------------------------------------------------------ outcomes
    def on_success(self, ticket: Ticket) -> None:
        """Record a request the server served."""
        now = self.now()
        self._unserved_episodes = 0
        self._served.append(ticket.start)
        if ticket.start >= self._seg_start:
            self._seg_served += 1
        if ticket.probe and self._closed_at is not None:
            self._reopen(ticket.start, told=False)  # it opened by this request: counted after
        if ticket.start >= self._opened:
            self._opened_count += 1
        window = self.window
        if window is not None and ticket.slot:
            self._win_served += 1
            self._win_out = max(0, self._win_out - 1)
            if self._win_served >= window.quota:
                self._confirmed = True  # a whole quota at once: not a sliding log
            if ticket.slot > window.quota and not window.sliding:
                self.window = replace(window, quota=ticket.slot)  # more than thought
                self._asked = False
            if self._trying is not None and ticket.slot == 1:
                lo = self._trying[0]
                self._trying = None
                self.window = self.window.opens(lo, ticket.start) if self.window else None
        if ticket.probe:
            self._probe_out = False
        self._raise_rate(now)
        self._tell()

    def on_failure(self, ticket: Ticket) -> None:
        """Record a request that ended without telling anything of throttling (a reset,
        a timeout, a 5xx, an error of ours): its place in a burst or as the probe frees."""
        if ticket.slot:
            self._win_out = max(0, self._win_out - 1)
            if self.window is not None and ticket.slot > self.window.quota:
                self._asked = False
        if ticket.probe:
            self._probe_out = False
        self._tell()

    def on_throttle(self, ticket: Ticket, retry_after: float | None = None) -> Verdict:
        """Record a throttled request (429 or 503).

        Args:
            ticket: the request's ticket.
            retry_after: the server's ``Retry-After`` in seconds, if it sent one.

        Returns:
            What the throttle meant.
        """
        now = self.now()
        self.throttles += 1
        self._throttled_ever = True
        told = retry_after is not None
        self._told_last = told
        if ticket.probe:
            self._probe_out = self._asked = False
        if ticket.slot:
            self._win_out = max(0, self._win_out - 1)
        new = ticket.epoch >= self._epoch
        if retry_after is not None:
            # One more answer of an episode already seen must not push the pause further
            # for having been read late: the server answered it about when it answered
            # the first of the episode.
            since = now if new else max(ticket.start, min(now, self._episode_at + EPISODE_SLACK))
            self._paused_until = max(self._paused_until, since + retry_after)
        long = retry_after is not None and is_long_wait(retry_after, self._pace())
        self._tell()
        if new:
            self._epoch += 1
            self._episode_at = now
            self._unserved_episodes += 1
            # the segment ends where the request that overran started (its answer came
            # a round trip later)
            self._end_segment(max(self._seg_start, ticket.start))
            if self.window is not None:
                long = self._window_throttle(now, ticket, retry_after) or long
            elif retry_after is None:
                self._close(now, ticket)
            else:
                if long:
                    self._punish(now, retry_after)
                else:
                    self._cut(now, retry_after)
                self._closure_len = now - self._seg_start
                self._reopen(now + retry_after, told=True, long=long)
        if retry_after is not None:
            wait = max(0.0, self._paused_until - now)
        elif self._closed_at is not None:
            wait = max(0.0, self._next_probe - now)
        else:
            wait = max(0.0, self._win_open - now)
        return Verdict(wait, told, new, long)

    # ------------------------------------------------------------------ learning
    def _pace(self) -> float:
        """The rate requests were going out at: the spacing, or what was served over the
        last second (in a window's burst, or unspaced)."""
        if self.window is None and math.isfinite(self.rate):
            return self.rate
        recent = [t for t in self._served if t > self._last_start - 1.0]
        return float(max(1, len(recent)))

    def _end_segment(self, now: float) -> None:
        if self._ending is None:
            self._ending = (self._seg_start, self._seg_pause, self._pace(), now)

    def _finish_segment(self, now: float) -> None:
        """At the first start after an episode, the segment it ended is complete (its
        requests in flight have answered) and the next one begins."""
        if self._ending is None:
            return
        start, pause, rate, ended = self._ending
        self._ending = None
        if self._seg_served and ended > start:
            self._segments.append(Segment(start, pause, self._seg_served, ended - start, rate))
            del self._segments[:-8]
        self._seg_start, self._seg_pause, self._seg_served = now, now - ended, 0

    def _evidence(self) -> list[Segment]:
        """The finished segments and the one an episode just ended."""
        segments = list(self._segments)
        if self._ending is not None and self._seg_served:
            start, pause, rate, ended = self._ending
            segments.append(Segment(start, pause, self._seg_served, ended - start, rate))
        return segments

    def _cut(self, now: float, pause: float, pace: float | None = None) -> None:
        """A bucket-like overrun: space requests just below what the bucket serves, and
        hold that rate for a while: an overrun costs ``pause`` seconds of waiting (a
        ``Retry-After`` rounded up to a second, a ban), so the rate probes upward only
        after ten times that long.

        Args:
            now: the present.
            pause: what the overrun cost (seconds).
            pace: the rate that overran, if no longer the current one.
        """
        if math.isinf(self.rate) and self.window is None:
            # not spaced yet: a first burst says nothing of a rate; go on as the default
            # would have (it stays above the ceiling we never had)
            self.rate = START_RATE if pause < LONG_WAIT else FIRST_CUT * START_RATE
            self._last_change = now
            self._hold_until = now + max(HOLD * pause, HOLD_REQUESTS / self.rate)
            self._rate_since = now
            return
        estimate = bucket_rate(
            self._evidence(), self._pace() if pace is None else pace, safe=self._sustained
        )
        self.rate = max(self.floor, min(self.rate, estimate.rate))
        self._upper = min(self._upper, estimate.upper)
        if estimate.known is not None:
            self._upper = min(self._upper, estimate.known)
        self._overruns += 1
        self._punished = False
        self._rate_since = now
        self._last_change = now
        self._hold_until = now + max(HOLD * pause, HOLD_REQUESTS / self.rate)

    def _punish(self, now: float, pause: float, pace: float | None = None) -> None:
        """An overrun answered with a long wait: never this fast again in the run.

        Args:
            now: the present.
            pause: what the overrun cost (seconds).
            pace: the rate that overran, when it is no longer the current one (a closure
                without ``Retry-After`` cut the rate already when it began).
        """
        overran = self._pace() if pace is None else pace
        repeat = math.isfinite(self.cap)
        self.cap = min(self.cap, overran)
        self._cut(now, pause, pace)
        if repeat:  # punished again: bans may double, so back off as TCP does
            self.rate = max(self.floor, min(self.rate, REPEAT_CUT * overran))
        self._punished = True

    def _close(self, now: float, ticket: Ticket) -> None:
        """A throttle without ``Retry-After``: one probe at a time until one is served."""
        if self._closed_at is None:
            self._closed_at = now
            self._closed_pace = self._pace()
            self._closure_len = now - self._seg_start
            self._failures = 0
            self._last_failed = -math.inf
            # after a long closure, the next is expected a window after it reopened
            guide = self.window or self._tentative
            self._bracket = guide.next_opening() if guide is not None else None
            self._next_probe = probe_at(now, now, self._bracket)
            return
        self._failures += 1
        self._last_failed = max(self._last_failed, ticket.start)
        self._next_probe = probe_at(now, self._closed_at, self._bracket, self._failures)

    def _reopen(self, at: float, *, told: bool, long: bool = False) -> None:
        """The server serves again from ``at``. The closure is noted: two alike show a
        window. A closure without ``Retry-After`` that was short was a bucket refilling
        (the rate is cut); a long one was a punishment or a closed window."""
        closed_at = self._episode_at if told else self._closed_at
        earliest = self._last_failed
        self._closed_at = None
        self._probe_out = False
        if closed_at is None:
            return
        if self.window is not None:
            suspect, self._suspect = self._suspect, None
            if suspect is not None:
                if not is_long_wait(at - closed_at, self._closed_pace):
                    # served again soon: the quota comes back a request at a time
                    self.window = replace(self.window, sliding=True)
                    self._win_out = 0
                    return
                self._shrink(suspect)
                if self.window is None:
                    return
            lo = at if told else max(earliest, closed_at)
            self.window = self.window.opens(lo, at)
            self._open_window(at)
            if not told:  # the probe that was served is the window's first request
                self._win_used = self._win_served = 1
                self._trying = None
            return
        if not told:
            long = is_long_wait(at - closed_at, self._closed_pace)
            if long:
                self._punish(at, at - closed_at, self._closed_pace)
            else:
                self._cut(at, 0.0, self._closed_pace)
        self._closures.append(
            Closure(
                self._opened,
                self._opened_count,
                closed_at,
                at,
                told,
                earliest,
                long,
                self._closure_len,
            )
        )
        del self._closures[:-4]
        if long:
            # a window until shown otherwise: where the next one would open guides the
            # probes of the next closure without Retry-After (taking the window to have
            # begun with its first request)
            lo = at if told else max(earliest, closed_at)
            start = self._opened
            self._tentative = Window(
                max(1, self._opened_count), (lo, at), (max(0.0, lo - start), at - start)
            )
        self._opened, self._opened_count = at, 0
        window = infer_window(self._closures)
        if window is not None:
            self.window = window
            self._open_window(at)
            self._confirmed = False
            if not told:  # the probe that was served is the window's first request
                self._win_used = self._win_served = 1

    def _open_window(self, at: float) -> None:
        self._win_open = at
        self._win_used = self._win_served = self._win_out = 0
        self._asked = False
        self._trying = None

    def _window_throttle(self, now: float, ticket: Ticket, retry_after: float | None) -> bool:
        """A new throttle episode while a quota window is in use; returns whether it was
        long (the window closed)."""
        window = self.window
        assert window is not None
        if retry_after is not None:
            if 0 < ticket.slot <= window.quota and not is_long_wait(retry_after, self._pace()):
                if not window.sliding:
                    # refused in a burst yet free again soon: the quota comes back a request
                    # at a time, as those before expire (a sliding log)
                    self.window = replace(window, sliding=True)
                return False
            end = now + retry_after
            if window.length is not None and retry_after > 1.5 * window.length[1] + 1:
                # a wait longer than a window: punished, not closed (a ban, maybe doubled)
                self.window = None
                self._punish(now, retry_after, self._pace())
                return True
            if 0 < ticket.slot <= window.quota:
                self._shrink(ticket.slot - 1)
            if self.window is not None:
                self.window = self.window.opens(end, end)
                self._open_window(end)
            return True
        # without Retry-After
        if ticket.slot == 1 and self._trying is not None:
            lo, hi, failures = self._trying
            lo = max(lo, ticket.start)
            if ticket.start < hi:
                self._open_window(probe_at(now, now, (lo, hi), failures + 1, self._accept()))
                self._trying = (lo, hi, failures + 1)
                return True
            self._trying = None  # later than expected: probe as after any closure
        elif 0 < ticket.slot <= window.quota and not window.sliding:
            # refused before the quota: a smaller quota, or a sliding log whose slots come
            # back one by one; a probe soon after tells which
            self._suspect = ticket.slot - 1
            self._close(now, ticket)
            self._bracket = None
            self._next_probe = probe_at(now, now)
            return True
        self._close(now, ticket)
        return True

    def _accept(self) -> float:
        """Seconds of lateness at a window's opening not worth a refused probe."""
        window = self.window
        if window is None or window.length is None:
            return 0.0
        return ACCEPT * window.length[0]

    def _shrink(self, quota: int) -> None:
        """The window closed after ``quota`` requests, fewer than learned: use that; far
        fewer means it was no window (a ban that looked like one): back to a rate."""
        window = self.window
        assert window is not None
        if quota < 0.5 * window.quota:
            self.window = None
            self._punish(self.now(), max(0.0, self._paused_until - self.now()))
            return
        self.window = replace(window, quota=max(1, quota))

    def _raise_rate(self, now: float) -> None:
        """After a while without a throttle the rate rises (never above the ceiling, or
        above a rate that was punished).

        Below a rate that overran after the rate had been cut once already (a firm upper
        bound), it climbs halfway there every :data:`PROBE_EVERY` seconds; above that,
        or after a single overrun or a punished one, it rises by :data:`PROBE_STEP` only
        after the hold the last overrun set (:data:`HOLD` times what it cost).
        """
        if self.window is not None or self._closed_at is not None:
            return
        if now - self._last_change < PROBE_EVERY or now < self._paused_until:
            return
        if now - self._rate_since >= SUSTAIN:
            self._sustained = max(self._sustained, self.rate)
        self._last_change = now
        hard = min(self.max_rate, SAFETY * self.cap)
        if not self._throttled_ever and not self._resumed:  # nothing known yet
            self.rate = min(hard, self.rate * (1 + UNLIMITED_STEP))
            self._rate_since = now
            return
        firm = SAFETY * self._upper if self._overruns >= 2 else 0.0
        before = self.rate
        if self.rate < min(hard, firm) and not self._punished:
            target = min(hard, firm)
            self.rate = min(
                target, self.rate + max(PROBE_STEP * self.rate, (target - self.rate) / 2)
            )
        elif self.rate < hard and now >= self._hold_until:
            self.rate = min(hard, self.rate * (1 + PROBE_STEP))
        if self.rate != before:
            self._rate_since = now

    # ------------------------------------------------------------------ memory
    def resume(self, learned: Learned | None) -> None:
        """Start from what an earlier run learned (:mod:`aura_async.pacing.memory`)."""
        if learned is None:
            return
        self._resumed = True
        if learned.cap is not None:
            self.cap = min(self.cap, learned.cap)
            self.rate = max(self.floor, min(self.rate, FIRST_CUT * learned.cap))
        if learned.rate is not None and self.floor <= learned.rate < self.rate:
            self.rate = learned.rate
        if learned.quota and self.window is None:
            # the current window opened at most a window ago: the first answer says when
            now = self.now()
            if learned.window:
                opened = (now - learned.window, now)
                self.window = Window(learned.quota, opened, (learned.window, learned.window))
            else:
                self.window = Window(learned.quota, (now, now))
            self._open_window(now)


def human_wait(seconds: float) -> str:
    """A wait for people: ``8.5`` -> ``8.5 s``, ``75`` -> ``1 min 15 s``, ``240`` -> ``4 min``,
    ``4000`` -> ``1 h 7 min``."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    whole = round(seconds)
    if whole < 600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min" if minutes % 60 else f"{minutes // 60} h"
