"""What the limiter makes of each answer: episodes, pauses, probes, closures and windows.

:class:`Learner` is the limiter's state, apart from waiting (:mod:`aura_async.pacing.limiter`
waits; this module only decides, with times passed in). Each request gets a
:class:`Ticket` when it may start; its answer comes back as served, throttled or failed:

* unspaced (no ``--rate`` ceiling, nothing throttled yet), requests start as TCP's do:
  one, then one more in flight than have been served (a **slow start**);
* a throttle of a request started after the last episode began is a new **episode**;
  answers of requests that were already in flight belong to the episode they were part
  of (they are counted, and their ``Retry-After`` is honoured, but they teach nothing new);
* ``Retry-After`` pauses every start until it ends (the server's word), but for a
  bucket's ``Retry-After: 1``, which one request tries early (:data:`EARLY_TRY`);
* without one the gate closes: one **probe** at a time (:func:`~aura_async.pacing.policy.probe_at`);
* the segment an episode ends, and the wait it cost, go to the :class:`~aura_async.pacing.pace.Pace`
  (a short wait is a bucket refilling, a long one a punishment);
* each episode seen whole is a **closure**; two alike make a quota **window**
  (:func:`~aura_async.pacing.policy.infer_window`), used whole when it opens: one request,
  then more as answers come (slow start, at most :data:`BURST_TEST` in flight until one
  burst was served whole), then one request more to ask when the next opens, or, without
  ``Retry-After``, a try halfway through the bracket the last openings give;
* refused in a burst but soon free again, the window is a **sliding** log: a request may
  go once the one a quota back is a window old; each request it serves sooner than that
  shows the log to be shorter (:func:`~aura_async.pacing.policy.sliding_bound`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace
from typing import Literal

from aura_async.pacing.memory import Learned
from aura_async.pacing.pace import Pace
from aura_async.pacing.policy import (
    LONG_WAIT,
    Closure,
    Window,
    infer_window,
    is_long_wait,
    probe_at,
    served_rate,
    sliding_bound,
)

__all__ = ["Learner", "Reason", "Ticket", "Verdict"]

_EPSILON = 1e-9
Reason = Literal["go", "spacing", "server", "closed", "window", "burst"]

BURST_TEST = 2
"""Requests in flight at most in a window's burst until one burst was served whole: if
the quota comes back a request at a time (a sliding log), few are refused."""

ACCEPT = 0.05
"""A window's opening known within this share of its length is tried at the latest
moment it may be, not halfway (no refusal to learn it better)."""

EPISODE_SLACK = 0.05
"""Seconds after an episode's first throttle within which the server answered the other
requests then in flight: their ``Retry-After``, however late it is read, counts from
then."""

MEASURED = 10.0
"""Seconds of serving that make a rate measured (what the folder may remember)."""

ESCALATED = 1.8
"""A ``Retry-After`` this many times the last one (a ban doubled) is a repeated punishment."""

SLIDING_MARGIN = 0.05
"""Seconds added to a sliding window's length: the way to the server and back."""

EARLY_TRY = 0.25
"""A bucket's overrun told to wait one second (``Retry-After: 1``, whole seconds: rounded
up from the twentieth of a second a bucket of 20/s takes to refill a token) is tried again
by one request this soon, or two spacings at the rate it was cut to if that is longer; the
others wait for its answer. Served, the run goes on at its pace; refused (a ban, a
window), it waits the rest out, and every ``Retry-After`` after it in the run. In the
sweep at 300 photos this took a bucket of 20/s (burst 5) from 1.06 to 1.01 of the least
time, 15/s from 1.19 to 1.08, and ``--rate 0`` beside the default from 1.05 to 1.00."""


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
            :data:`EARLY_TRY`); the others wait for its answer.
    """

    wait: float
    told: bool
    new: bool
    long: bool
    early: bool = False


class Learner:
    """The limiter's state: when the next request may start, and what each answer means.

    Args:
        pace: the rate side (spacing, ceiling, bucket, cap).
    """

    def __init__(self, pace: Pace) -> None:
        self.pace = pace
        self.window: Window | None = None
        """The quota window the server was found to use, if any."""
        self.throttles = 0
        self.paused_until = -math.inf
        self.episode_at = -math.inf
        self.unserved_episodes = 0
        """Episodes in a row with nothing served between them."""
        self.served_log: deque[float] = deque(maxlen=4096)
        """Start times of served requests, oldest first."""
        self.closed_at: float | None = None
        """When a closure without ``Retry-After`` began (``None``: not closed)."""
        self._epoch = 0
        self._in_flight = 0
        self._served = 0
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
        self._closures: list[Closure] = []
        self._opened = 0.0
        self._opened_count = 0
        self._tentative: Window | None = None
        self._win_open = -math.inf
        self._openings = 0
        self._win_used = 0
        self._win_served = 0
        self._win_out = 0
        self._asked = False
        self._trying: tuple[float, float, int] | None = None  # bracket and refusals
        self._confirmed = False
        self._suspect: int | None = None
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
            wait, reason = self._window_delay(now, self.window)
            if wait > _EPSILON:
                return wait, reason
        elif math.isinf(self.pace.rate) and self._in_flight > self._served:
            return math.inf, "burst"  # unspaced: one, then two, then four... (slow start)
        return self.pace.delay(now, windowed=self.window is not None), "spacing"

    def _window_delay(self, now: float, window: Window) -> tuple[float, Reason]:
        if self._win_open - now > _EPSILON:
            return self._win_open - now, "window"
        if window.sliding and window.length is not None:
            # a sliding log: a request may go once the one `quota` requests back is a
            # window old
            span = window.length[1] + SLIDING_MARGIN
            recent = [t for t in self.served_log if t > now - span]
            over = len(recent) + self._win_out - window.quota
            if over < 0:
                return 0.0, "go"
            if not recent:
                return math.inf, "burst"
            return max(4 * _EPSILON, recent[min(over, len(recent) - 1)] + span - now), "window"
        if self._win_used >= window.quota:
            if self._asked:
                return math.inf, "window"  # its answer says when the next opens
            expected = window.next_opening()
            if self._told_last or expected is None:
                return 0.0, "go"  # one more request: its answer says when the next opens
            # without Retry-After: try the next opening halfway through its bracket
            lo = max(expected[0], self._last_start)
            hi = max(lo, expected[1])
            self._open_window(probe_at(now, now, (lo, hi), 0, self._accept()))
            self._trying = (lo, hi, 0)
            return max(0.0, self._win_open - now), "window"
        if self._win_out > self._win_served or (
            not self._confirmed and self._win_out >= BURST_TEST
        ):
            return math.inf, "burst"  # slow start: one, then two more, then four...
        return 0.0, "go"

    def start(self, now: float) -> Ticket:
        """A request starts at ``now``: its ticket."""
        if self._last_start == -math.inf:
            self._opened = now
        self.pace.started(now)
        probe, slot = False, 0
        if self._early_window(now) is not None:
            self._early_out = probe = True  # the early try
        if self.closed_at is not None:
            self._probe_out = probe = True
        elif self.window is not None:
            self._win_used += 1
            self._win_out += 1
            slot = self._win_used
            if slot > self.window.quota and not self.window.sliding:
                self._asked = probe = True
        self._last_start = now
        self._in_flight += 1
        return Ticket(now, self._epoch, probe, slot, self._openings)

    # ------------------------------------------------------------------ answers
    def served(self, ticket: Ticket, now: float) -> None:
        """The server served ``ticket``'s request."""
        self.unserved_episodes = 0
        self._in_flight = max(0, self._in_flight - 1)
        self._served += 1
        self.served_log.append(ticket.start)
        self.pace.served(ticket.start)
        if ticket.probe and self.closed_at is not None:
            self._reopen(ticket.start, told=False)  # it opened by this request: counted after
        if ticket.start >= self._opened:
            self._opened_count += 1
        elif self._closures and ticket.start >= self._closures[-1].opened:
            self._served_late()
        window = self.window
        if window is not None and window.sliding and window.length is not None:
            self._narrow_sliding(window, ticket.start)
            window = self.window
        slot = self._slot(ticket)
        if window is not None and slot:
            self._win_served += 1
            self._win_out = max(0, self._win_out - 1)
            if self._win_served >= window.quota:
                self._confirmed = True  # a whole quota at once: not a sliding log
            if slot > window.quota and not window.sliding:
                window = self.window = replace(window, quota=slot)  # more than thought
                self._asked = False
            if self._trying is not None and slot == 1:
                self.window = window.opens(self._trying[0], ticket.start)
                self._trying = None
        if ticket.probe:
            self._probe_out = False
            if self._early is not None and ticket.start >= self._early[0]:
                self._end_early()  # the bucket had refilled: go on at the pace
        if self.window is None and self.closed_at is None and now >= self.paused_until:
            self.pace.rise(now)

    def failed(self, ticket: Ticket) -> None:
        """``ticket``'s request ended without telling anything of throttling."""
        self._in_flight = max(0, self._in_flight - 1)
        slot = self._slot(ticket)
        if slot:
            self._win_out = max(0, self._win_out - 1)
            if self.window is not None and slot > self.window.quota:
                self._asked = False
        if ticket.probe:
            self._probe_out = self._early_out = False

    def throttled(self, ticket: Ticket, retry_after: float | None, now: float) -> Verdict:
        """``ticket``'s request was throttled, with the server's ``Retry-After`` if any."""
        self.throttles += 1
        self._in_flight = max(0, self._in_flight - 1)
        self.pace.throttled = True
        told = retry_after is not None
        self._told_last = told
        if ticket.probe:
            self._probe_out = self._asked = False
        if self._slot(ticket):
            self._win_out = max(0, self._win_out - 1)
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
            long = self._episode(now, ticket, retry_after, long)
        if retry_after is not None:
            wait = max(0.0, self.paused_until - now)
        elif self.closed_at is not None:
            wait = max(0.0, self._next_probe - now)
        else:
            wait = max(0.0, self._win_open - now)
        early_try = retry_after is not None and self._early is not None
        return Verdict(wait, told, new, long, early_try)

    def _episode(self, now: float, ticket: Ticket, retry_after: float | None, long: bool) -> bool:
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
        # a wait at least twice the last one is a ban escalating: punished again, even if
        # the first was short enough to pass for a bucket's refill
        again = retry_after >= max(LONG_WAIT, ESCALATED * self._last_wait)
        self._last_wait = retry_after
        if long or again:
            self.pace.punish(now, retry_after, self.going_at(), again=again)
            long = True
        else:
            self.pace.cut(now, retry_after, self.going_at())
            early = now + max(EARLY_TRY, 2.0 / self.pace.rate)
            rounded = retry_after == 1.0  # a whole second: perhaps rounded up from less
            if self._early_ok and rounded and early < now + retry_after - EARLY_TRY:
                self._early = (early, now + retry_after)
                self.paused_until = early
        self._closure_len = now - self.pace.segment_start
        self._reopen(now + retry_after, told=True, long=long)
        return long

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
        last second (in a window's burst, or unspaced)."""
        if self.window is None and math.isfinite(self.pace.rate):
            return self.pace.rate
        recent = [t for t in self.served_log if t > self._last_start - 1.0]
        return float(max(1, len(recent)))

    def _close(self, now: float, ticket: Ticket) -> None:
        """A throttle without ``Retry-After``: one probe at a time until one is served."""
        if self.closed_at is None:
            self.closed_at = now
            self._closed_pace = self.going_at()
            self._closure_len = now - self.pace.segment_start
            self._failures = 0
            self._last_failed = -math.inf
            # after a long closure, the next is expected a window after it reopened
            guide = self.window or self._tentative
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
            long = is_long_wait(at - closed_at, self._closed_pace)
            if long:
                self.pace.punish(at, at - closed_at, self._closed_pace)
            else:
                self.pace.cut(at, 0.0, self._closed_pace)
        lo = at if told else max(earliest, closed_at)
        closure = Closure(
            self._opened, self._opened_count, closed_at, at, told, earliest, long, self._closure_len
        )
        self._closures = [*self._closures[-3:], closure]
        if long:
            # a window until shown otherwise: where the next one would open guides the
            # probes of the next closure without Retry-After (taking the window to have
            # begun with its first request)
            start = self._opened
            length = (max(0.0, lo - start), at - start)
            self._tentative = Window(max(1, self._opened_count), (lo, at), length)
        self._opened, self._opened_count = at, 0
        self._find_window(at, told)

    def _find_window(self, at: float, told: bool) -> None:
        """Use the quota window the closures show, if they show one, open since ``at``."""
        window = infer_window(self._closures) if self.window is None else None
        if window is not None:
            self.window = window
            self._open_window(at)
            self._confirmed = False
            if not told:  # the probe that was served is the window's first request
                self._win_used = self._win_served = 1

    def _served_late(self) -> None:
        """A request of the segment before the last closure was served after the closure
        was noted (it was in flight when a ``Retry-After`` came): it counts there, and
        the closures may now show a window."""
        last = self._closures[-1]
        self._closures[-1] = replace(last, served=last.served + 1)
        if last.told and self._opened_count == 0:  # still paused: nothing of the next
            self._find_window(last.reopened, told=True)

    def _window_reopens(self, at: float, told: bool, closed_at: float, earliest: float) -> None:
        assert self.window is not None
        suspect, self._suspect = self._suspect, None
        if suspect is not None:
            if not is_long_wait(at - closed_at, self._closed_pace):
                # served again soon: the quota comes back a request at a time
                self.window = replace(self.window, sliding=True)
                self._win_out = 0
                return
            self._shrink(suspect, at)
            if self.window is None:
                return
        lo = at if told else max(earliest, closed_at)
        self.window = self.window.opens(lo, at)
        self._open_window(at)
        if not told:  # the probe that was served is the window's first request
            self._win_used = self._win_served = 1

    def _open_window(self, at: float) -> None:
        self._win_open = at
        self._openings += 1
        self._win_used = self._win_served = self._win_out = 0
        self._asked = False
        self._trying = None

    def _narrow_sliding(self, window: Window, start: float) -> None:
        """A request was served in a sliding log: its length is at most how long ago the
        one ``quota`` served requests before it started (:func:`sliding_bound`)."""
        assert window.length is not None
        bound = sliding_bound(self.served_log, start, window.quota)
        if bound is not None and bound < window.length[1]:
            self.window = replace(window, length=(min(window.length[0], bound), bound))

    def _slot(self, ticket: Ticket) -> int:
        """``ticket``'s place in the window open now (0: none, or an earlier opening's:
        its answer, however late, says nothing of this one's quota)."""
        return ticket.slot if ticket.opening == self._openings else 0

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
                self._open_window(end)
            return True
        # without Retry-After
        if slot == 1 and self._trying is not None:
            lo, hi, failures = self._trying
            lo = max(lo, ticket.start)
            if ticket.start < hi:
                self._open_window(probe_at(now, now, (lo, hi), failures + 1, self._accept()))
                self._trying = (lo, hi, failures + 1)
                return True
            self._trying = None  # later than expected: probe as after any closure
        elif 0 < slot <= window.quota and not window.sliding:
            # refused before the quota: a smaller quota, or a sliding log whose slots come
            # back one by one; a probe soon after tells which
            self._suspect = slot - 1
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

    def _accept(self) -> float:
        """Seconds of lateness at a window's opening not worth a refused probe."""
        window = self.window
        if window is None or window.length is None:
            return 0.0
        return ACCEPT * window.length[0]

    def _shrink(self, quota: int, now: float) -> None:
        """The window closed after ``quota`` requests, fewer than learned: use that; far
        fewer means it was no window (a ban that looked like one): back to a rate."""
        window = self.window
        assert window is not None
        if quota < 0.5 * window.quota:
            self._leave_window(now, max(0.0, self.paused_until - now))
            return
        self.window = replace(window, quota=max(1, quota))

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
            self._open_window(now)
