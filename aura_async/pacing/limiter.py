"""A token bucket shared by every worker, with an adaptive rate (AIMD).

The bucket spaces request starts at ``rate`` per second, whatever the number of workers
(concurrency and rate are separate knobs). Aura publishes no limits, so the rate adapts:

* a throttle signal halves the rate, at most once per episode (the in-flight requests of
  one burst all come back 429 together), never below ``floor``;
* while a ``Retry-After`` is pending, no request starts at all;
* each throttle also sets a target: 80 % of the rate that was refused (the multiplicative
  decrease of TCP CUBIC, which uses 70 %) early in a run, or, once the run has two seconds
  of history, 97 % of the rate the server actually served over the last second;
* after each window of successes the rate rises additively: in big steps (half the
  distance, every half window) back up to the target, then in small probing steps (0.5 %
  of the target every two windows) to find out whether the server now allows more; never
  above ``max_rate``.

Time comes from an injected clock and sleep, so tests drive it instead of waiting.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Awaitable, Callable

__all__ = ["AdaptiveLimiter"]

_EPSILON = 1e-9  # float dust must not turn into sleeps too short to move the clock
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class AdaptiveLimiter:
    """Spaces request starts; slows down on throttling, speeds up on success.

    Args:
        max_rate: the ceiling in requests per second (``--rate``); ``None`` or 0 means no
            ceiling: requests are spaced only after the server has throttled once.
        start_rate: where to begin (a rate learned by an earlier run); defaults to ``max_rate``.
        floor: the rate never drops below this.
        window: successes per additive increase.
        clock: returns seconds; defaults to the running loop's clock.
        sleep: awaits seconds; defaults to ``asyncio.sleep``.
    """

    def __init__(
        self,
        max_rate: float | None,
        *,
        start_rate: float | None = None,
        floor: float = 0.2,
        window: int = 10,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self.max_rate = max_rate if max_rate and max_rate > 0 else math.inf
        start = start_rate if start_rate and start_rate > 0 else self.max_rate
        self.rate = max(floor, min(start, self.max_rate))
        self.floor = floor
        self.window = window
        self.throttles = 0
        self.waited = 0.0
        self._clock = clock
        self._sleep: Sleep = sleep or asyncio.sleep
        self._tokens = 1.0
        self._stamp: float | None = None
        self._paused_until = 0.0
        self._last_decrease = -math.inf
        self._successes = 0
        self._done: deque[float] = deque(maxlen=256)
        self._target = 0.0
        self._lock = asyncio.Lock()

    def now(self) -> float:
        """The limiter's clock."""
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    @property
    def paused_for(self) -> float:
        """Seconds left of a pending Retry-After pause."""
        return max(0.0, self._paused_until - self.now())

    async def acquire(self) -> None:
        """Wait until a request may start."""
        async with self._lock:  # FIFO: waiters are served in arrival order
            while True:
                now = self.now()
                wait = self._paused_until - now
                if wait <= _EPSILON:
                    wait = self._take(now)
                    if wait <= _EPSILON:
                        return
                self.waited += wait
                await self._sleep(wait)

    def _take(self, now: float) -> float:
        if math.isinf(self.rate):
            return 0.0
        if self._stamp is not None:
            self._tokens = min(1.0, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0 - _EPSILON:
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / self.rate

    def on_success(self) -> None:
        """Record a request the server served; raises the rate after each window."""
        now = self.now()
        self._done.append(now)
        if math.isinf(self.rate) or self.rate >= self.max_rate:
            return
        self._successes += 1
        recovering = self.rate < self._target
        if self._successes < (self.window // 2 if recovering else 2 * self.window):
            return
        self._successes = 0
        probe = max(0.02, 0.005 * self._target)
        step = max(probe, (self._target - self.rate) / 2) if recovering else probe
        self.rate = min(self.max_rate, self.rate + step)

    def resume(self, learned: object) -> None:
        """Start from a rate an earlier run learned, if it is lower than the current one."""
        if isinstance(learned, int | float) and self.floor <= learned < self.rate:
            self.rate = min(float(learned), self.max_rate)
            self._target = self.rate

    @property
    def learned_rate(self) -> float | None:
        """The rate the server was found to allow, once it has throttled (else ``None``)."""
        return self._target if self.throttles else None

    def goodput(self) -> float:
        """Requests per second served over the last second (0 when unknown).

        Measured over at least a quarter second, so a first burst of answers does not look
        like an enormous rate.
        """
        if not self._done:
            return 0.0
        recent = [t for t in self._done if t >= self._done[-1] - 1.0]
        if len(recent) < 4:
            return 0.0
        return (len(recent) - 1) / max(0.25, recent[-1] - recent[0])

    def on_throttle(self, retry_after: float | None = None) -> bool:
        """Record a throttle signal (429, 503, a reset under load).

        Args:
            retry_after: the server's ``Retry-After`` in seconds, if it sent one.

        Returns:
            True if this signal lowered the rate (the first of its episode).
        """
        now = self.now()
        self.throttles += 1
        if retry_after is not None:
            self._paused_until = max(self._paused_until, now + retry_after)
        self._tokens = 0.0
        self._stamp = max(now, self._paused_until)
        self._successes = 0
        episode = max(1.0, 2.0 / self.rate) if not math.isinf(self.rate) else 1.0
        if now - self._last_decrease < episode:
            return False
        self._last_decrease = now
        measured = self.goodput()
        refused = self.rate if not math.isinf(self.rate) else (measured or 10.0)
        target = 0.8 * refused
        if measured and self._done and now - self._done[0] >= 2.0:
            target = 0.97 * measured  # a steady history measures the limit itself
        self._target = max(self.floor, target)
        self.rate = max(self.floor, min(refused / 2, self._target))
        return True
