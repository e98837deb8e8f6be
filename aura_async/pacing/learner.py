"""What the limiter makes of each answer: episodes, pauses, probes, closures and windows.

:class:`Learner` is the limiter's state, apart from waiting (:mod:`aura_async.pacing.limiter`
waits; this module only decides, with times passed in). Each request gets a
:class:`~aura_async.pacing.ticket.Ticket` when it may start; its answer comes back as
served, throttled or failed:

* unspaced (no ``--rate`` ceiling, nothing throttled yet), requests start as TCP's do:
  one, then one more in flight than have been served (a **slow start**, for the run's
  first :data:`SLOW_START` seconds);
* a throttle of a request started after the last episode began is a new **episode**;
  answers of requests that were already in flight belong to the episode they were part
  of (they are counted, and their ``Retry-After`` is honoured, but they teach nothing new);
* ``Retry-After`` pauses every start until it ends (the server's word), but for a
  bucket's ``Retry-After: 1``, which one request tries early (:data:`EARLY_TRY`);
* without one the gate closes: one **probe** at a time (:func:`~aura_async.pacing.policy.probe_at`);
* the segment an episode ends, and the wait it cost, go to the :class:`~aura_async.pacing.pace.Pace`
  (a short wait is a bucket refilling, a long one a punishment);
* each episode seen whole is a **closure** (:class:`~aura_async.pacing.closures.ClosureLog`);
  two alike make a quota **window** (:func:`~aura_async.pacing.policy.infer_window`; what
  answers mean while one is in use is :mod:`aura_async.pacing.windowed`), used whole when
  it opens
  (:class:`~aura_async.pacing.quota.QuotaUse` keeps its slots: a slow start, then one
  request more to ask when the next opens, or, without ``Retry-After``, a try within the
  bracket the last openings give); a throttle in it may show a smaller quota, a ban
  that looked like a window, or
* a **sliding** log, when a burst is refused but soon free again: a request may go once
  the one a quota back is a window old.
"""

from __future__ import annotations

import math
from collections import deque

from aura_async.pacing.closures import ClosureLog
from aura_async.pacing.memory import Learned
from aura_async.pacing.pace import Pace
from aura_async.pacing.policy import (
    LONG_WAIT,
    Window,
    is_long_wait,
    probe_at,
    served_rate,
)
from aura_async.pacing.quota import QuotaUse
from aura_async.pacing.ticket import Reason, Ticket, Verdict
from aura_async.pacing.windowed import WindowAnswers

__all__ = ["Learner"]

_EPSILON = 1e-9

EPISODE_SLACK = 0.05
"""Seconds after an episode's first throttle within which the server answered the other
requests then in flight: their ``Retry-After``, however late it is read, counts from
then."""

MEASURED = 10.0
"""Seconds of serving that make a rate measured (what the folder may remember)."""

ESCALATED = 1.8
"""A wait this many times the last one (a ban doubled) is a repeated punishment: a
``Retry-After``, or without one, how long a closure lasted until a probe was served."""

SLOW_START = 1.0
"""Seconds from the run's first request during which unspaced requests (no ``--rate``
ceiling, nothing throttled yet) start as TCP's do: one, then one more in flight than have
been served. An answer is a whole file, and the first may be a long video: past this, the
workers are not held for answers any more."""

SLOW_START_POLL = 0.01
"""Seconds between looks at the slow start's allowance (an answer, or its end)."""

EARLY_TRY = 0.25
"""A bucket's overrun told to wait one second or less in whole seconds (``Retry-After: 1``,
or an HTTP date less than a second away: rounded up from the twentieth of a second a
bucket of 20/s takes to refill a token) is tried again by one request this soon, or two
spacings at the rate it was cut to if that is longer; the others wait for its answer.
Served, the run goes on at its pace; refused (a ban, a window), it waits the rest out,
and every ``Retry-After`` after it in the run. In the sweep at 300 photos this took a
bucket of 20/s (burst 5) from 1.06 to 1.01 of the least time, 15/s from 1.19 to 1.08, and
``--rate 0`` beside the default from 1.05 to 1.00; taking dates too, the buckets told by
dates lost half the time they lost to waits (at 1,500 photos, 15/s burst 1 from 1.15 to
1.11). A wait said in fractions of a second is exact, and waited."""


class Learner(WindowAnswers):
    """The limiter's state: when the next request may start, and what each answer means.

    Args:
        pace: the rate side (spacing, ceiling, bucket, cap).
    """

    def __init__(self, pace: Pace) -> None:
        self.pace = pace
        self.quota = QuotaUse()
        """The quota window in use, if the server was found to use one."""
        self.throttles = 0
        self.paused_until = -math.inf
        self.episode_at = -math.inf
        self.unserved_episodes = 0
        """Episodes in a row with nothing served between them."""
        self.served_log: deque[float] = deque(maxlen=4096)
        """Start times of served requests, oldest first (in the order they started, not
        the order their answers came: a long download answers after shorter ones that
        started later)."""
        self.closed_at: float | None = None
        """When a closure without ``Retry-After`` began (``None``: not closed)."""
        self._epoch = 0
        self._in_flight = 0
        self._served = 0
        self._began = -math.inf
        self._told_last = True
        self._last_wait = math.inf
        self._last_start = -math.inf
        # closed without Retry-After: one probe at a time
        self._closed_pace = math.inf
        self._closure_len = 0.0
        self._bracket: tuple[float, float] | None = None
        self._failures = 0
        self._next_probe = -math.inf
        self._last_failed = -math.inf
        self._probe_out = False
        # closures, and windows
        self.closures = ClosureLog()
        # an early try before a Retry-After of a second, rounded up (see EARLY_TRY)
        self._early: tuple[float, float] | None = None  # (when it went, the header's end)
        self._early_ok = True
        self._early_out = False

    # ------------------------------------------------------------------ starting
    def delay(self, now: float) -> tuple[float, Reason]:
        """Seconds until the next request may start, and why (0: it may now; ``inf``:
        when an answer comes)."""
        if self.paused_until - now > _EPSILON:  # float dust must not skip the spacing
            return self.paused_until - now, "server"
        if self._early_window(now) is not None and self._early_out:
            return math.inf, "server"  # the early try's answer says whether to go on
        if self.closed_at is not None:
            if self._probe_out:
                return math.inf, "closed"
            return max(0.0, self._next_probe - now), "closed"
        if self.window is not None:
            wait, reason = self.quota.delay(now, self.served_log, self._last_start, self._told_last)
            if wait > _EPSILON:
                return wait, reason
        elif math.isinf(self.pace.rate) and self._in_flight > self._served:
            left = self._began + SLOW_START - now
            if left > _EPSILON:  # unspaced: one, then two, then four... (slow start)
                return min(left, SLOW_START_POLL), "burst"
        return self.pace.delay(now, windowed=self.window is not None), "spacing"

    def start(self, now: float) -> Ticket:
        """A request starts at ``now``: its ticket."""
        if self._last_start == -math.inf:
            self.closures.opened = self._began = now
        self.pace.started(now)
        probe, slot = False, 0
        if self._early_window(now) is not None:
            self._early_out = probe = True  # the early try
        if self.closed_at is not None:
            self._probe_out = probe = True
        elif self.window is not None:
            slot, asks = self.quota.start()
            probe = probe or asks
        self._last_start = now
        self._in_flight += 1
        return Ticket(now, self._epoch, probe, slot, self.quota.openings)

    # ------------------------------------------------------------------ answers
    def served(self, ticket: Ticket, now: float) -> None:
        """The server served ``ticket``'s request."""
        self.unserved_episodes = 0
        self._in_flight = max(0, self._in_flight - 1)
        self._served += 1
        self._log_served(ticket.start)
        self.pace.served(ticket.start)
        if ticket.probe and self.closed_at is not None:
            self._reopen(ticket.start, told=False)  # it opened by this request: counted after
        if self.closures.served(ticket.start):
            self._served_late()
        self.quota.served_at(ticket.start, self._slot(ticket), self.served_log)
        if ticket.probe:
            self._probe_out = False
            if self._early is not None and ticket.start >= self._early[0]:
                self._end_early()  # the bucket had refilled: go on at the pace
        if self.window is None and self.closed_at is None and now >= self.paused_until:
            self.pace.rise(now)

    def _log_served(self, start: float) -> None:
        """Note a served request's start in :attr:`served_log`, in start order (answers
        come out of order by at most the requests in flight: a short walk back)."""
        log = self.served_log
        if len(log) == log.maxlen:
            log.popleft()
        at = len(log)
        while at > 0 and log[at - 1] > start:
            at -= 1
        log.insert(at, start)

    def failed(self, ticket: Ticket) -> None:
        """``ticket``'s request ended without telling anything of throttling."""
        self._in_flight = max(0, self._in_flight - 1)
        self.quota.ended(self._slot(ticket), throttled=False)
        if ticket.probe:
            self._probe_out = self._early_out = False

    def throttled(
        self, ticket: Ticket, retry_after: float | None, now: float, whole: bool = True
    ) -> Verdict:
        """``ticket``'s request was throttled, with the server's ``Retry-After`` if any
        (``whole``: in whole seconds, perhaps rounded up by up to one)."""
        self.throttles += 1
        self._in_flight = max(0, self._in_flight - 1)
        self.pace.throttled = True
        told = retry_after is not None
        self._told_last = told
        if ticket.probe:
            self._probe_out = self.quota.asked = False
        self.quota.ended(self._slot(ticket), throttled=True)
        early = self._early_window(now)
        tried_early = early is not None and ticket.probe and ticket.start >= early[0]
        if tried_early:
            self._early_ok = False  # the server meant its whole second: never again
            self._end_early()
            self.pace.end_segment(ticket.start, self.going_at())  # nothing served in it
        new = ticket.epoch >= self._epoch and not tried_early
        if retry_after is not None:
            # One more answer of an episode already seen must not push the pause further
            # for having been read late: the server answered it about when it answered
            # the first of the episode.
            since = (
                now
                if new or tried_early
                else max(ticket.start, min(now, self.episode_at + EPISODE_SLACK))
            )
            if early is None or tried_early:
                self.paused_until = max(self.paused_until, since + retry_after)
        long = retry_after is not None and is_long_wait(retry_after, self.going_at())
        if new:
            long = self._episode(now, ticket, retry_after, long, whole)
        if retry_after is not None:
            wait = max(0.0, self.paused_until - now)
        elif self.closed_at is not None:
            wait = max(0.0, self._next_probe - now)
        else:
            wait = max(0.0, self.quota.open_at - now)
        early_try = retry_after is not None and self._early is not None
        return Verdict(wait, told, new, long, early_try)

    def _episode(
        self, now: float, ticket: Ticket, retry_after: float | None, long: bool, whole: bool
    ) -> bool:
        """A new throttle episode; returns whether its wait is long."""
        self._epoch += 1
        self.episode_at = now
        self.unserved_episodes += 1
        # the segment ends where the request that overran started (its answer came a
        # round trip later)
        self.pace.end_segment(ticket.start, self.going_at())
        if self.window is not None:
            return self._window_throttle(now, ticket, retry_after) or long
        if retry_after is None:
            self._close(now, ticket)
            return long
        again = self._escalated(retry_after)
        if long or again:
            self.pace.punish(now, retry_after, self.going_at(), again=again)
            long = True
        else:
            self.pace.cut(now, retry_after, self.going_at())
            early = now + max(EARLY_TRY, 2.0 / self.pace.rate)
            rounded = whole and retry_after <= 1.0  # a second at most: perhaps rounded up
            if self._early_ok and rounded and early < now + retry_after - EARLY_TRY:
                self._early = (early, now + retry_after)
                self.paused_until = early
        self._closure_len = now - self.pace.segment_start
        self._reopen(now + retry_after, told=True, long=long)
        return long

    def _escalated(self, wait: float) -> bool:
        """Whether a wait (a ``Retry-After``, or how long a closure without one lasted) is
        a ban escalating: at least :data:`ESCALATED` times the last, so punished again even
        if the first was short enough to pass for a bucket's refill. It becomes the last."""
        again = wait >= max(LONG_WAIT, ESCALATED * self._last_wait)
        self._last_wait = wait
        return again

    def _early_window(self, now: float) -> tuple[float, float] | None:
        """The early try's window (when it may go, when the header ends), until that end."""
        if self._early is not None and now >= self._early[1]:
            self._end_early()
        return self._early

    def _end_early(self) -> None:
        self._early, self._early_out = None, False

    def give_up(self, now: float) -> None:
        """The run stops waiting: a closure that never reopened was a punishment."""
        if self.closed_at is not None:
            self.pace.punish(now, now - self.closed_at, self._closed_pace)

    # ------------------------------------------------------------------ learning
    def going_at(self) -> float:
        """The rate requests were going out at: the spacing, or what was served over the
        last second (in a window's burst, or unspaced). In the run's first second, what
        was served over the run so far (``inf`` if nothing was: no rate was measured);
        a count over a whole second would take an opening burst of five requests in 20 ms
        for 5/s, and the run would be held below it."""
        if self.window is None and math.isfinite(self.pace.rate):
            return self.pace.rate
        recent = sum(1 for t in self.served_log if t > self._last_start - 1.0)
        span = self._last_start - self._began
        if span < 1.0:
            return recent / span if recent and span > _EPSILON else math.inf
        return float(max(1, recent))

    def _close(self, now: float, ticket: Ticket) -> None:
        """A throttle without ``Retry-After``: one probe at a time until one is served."""
        if self.closed_at is None:
            self.closed_at = now
            self._closed_pace = self.going_at()
            self._closure_len = now - self.pace.segment_start
            self._failures = 0
            self._last_failed = -math.inf
            # after a long closure, the next is expected a window after it reopened
            guide = self.window or self.closures.tentative
            self._bracket = guide.next_opening() if guide is not None else None
            self._next_probe = probe_at(now, now, self._bracket)
            return
        self._failures += 1
        self._last_failed = max(self._last_failed, ticket.start)
        self._next_probe = probe_at(now, self.closed_at, self._bracket, self._failures)

    def _reopen(self, at: float, *, told: bool, long: bool = False) -> None:
        """The server serves again from ``at``. The closure is noted: two alike show a
        window. A closure without ``Retry-After`` that was short was a bucket refilling
        (the rate is cut); a long one was a punishment or a closed window."""
        closed_at = self.episode_at if told else self.closed_at
        earliest = self._last_failed
        self.closed_at = None
        self._probe_out = False
        if closed_at is None:
            return
        if self.window is not None:
            self._window_reopens(at, told, closed_at, earliest)
            return
        if not told:
            wait = at - closed_at
            again = self._escalated(wait)
            long = again or is_long_wait(wait, self._closed_pace)
            if long:
                self.pace.punish(at, wait, self._closed_pace, again=again)
            else:
                self.pace.cut(at, 0.0, self._closed_pace)
        self.closures.note(
            closed_at, at, told=told, earliest=earliest, long=long, length=self._closure_len
        )
        self._find_window(at, told)

    # ------------------------------------------------------------------ memory
    def learned(self, now: float) -> Learned:
        """What the run learned, for the folder's memory (:mod:`aura_async.pacing.memory`).

        A rate is learned only once the server has throttled, and only if it was served
        over a real interval: :data:`MEASURED` seconds without a throttle in which the
        server served at least 90 % of it (a run slowed by its own bandwidth, or one
        that ended soon after a throttle, teaches no rate).
        """
        pace = self.pace
        rate = None
        if pace.throttled and self.window is None:
            measured = served_rate(self.served_log, now, MEASURED)
            quiet = now - self.episode_at >= MEASURED
            if measured is not None and quiet and measured >= 0.9 * pace.rate:
                rate = pace.rate
        length = None
        if self.window is not None and self.window.length is not None:
            length = self.window.length[1]
        return Learned(
            rate=rate,
            cap=pace.cap if math.isfinite(pace.cap) else None,
            quota=self.window.quota if self.window is not None else None,
            window=length,
            throttled=pace.throttled,
        )

    def resume(self, learned: Learned, now: float) -> None:
        """Start from what an earlier run learned."""
        self.pace.resume(learned)
        if learned.quota and self.window is None:
            # the current window opened at most a window ago: the first answer says when
            if learned.window:
                opened = (now - learned.window, now)
                self.window = Window(learned.quota, opened, (learned.window, learned.window))
            else:
                self.window = Window(learned.quota, (now, now))
            self.quota.open(now)
