"""The run's limiter: when each media request may start, from what the server has shown.

One :class:`AdaptiveLimiter` is shared by every worker and frame of a run, so concurrency
(workers) and rate (requests per second) stay separate knobs. It assumes no throttle
policy: it records what happens (:mod:`aura_async.pacing.learner`) and the pure functions
of :mod:`aura_async.pacing.policy` say what that means:

* ``Retry-After`` is the server's word: no request starts before it ends, and the first
  one starts when it ends (but one request tries early after a bucket's ``Retry-After: 1``,
  a refill perhaps rounded up to a whole second: :data:`~aura_async.pacing.learner.EARLY_TRY`);
* a throttle without one closes the gate: a single probe at a time, further apart after
  each refusal, until one is served;
* an overrun answered like a token bucket (a short wait) spaces requests just below the
  rate the bucket was found to serve (:mod:`aura_async.pacing.pace`); after a while
  without throttling the rate rises a little, never above the ``--rate`` ceiling, above
  what the segments showed the bucket to allow, or above a rate that was punished;
* an overrun answered with a long wait (a ban, a closed window) is punished: the rate is
  cut, and never probed above that rate again in the run;
* a quota window, once recognised, is used whole: its quota is sent when it opens, then
  one more request asks when the next opens (or, without ``Retry-After``, the next
  opening is bracketed from the last ones);
* the time requests are held back by the server is counted once however many workers
  wait (:attr:`AdaptiveLimiter.lost`), and a wait that would take the run past
  ``max_wait`` raises :class:`~aura_async.exceptions.WaitedTooLong`.

Each request gets a :class:`Ticket` from :meth:`AdaptiveLimiter.acquire`, handed back
with :meth:`~AdaptiveLimiter.on_success`, :meth:`~AdaptiveLimiter.on_throttle` or
:meth:`~AdaptiveLimiter.on_failure`. Time comes from an injected clock and sleep, so
tests drive it instead of waiting.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

from aura_async.exceptions import WaitedTooLong
from aura_async.pacing.learner import Learner
from aura_async.pacing.memory import Learned
from aura_async.pacing.pace import START_RATE, Pace
from aura_async.pacing.policy import Window, served_rate
from aura_async.pacing.ticket import Ticket, Verdict

__all__ = [
    "DEFAULT_MAX_WAIT",
    "START_RATE",
    "AdaptiveLimiter",
    "Ticket",
    "Verdict",
    "human_wait",
]

_EPSILON = 1e-9  # float dust must not turn into sleeps too short to move the clock
_HELD = ("server", "closed", "window")  # waits the server imposes: counted in `lost`
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]

DEFAULT_MAX_WAIT = 1800.0
"""Seconds a run may lose to the server's throttling before it gives up (``--max-wait``)."""


class AdaptiveLimiter:
    """Decides when each media request starts; learns the server's throttle policy.

    Args:
        max_rate: the ceiling in requests per second (``--rate``); ``None`` or 0 for
            none: requests are not spaced until the server first throttles (but in the
            run's first second start slowly: one, then one more in flight than were
            served); from there
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
        ceiling = max_rate if max_rate and max_rate > 0 else math.inf
        first = start_rate if start_rate and start_rate > 0 else ceiling
        self._pace = Pace(ceiling, first, floor)
        self._learner = Learner(self._pace)
        self.max_wait = max_wait
        self.lost = 0.0
        """Seconds requests were held back by the server's throttling (pauses, closed
        windows, probes), counted once however many workers waited."""
        self._clock = clock
        self._sleep: Sleep = sleep or asyncio.sleep
        self._lock = asyncio.Lock()
        self._news = asyncio.Event()
        self._wants_news = False

    # ------------------------------------------------------------------ reading
    def now(self) -> float:
        """The limiter's clock."""
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    @property
    def max_rate(self) -> float:
        """The ``--rate`` ceiling (``inf`` for none)."""
        return self._pace.max_rate

    @property
    def rate(self) -> float:
        """The rate requests are spaced at outside quota windows."""
        return self._pace.rate

    @rate.setter
    def rate(self, value: float) -> None:
        self._pace.rate = value

    @property
    def cap(self) -> float:
        """A rate the server punished: the rate stays below it for the rest of the run."""
        return self._pace.cap

    @property
    def window(self) -> Window | None:
        """The quota window the server was found to use, if any."""
        return self._learner.window

    @property
    def ceiling(self) -> float:
        """The rate requests are spaced at now (``inf`` in a quota window, whose quota
        goes when it opens)."""
        return math.inf if self._learner.window is not None else self._pace.rate

    @property
    def throttles(self) -> int:
        """Throttled responses seen so far."""
        return self._learner.throttles

    @property
    def paused_for(self) -> float:
        """Seconds left of a pending ``Retry-After`` pause."""
        return max(0.0, self._learner.paused_until - self.now())

    def served(self, span: float = 10.0) -> float | None:
        """Requests served per second over the last ``span`` seconds (``None`` before the
        run has served for that long)."""
        return served_rate(self._learner.served_log, self.now(), span)

    @property
    def learned(self) -> Learned:
        """What the run learned, for the folder's memory (see
        :meth:`~aura_async.pacing.learner.Learner.learned`)."""
        return self._learner.learned(self.now())

    def resume(self, learned: Learned | None) -> None:
        """Start from what an earlier run learned (:mod:`aura_async.pacing.memory`)."""
        if learned is not None:
            self._learner.resume(learned, self.now())

    def past_max_wait(self, wait: float) -> bool:
        """Whether waiting ``wait`` more seconds would take the run past ``max_wait``
        (an unknown wait, ``inf``, is not: it ends with an answer, not a clock)."""
        return math.isfinite(wait) and self.lost + wait > self.max_wait

    # ------------------------------------------------------------------ acquiring
    async def acquire(self) -> Ticket:
        """Wait until a request may start; return its ticket.

        Raises:
            WaitedTooLong: waiting longer would take the run past ``max_wait``.
        """
        learner = self._learner
        async with self._lock:  # FIFO: waiters are served in arrival order
            while True:
                now = self.now()
                wait, reason = learner.delay(now)
                if wait <= _EPSILON:
                    return learner.start(now)
                # refused again and again (nothing served between): the spacing is held too
                refused = learner.unserved_episodes >= 2
                held = reason in _HELD or (refused and reason == "spacing")
                if held and self.past_max_wait(wait):
                    learner.give_up(now)
                    raise WaitedTooLong(
                        f"throttled too long: Aura asks to wait {human_wait(wait)} more, "
                        f"past --max-wait ({human_wait(self.max_wait)} in all, "
                        f"{human_wait(self.lost)} waited already)",
                        retry_after=wait,
                    )
                if math.isinf(wait):  # until an answer comes (a probe's, a burst's)
                    self._news.clear()
                    self._wants_news = True
                    await self._news.wait()
                else:
                    await self._sleep(wait)
                if held:
                    self.lost += max(0.0, self.now() - now)

    def _tell(self) -> None:
        """Wake a waiter that waits for an answer."""
        if self._wants_news:
            self._wants_news = False
            self._news.set()

    # ------------------------------------------------------------------ outcomes
    def on_success(self, ticket: Ticket) -> None:
        """Record a request the server served."""
        self._learner.served(ticket, self.now())
        self._tell()

    def on_failure(self, ticket: Ticket) -> None:
        """Record a request that ended without telling anything of throttling (a reset,
        a timeout, a 5xx, an error of ours): its place in a burst or as the probe frees."""
        self._learner.failed(ticket)
        self._tell()

    def on_throttle(
        self, ticket: Ticket, retry_after: float | None = None, *, whole_seconds: bool = True
    ) -> Verdict:
        """Record a throttled request (429 or 503).

        Args:
            ticket: the request's ticket.
            retry_after: the server's ``Retry-After`` in seconds, if it sent one.
            whole_seconds: the header could only say whole seconds (delay-seconds or an
                HTTP date: :func:`~aura_async.pacing.retry.whole_seconds`), so the wait
                may be up to a second longer than the server needs.

        Returns:
            What the throttle meant.
        """
        verdict = self._learner.throttled(ticket, retry_after, self.now(), whole_seconds)
        self._tell()
        return verdict


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
