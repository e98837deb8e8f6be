"""How the emulated server throttles media requests: five policies, each with parameters.

Nobody knows how Aura throttles (``reference/aura-api.md`` section 5), so the emulator can
be any of the shapes servers use. Each policy is a small frozen description; ``gate(t0)``
makes its running state, whose :meth:`Gate.admit` is asked once per media request with the
server's clock and answers 0 (served) or the seconds until a request would be served again
(what the ``Retry-After`` header says). Nothing here reads a clock: tests drive ``now``.

* :class:`TokenBucket`: ``rate`` per second, ``burst`` at once (today's imgproxy-like queue).
* :class:`FixedWindow`: ``quota`` requests per ``window``; the count restarts at each window.
* :class:`SlidingWindow`: at most ``quota`` requests served in any ``window`` seconds (a log).
* :class:`EscalatingBan`: a token bucket whose overrun starts a ban; an overrun soon after a
  ban doubles the next one; a quiet period forgives.
* :class:`LongWait`: an hourly-style quota, answered with a wait of minutes.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "EscalatingBan",
    "FixedWindow",
    "Gate",
    "GateStats",
    "LongWait",
    "Policy",
    "SlidingWindow",
    "TokenBucket",
]


@dataclass
class GateStats:
    """What a policy did: the counters of :class:`~aura_async.emulator.counters.Counters`."""

    admitted: int = 0
    """Requests the policy let through."""
    refused: int = 0
    """Requests it refused (answered 429 or 503)."""
    bans: int = 0
    """Bans started (escalating ban only)."""
    banned_seconds: float = 0.0
    """Total length of the bans started."""
    quota_used: list[int] = field(default_factory=list)
    """Requests served in each window so far, oldest first (window policies only; for a
    sliding window, in consecutive windows from the first request)."""


class Gate(Protocol):
    """The running state of a policy."""

    stats: GateStats

    def admit(self, now: float) -> float:
        """Take one request at ``now``: 0 if it is served, else seconds until one would be."""
        ...


@dataclass(frozen=True)
class TokenBucket:
    """``rate`` requests per second, ``burst`` of them at once."""

    rate: float
    burst: int = 5

    def gate(self, t0: float, stats: GateStats | None = None) -> Gate:
        """The policy's running state, starting at ``t0``, counting into ``stats``."""
        return _Bucket(self.rate, self.burst, t0, stats or GateStats())


@dataclass(frozen=True)
class FixedWindow:
    """``quota`` requests per ``window`` seconds; the count restarts when a window ends.

    Attributes:
        aligned: windows start at multiples of ``window`` on the server's clock (a counter
            keyed by ``floor(now / window)``); otherwise the first window starts with the
            first request.
    """

    quota: int
    window: float
    aligned: bool = False

    def gate(self, t0: float, stats: GateStats | None = None) -> Gate:
        """The policy's running state, starting at ``t0``, counting into ``stats``."""
        return _Fixed(self.quota, self.window, None if self.aligned else t0, stats or GateStats())


@dataclass(frozen=True)
class SlidingWindow:
    """At most ``quota`` requests served in any ``window`` seconds (a sliding log)."""

    quota: int
    window: float

    def gate(self, t0: float, stats: GateStats | None = None) -> Gate:
        """The policy's running state, starting at ``t0``, counting into ``stats``."""
        return _Sliding(self.quota, self.window, t0, stats or GateStats())


@dataclass(frozen=True)
class EscalatingBan:
    """A token bucket (``rate``, ``burst``) whose overrun starts a ban of every request.

    Attributes:
        ban: seconds of the first ban.
        repeat_within: an overrun this soon after a ban ended doubles the next ban.
        forgive_after: after this many quiet seconds since the last ban ended, the next
            ban is ``ban`` again (between the two, it stays as long as the last one).
        max_ban: bans never last longer.
    """

    rate: float
    burst: int = 5
    ban: float = 2.0
    repeat_within: float = 10.0
    forgive_after: float = 60.0
    max_ban: float = 600.0

    def gate(self, t0: float, stats: GateStats | None = None) -> Gate:
        """The policy's running state, starting at ``t0``, counting into ``stats``."""
        return _Ban(self, t0, stats or GateStats())


@dataclass(frozen=True)
class LongWait:
    """An hourly-style quota: ``quota`` requests per ``period``, then a wait of minutes
    until the period ends (a fixed window starting with the first request)."""

    quota: int
    period: float = 3600.0

    def gate(self, t0: float, stats: GateStats | None = None) -> Gate:
        """The policy's running state, starting at ``t0``, counting into ``stats``."""
        return _Fixed(self.quota, self.period, t0, stats or GateStats())


Policy = TokenBucket | FixedWindow | SlidingWindow | EscalatingBan | LongWait


class _Bucket:
    def __init__(self, rate: float, burst: int, t0: float, stats: GateStats) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.stamp = float(burst), t0
        self.stats = stats

    def peek(self, now: float) -> float:
        """Seconds until a token is there (0: one is), taking nothing."""
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = max(self.stamp, now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def admit(self, now: float) -> float:
        wait = self.peek(now)
        if wait == 0:
            self.tokens -= 1
            self.stats.admitted += 1
        else:
            self.stats.refused += 1
        return wait


def _count_window(stats: GateStats, index: int, last: int | None) -> None:
    """Count one served request in window ``index`` (``last``: the window of the one before)."""
    if index != last or not stats.quota_used:
        stats.quota_used.append(0)
    stats.quota_used[-1] += 1
    stats.admitted += 1


class _Fixed:
    def __init__(self, quota: int, window: float, start: float | None, stats: GateStats) -> None:
        self.quota, self.window, self.start = quota, window, start
        self.index: int | None = None
        self.used = 0
        self.stats = stats

    def admit(self, now: float) -> float:
        origin = 0.0 if self.start is None else self.start
        index = math.floor((now - origin) / self.window)
        if index != self.index:
            self.used = 0
        if self.used < self.quota:
            self.used += 1
            _count_window(self.stats, index, self.index)
            self.index = index
            return 0.0
        self.index = index
        self.stats.refused += 1
        return max(1e-3, origin + (index + 1) * self.window - now)


class _Sliding:
    def __init__(self, quota: int, window: float, t0: float, stats: GateStats) -> None:
        self.quota, self.window, self.t0 = quota, window, t0
        self.log: deque[float] = deque()
        self.index: int | None = None
        self.stats = stats

    def admit(self, now: float) -> float:
        while self.log and self.log[0] <= now - self.window:
            self.log.popleft()
        if len(self.log) < self.quota:
            self.log.append(now)
            # counted per consecutive window from the first request, as a fixed window would
            index = math.floor((now - self.t0) / self.window)
            _count_window(self.stats, index, self.index)
            self.index = index
            return 0.0
        self.stats.refused += 1
        return max(1e-3, self.log[0] + self.window - now)


class _Ban:
    def __init__(self, policy: EscalatingBan, t0: float, stats: GateStats) -> None:
        self.policy = policy
        self.bucket = _Bucket(policy.rate, policy.burst, t0, stats)
        self.until = -math.inf
        self.length = 0.0
        self.stats = self.bucket.stats

    def admit(self, now: float) -> float:
        if now < self.until:
            self.stats.refused += 1
            return self.until - now
        wait = self.bucket.admit(now)
        if wait == 0:
            return 0.0
        policy = self.policy
        quiet = now - self.until
        if self.length and quiet < policy.repeat_within:
            self.length = min(policy.max_ban, 2 * self.length)
        elif not self.length or quiet >= policy.forgive_after:
            self.length = policy.ban
        self.until = now + self.length
        self.stats.bans += 1
        self.stats.banned_seconds += self.length
        return self.length
