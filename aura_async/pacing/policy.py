"""What a run learns of the server's throttle policy: small pure functions of what it saw.

Nobody knows how Aura throttles (``reference/aura-api.md`` section 5), so the limiter
(:mod:`aura_async.pacing.limiter`) does not assume one shape: it records what happened
and asks these functions what it means. Times are plain numbers on the limiter's clock,
passed in; nothing here reads a clock or sleeps.

What is observed:

* a **segment** is a stretch of serving between two throttle episodes: it starts when
  requests may flow again (the run's start, or the end of a pause) and ends at the first
  throttled request of the next episode; it knows how many requests it served, how long
  the pause before it lasted and at what rate requests were spaced;
* a **closure** is a throttle episode seen whole: when it closed, when the server opened
  again (its ``Retry-After``, or the first probe that was served), and how much the
  segment before it had served since the previous opening.

What is inferred:

* a **token bucket** (``rate`` per second, some burst): every segment that ended in an
  overrun while requests were sent continuously bounds the rate from above (it served at
  least ``rate`` times its length) and from below (it served at most ``rate`` times its
  length plus the pause before it); two segments that both started with a full bucket
  give the rate itself (:func:`bucket_rate`);
* a **punished** rate: an overrun answered with a wait far longer than a bucket refills
  (a ban, a closed window: :func:`is_long_wait`) must not be repeated;
* a **quota window** (``quota`` requests, then closed until it opens again): two
  closures in a row after the same number of requests served, whatever the pace
  (:func:`infer_window`); its length comes from the openings, told by ``Retry-After`` or
  bracketed by probes (:meth:`Window.opens`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

__all__ = [
    "BucketEstimate",
    "Closure",
    "Segment",
    "Window",
    "bucket_rate",
    "infer_window",
    "is_long_wait",
    "probe_at",
    "served_rate",
    "sliding_bound",
]

LONG_WAIT = 1.5
"""Seconds: a wait longer than this (and than a few refills at the rate that was served)
is not a bucket refilling, even rounded up to whole seconds: a ban or a closed window."""

SAFETY = 0.98
"""Requests are spaced at this share of a token bucket's rate once it is known."""

FIRST_CUT = 0.8
"""With one overrun seen and nothing else known, the rate is cut to this share of the rate
that overran (TCP CUBIC cuts to 70 %)."""

FULL_AFTER = 1.0
"""Seconds: a pause this long is taken to refill a token bucket (the run's first segment
begins with a full one too)."""

PROBE_FIRST = 0.5
"""Seconds before the first probe after a throttle without ``Retry-After`` (a bucket of 2/s
or more has a token again by then). Each refused probe is one more throttled request, to
a server that may escalate when pushed (``reference/aura-api.md`` section 5: the one guard
seen answers without ``Retry-After``): in the sweep at 300 photos, half a second rather
than a quarter took the variants without ``Retry-After`` from 26 misses to 22 (the
benchmark's sliding window from 3.2 % refused to 2.9 %), for up to 0.05 of the least time
more against a bucket (each of its closures now waits half a second)."""

PROBE_MAX = 60.0
"""Probes without ``Retry-After`` are never further apart than this."""


@dataclass(frozen=True)
class Segment:
    """A stretch of serving between two throttle episodes.

    Attributes:
        start: when requests could flow again.
        pause: seconds of the pause before it (``inf`` for the run's first segment: the
            server's bucket, if it has one, was full).
        served: requests started in it and served.
        length: seconds from ``start`` to the throttle that ended it.
        rate: the rate requests were spaced at when it ended (``inf``: not spaced).
        first: the rate they were spaced at when it began (``None``: unknown, or ``rate``
            is no spacing but a window's burst, counted). Within a segment the pace only
            rises, but one that began with a probe without ``Retry-After`` starts at the
            rate before the cut the probe's answer made.
    """

    start: float
    pause: float
    served: int
    length: float
    rate: float
    first: float | None = None

    @property
    def rising(self) -> bool:
        """The pace rose during the segment: the bucket may have been full, its tokens
        lost, while requests went slower than it refills."""
        return self.first is not None and self.first < self.rate


@dataclass(frozen=True)
class Closure:
    """A throttle episode seen whole.

    Attributes:
        opened: when the segment before it began (the previous opening).
        served: requests served from ``opened`` until it closed.
        closed: the first throttled request.
        reopened: when the server served again: its ``Retry-After`` end, or the probe
            that was served.
        told: ``reopened`` comes from a ``Retry-After``, not from a probe.
        earliest: with a probe, the last failed probe (the opening came after it).
        long: the wait was a punishment or a closed window (:func:`is_long_wait`).
        length: seconds the segment before it lasted (from ``opened`` or the end of the
            pause before it, to ``closed``).
    """

    opened: float
    served: int
    closed: float
    reopened: float
    told: bool
    earliest: float = -math.inf
    long: bool = True
    length: float = 0.0


@dataclass(frozen=True)
class Window:
    """A quota window: ``quota`` requests, then closed until it opens again.

    Openings are known as brackets ``(lo, hi]``: exact (``lo == hi``) when a
    ``Retry-After`` told them, else between the last probe refused and the first served.

    Attributes:
        quota: requests served per window.
        opened: the bracket of the current window's opening.
        length: the bracket of the time from one opening to the next (``None`` until two
            openings were seen).
        sliding: the quota comes back a request at a time, a window after each was
            served (a sliding log), not all at once.
    """

    quota: int
    opened: tuple[float, float]
    length: tuple[float, float] | None = None
    sliding: bool = False

    def next_opening(self) -> tuple[float, float] | None:
        """The bracket of the next opening (``None`` while the length is unknown)."""
        if self.length is None:
            return None
        return self.opened[0] + self.length[0], self.opened[1] + self.length[1]

    def opens(self, lo: float, hi: float) -> Window:
        """The next window was found open, its opening within ``(lo, hi]``: the brackets
        of the opening and of the length narrow."""
        lo = min(lo, hi)
        length = (max(0.0, lo - self.opened[1]), max(0.0, hi - self.opened[0]))
        if self.length is not None:
            narrowed = (max(length[0], self.length[0]), min(length[1], self.length[1]))
            if narrowed[0] <= narrowed[1]:
                length = narrowed
        return replace(self, opened=(lo, hi), length=length)


def is_long_wait(wait: float, rate: float) -> bool:
    """Whether a wait the server imposed is a punishment or a closed window, not a
    bucket refilling: longer than :data:`LONG_WAIT` and than four request spacings at
    ``rate`` (a bucket at 1/s refills a token in a second)."""
    spacing = 1.0 / rate if rate > 0 and math.isfinite(rate) else 0.0
    return wait > max(LONG_WAIT, 4 * spacing)


@dataclass(frozen=True)
class BucketEstimate:
    """What the segments say of a token bucket's rate.

    Attributes:
        rate: the rate to space requests at (below the one that overran).
        known: the bucket's rate, when the segments determine it (``None`` when ``rate``
            is a guess from one overrun).
        upper: the segments show the bucket serves less than this.
        lower: ...and at least this (0: the segments show nothing of it).
    """

    rate: float
    known: float | None
    upper: float
    lower: float = 0.0


def bucket_rate(
    segments: Sequence[Segment], overran: float, *, safe: float = 0.0
) -> BucketEstimate:
    """The rate to space requests at after an overrun, on the token-bucket model.

    A segment ended by an overrun, while requests kept coming faster than the bucket
    refills, served at least ``rate x length`` and, if the bucket was nearly empty when
    the pause before it began (it was: it had just refused a request), at most one
    token more than ``rate x (pause + length)``. Segments that began with a full bucket
    (the run's first, or after a pause of a second or more) lie on
    ``served = burst + rate x length``: two of clearly different lengths give the rate as
    the slope. The rate to use is :data:`SAFETY` times the best estimate; without one, a
    guess: :data:`FIRST_CUT` times the rate that overran, or halfway from a rate served
    safely to it, whichever is faster.

    Args:
        segments: the run's segments that ended in an overrun, oldest first.
        overran: the rate requests were spaced at when the last one overran.
        safe: the highest rate served for a while without a throttle (0: none).
    """
    lo, hi = 0.0, overran
    for seg in segments:
        if seg.length <= 0:
            continue
        # A pace that rose before it overran may have gone slower than the bucket
        # refills for a while, its tokens lost to a full bucket: its average is then no
        # bound on the bucket (it bounds it only where the first pace already does
        # better), the pace it overran at is.
        hi = min(hi, seg.rate if seg.rising else seg.served / seg.length)
        if math.isfinite(seg.pause):
            lo = max(lo, (seg.served - 1) / (seg.pause + seg.length))
    full = [s for s in segments if s.pause >= FULL_AFTER]
    slope = _slope(full)
    if slope is not None and any(s.first is not None and s.first < slope for s in full):
        slope = None  # the fit holds if the pace never went slower than the bucket refills
    if slope is not None and 0.95 * lo <= slope <= hi:
        known: float | None = slope
    elif lo > 0 and hi <= 1.1 * lo:
        known = (lo + hi) / 2  # a long segment after a short pause: both bounds meet
    else:
        known = None
    if known is None:
        # A segment that served within 10 % of the rate sent measured only that rate
        # (whole counts, a late wake-up): cut from the rate sent, not from the noise.
        base = overran if hi >= 0.9 * overran else hi
        guess = max(lo, FIRST_CUT * base, (safe + hi) / 2 if 0 < safe < hi else 0.0)
        return BucketEstimate(min(guess, hi), None, hi, lo)
    return BucketEstimate(SAFETY * min(known, overran), known, hi, lo)


def _slope(segments: Sequence[Segment]) -> float | None:
    """The bucket's rate fitted to ``served = burst + rate x length`` by least squares;
    ``None`` with fewer than two segments, or when they are too alike for counts that
    are whole numbers to give the rate within about 5 % (the lengths must differ by
    what the bucket serves in 30 requests), or when the burst or rate come out negative."""
    full = [s for s in segments if s.served >= 2 and s.length > 0]
    if len(full) < 2:
        return None
    xs = [s.length for s in full]
    ys = [float(s.served) for s in full]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    if var <= 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var
    burst = mean_y - slope * mean_x
    if slope <= 0 or burst < 0 or slope * (max(xs) - min(xs)) < 30:
        return None
    return slope


def infer_window(closures: Sequence[Closure]) -> Window | None:
    """A quota window, if the last closures show one.

    Two long closures (:func:`is_long_wait`) in a row after the same number of requests
    served (within 3 %) are a quota, not a bucket, if the segments before them lasted so
    differently long that a bucket would have served clearly more in the longer one (the
    rate is cut after
    every closure, so the next segment lasts longer), or that only a bucket refilling
    too slowly to matter could have served the same (one whose burst is the quota).
    The length is bracketed by the last two openings.

    Args:
        closures: the run's long closures, oldest first.

    Returns:
        The window, open since the last closure reopened; ``None`` if the closures show
        none.
    """
    if len(closures) < 2:
        return None
    last, before = closures[-1], closures[-2]
    if not (last.long and before.long):
        return None  # a bucket refilling, however alike the counts: a quota window closes
    quota = min(last.served, before.served)
    if quota < 2 or abs(last.served - before.served) > max(1, 0.03 * quota):
        return None
    # A bucket (with or without bans) serves `burst + rate x length`: the same count
    # after segments of clearly different lengths is a quota if even the least rate the
    # bucket can have (what the last segment served over it and the pause before it)
    # would have served three more in the longer one; or if the rate a bucket could have
    # and still serve the same count (one request over the difference in length) would
    # refill less than a fifth of the count in a segment: a burst of it is then safe.
    pause = before.reopened - before.closed
    shorter, longer = sorted((last.length, before.length))
    spread = longer - shorter
    least_rate = (last.served - 1) / (pause + last.length) if pause + last.length > 0 else 0.0
    if least_rate * spread < 3 and (spread <= 0 or longer / spread > 0.2 * quota):
        return None
    first = Window(quota, (_earliest(before), before.reopened))
    return first.opens(_earliest(last), last.reopened)


def _earliest(closure: Closure) -> float:
    """The earliest the closure can have reopened."""
    if closure.told:
        return closure.reopened
    return max(closure.earliest, closure.closed)


def probe_at(
    now: float,
    since: float,
    bracket: tuple[float, float] | None = None,
    failures: int = 0,
    accept: float = 0.0,
) -> float:
    """When to send the next single probe while the server throttles without saying for
    how long.

    Without an idea of when it opens, probes go :data:`PROBE_FIRST` after the closure
    began, then each as long after the last as the closure has lasted so far (the step
    doubles: a bucket refills in well under a second, a window may stay closed for
    minutes), never more than :data:`PROBE_MAX` apart. When the last openings suggest
    one within ``bracket = (lo, hi]``, probes halve what is left of it and, after two
    refusals, go at ``hi``: an opening costs at most two refused requests and is found
    within a quarter of its uncertainty; a bracket narrower than ``accept`` seconds is
    not worth a refusal, and the probe goes at ``hi``. Past ``hi`` the guess was wrong,
    and probes double from ``hi`` as from the start of a closure.

    Args:
        now: the present (the closure began, or a probe was refused).
        since: when the closure began.
        bracket: where the opening is expected, if anywhere.
        failures: probes refused inside the bracket so far.
        accept: seconds of lateness not worth a refused probe.

    Returns:
        The time of the next probe.
    """
    if bracket is not None:
        lo, hi = bracket
        if now < hi:
            start = max(lo, now)
            if failures >= 2 or hi - start < max(4 * PROBE_FIRST, accept):
                return hi
            return start + (hi - start) / 2
        since = max(since, hi)
    return now + min(PROBE_MAX, max(PROBE_FIRST, now - since))


def sliding_bound(starts: Sequence[float], start: float, quota: int) -> float | None:
    """The longest a sliding window of ``quota`` can be, now that a request started at
    ``start`` was served: a log that long would still have held the ``quota`` requests
    served before it. ``None`` while fewer are known.

    Args:
        starts: start times of served requests, oldest first (``start`` among them or not).
        start: the served request's start.
        quota: the window's quota.
    """
    before = 0
    for t in reversed(starts):
        if t < start:
            before += 1
            if before == quota:
                return start - t
    return None


def served_rate(starts: Sequence[float], now: float, span: float) -> float | None:
    """Requests served per second over the last ``span`` seconds, or ``None`` when the
    record does not cover a real interval (a first burst is not a rate).

    Args:
        starts: start times of served requests, oldest first.
        now: the present.
        span: the interval (seconds).
    """
    if not starts or now - starts[0] < span:
        return None
    count = sum(1 for t in starts if t > now - span)
    return count / span
