"""What the run infers of the server's throttle policy: pure functions, table-tested with
times given as numbers (no clock)."""

from __future__ import annotations

import math

import pytest

from aura_async.pacing.policy import (
    FIRST_CUT,
    PROBE_FIRST,
    PROBE_MAX,
    SAFETY,
    Closure,
    Segment,
    Window,
    bucket_rate,
    infer_window,
    is_long_wait,
    probe_at,
    served_rate,
    sliding_bound,
)


class TestLongWait:
    @pytest.mark.parametrize(
        ("wait", "rate", "long"),
        [
            (1.0, 20.0, False),  # a bucket's refill, rounded up to a whole second
            (0.05, 20.0, False),
            (1.5, 25.0, False),
            (2.0, 20.0, True),  # a ban, or a window closed for two seconds
            (3.0, 1.0, False),  # at 1/s, three seconds is three refills
            (5.0, 1.0, True),
            (240.0, 0.2, True),
            (2.0, math.inf, True),
        ],
    )
    def test_table(self, wait: float, rate: float, long: bool) -> None:
        """A wait is long when it is longer than 1.5 s and four spacings at the rate."""
        assert is_long_wait(wait, rate) is long


def seg(
    start: float,
    pause: float,
    served: int,
    length: float,
    rate: float = 25.0,
    first: float | None = None,
) -> Segment:
    return Segment(start, pause, served, length, rate, first)


class TestBucketRate:
    def test_one_overrun_is_a_guess(self) -> None:
        """With one overrun and nothing else, the rate is cut to 80 % of what overran."""
        estimate = bucket_rate([seg(0, math.inf, 20, 0.8)], 25.0)
        assert estimate.known is None
        assert estimate.lower == 0.0  # a full bucket at the start: no lower bound
        assert estimate.rate == pytest.approx(FIRST_CUT * 25.0)
        assert estimate.upper == pytest.approx(25.0)

    def test_two_full_segments_give_the_rate(self) -> None:
        """A bucket of 20/s and burst 5 served 25 in 1 s from full, then 205 in 10 s after a
        pause that refilled it: the slope is the rate."""
        segments = [seg(0, math.inf, 25, 1.0), seg(2, 1.0, 205, 10.0, rate=20.5)]
        estimate = bucket_rate(segments, 20.5)
        assert estimate.known == pytest.approx(20.0)
        assert estimate.rate == pytest.approx(SAFETY * 20.0)

    def test_segments_too_alike_give_no_slope(self) -> None:
        """Whole-number counts over short segments cannot tell the rate from the burst."""
        segments = [seg(0, math.inf, 11, 0.44), seg(2, 1.0, 16, 0.8, rate=20.0)]
        estimate = bucket_rate(segments, 20.0)
        assert estimate.known is None
        assert estimate.rate == pytest.approx(FIRST_CUT * 20.0)

    def test_a_short_pause_bounds_the_rate_from_both_sides(self) -> None:
        """After a pause too short to fill the bucket, a long segment served about the
        bucket's rate times the pause and the segment: both bounds meet."""
        # 10/s bucket: 0.05 s pause, then at 11/s it held out 5 s, serving 50
        estimate = bucket_rate([seg(0, 0.05, 50, 5.0, rate=11.0)], 11.0)
        assert estimate.known == pytest.approx(10.0, rel=0.05)
        assert estimate.rate < 10.0
        assert estimate.lower == pytest.approx(49 / 5.05)  # one token left, the rest refilled
        assert estimate.upper == pytest.approx(50 / 5.0)

    def test_never_above_the_rate_that_overran(self) -> None:
        """Whatever the segments say, the new rate is below the one that just overran."""
        segments = [seg(0, math.inf, 25, 1.0), seg(2, 1.0, 205, 10.0)]
        assert bucket_rate(segments, 15.0).rate <= 15.0

    def test_a_rising_pace_is_bounded_by_where_it_overran_not_its_average(self) -> None:
        """A bucket of 20/s, burst 1: the pace climbed from 12 to 19.5 and overran after
        177 served in 10.5 s. A full bucket lost its tokens while the pace was below 20:
        16.9/s on average is no bound on the bucket (taken for one, the pace was cut to
        16 again and again), the 19.5 it overran at is."""
        rising = [seg(0.6, 0.255, 177, 10.482, rate=19.51, first=12.0)]
        estimate = bucket_rate(rising, 19.51)
        assert estimate.upper == pytest.approx(19.51)
        assert estimate.lower == pytest.approx(176 / (0.255 + 10.482))
        assert estimate.known is None
        steady = [seg(0.6, 0.255, 177, 10.482, rate=19.51)]  # spaced at 19.51 throughout
        assert bucket_rate(steady, 19.51).upper == pytest.approx(177 / 10.482)

    def test_a_slope_needs_a_pace_above_it_throughout(self) -> None:
        """Two segments from a full bucket give the rate as a slope only if the pace never
        went below it: tokens lost to a full bucket would bend the line."""
        above = [seg(0, math.inf, 25, 1.0), seg(2, 1.0, 205, 10.0, rate=21.0, first=20.5)]
        assert bucket_rate(above, 21.0).known == pytest.approx(20.0)
        below = [seg(0, math.inf, 25, 1.0), seg(2, 1.0, 205, 10.0, rate=21.0, first=15.0)]
        assert bucket_rate(below, 21.0).known is None

    def test_a_rate_served_safely_halves_the_gap(self) -> None:
        """A guess goes halfway from a rate served without throttling to the one that
        overran, when that is faster than 80 % of it."""
        estimate = bucket_rate([seg(0, 1.0, 30, 1.5, rate=20.0)], 20.0, safe=19.0)
        assert estimate.rate == pytest.approx(19.5)


def closure(
    opened: float,
    served: int,
    closed: float,
    reopened: float,
    *,
    told: bool = True,
    earliest: float = -math.inf,
    long: bool = True,
) -> Closure:
    return Closure(opened, served, closed, reopened, told, earliest, long, closed - opened)


class TestInferWindow:
    def test_one_closure_is_not_a_window(self) -> None:
        """A single closure could be a ban."""
        assert infer_window([closure(0, 100, 4, 10)]) is None

    def test_same_quota_at_two_paces_is_a_window(self) -> None:
        """100 served in 4 s, then 100 in 5 s at a slower pace: a quota of 100 per 10 s."""
        window = infer_window([closure(0, 100, 4, 10), closure(10, 100, 15, 20)])
        assert window is not None
        assert window.quota == 100
        assert window.opened == (20, 20)
        assert window.length == (10, 10)

    @pytest.mark.parametrize(
        ("first", "second"),
        [
            (100, 80),  # a bucket refilling serves more the longer it goes: not equal
            (7, 7),  # a small burst after each ban: alike, but a bucket would do that too
        ],
    )
    def test_not_a_window(self, first: int, second: int) -> None:
        """Different counts, or counts a bucket's burst explains, are no window."""
        closures = [closure(0, first, 0.28, 2.28), closure(2.28, second, 2.69, 6.69)]
        assert infer_window(closures) is None

    def test_short_waits_are_no_window(self) -> None:
        """A bucket held just below its rate overruns after alike counts, each time with a
        wait of a refill: no window, however alike."""
        closures = [
            closure(0, 344, 17.5, 18.5, long=False),
            closure(18.5, 344, 30.0, 31.0, long=False),
        ]
        assert infer_window(closures) is None

    def test_without_retry_after_the_openings_are_brackets(self) -> None:
        """Found by probes, an opening lies between the last refused and the first served."""
        closures = [
            closure(0, 100, 4, 12, told=False, earliest=8),
            closure(12, 100, 17, 21, told=False, earliest=19),
        ]
        window = infer_window(closures)
        assert window is not None
        assert window.opened == (19, 21)
        assert window.length == (19 - 12, 21 - 8)


class TestWindowBrackets:
    def test_each_opening_narrows_the_length(self) -> None:
        """Openings found at (lo, hi] narrow the length bracket as they come."""
        window = Window(50, (19.0, 21.0), (7.0, 13.0))
        assert window.next_opening() == (26.0, 34.0)
        window = window.opens(29.5, 30.0)
        assert window.opened == (29.5, 30.0)
        assert window.length == (8.5, 11.0)

    def test_no_length_no_next_opening(self) -> None:
        """Until two openings were seen, the next is unknown."""
        assert Window(50, (10.0, 10.0)).next_opening() is None


class TestProbeAt:
    @pytest.mark.parametrize(
        ("now", "since", "expected"),
        [
            (10.0, 10.0, 10.0 + PROBE_FIRST),  # first probe: a bucket refills by then
            (10.5, 10.0, 11.0),  # the step doubles: as long as the closure lasted
            (14.0, 10.0, 18.0),
            (1000.0, 10.0, 1000.0 + PROBE_MAX),  # never further apart than PROBE_MAX
        ],
    )
    def test_without_a_bracket_steps_double(
        self, now: float, since: float, expected: float
    ) -> None:
        """Without a guess, probes double their step from the closure's start."""
        assert probe_at(now, since) == pytest.approx(expected)

    @pytest.mark.parametrize(
        ("now", "failures", "expected"),
        [
            (10.0, 0, 30.0),  # halfway through (20, 40]
            (30.0, 1, 35.0),  # refused at 30: halfway through what is left
            (35.0, 2, 40.0),  # two refusals: go at the latest
            (39.5, 1, 40.0),  # little left: the latest
        ],
    )
    def test_a_bracket_is_bisected(self, now: float, failures: int, expected: float) -> None:
        """With the opening expected in (20, 40], probes halve it, at most two refusals."""
        assert probe_at(now, 10.0, (20.0, 40.0), failures) == pytest.approx(expected)

    def test_a_narrow_bracket_is_not_worth_a_refusal(self) -> None:
        """Within the accepted lateness, the probe goes at the latest moment."""
        assert probe_at(10.0, 10.0, (20.0, 21.0), 0, accept=1.5) == 21.0

    def test_past_the_bracket_probes_double_from_its_end(self) -> None:
        """A wrong guess: from its end, probes double as after any closure."""
        assert probe_at(41.0, 10.0, (20.0, 40.0), 3) == pytest.approx(42.0)


class TestServedRate:
    @pytest.mark.parametrize(
        ("starts", "now", "span", "expected"),
        [
            ([], 10.0, 5.0, None),
            ([9.0, 9.5, 9.9], 10.0, 5.0, None),  # a first burst is not a rate
            ([float(t) for t in range(0, 11)], 10.0, 5.0, 1.0),  # 1/s: 5 in (5, 10]
            ([0.0] + [9.0 + i / 100 for i in range(100)], 10.0, 5.0, 20.0),
        ],
    )
    def test_table(
        self, starts: list[float], now: float, span: float, expected: float | None
    ) -> None:
        """Served per second over a real interval, or nothing."""
        assert served_rate(starts, now, span) == expected


class TestSlidingBound:
    @pytest.mark.parametrize(
        ("starts", "start", "quota", "expected"),
        [
            ([0.0, 1.0, 2.0, 3.0], 3.5, 2, 1.5),  # the 2nd served before 3.5 started at 2
            ([0.0, 1.0, 2.0, 3.0], 3.0, 3, 3.0),  # the request itself is not counted
            ([0.0, 1.0, 2.0, 3.0], 3.5, 5, None),  # fewer than the quota known
            ([], 1.0, 1, None),
        ],
    )
    def test_table(
        self, starts: list[float], start: float, quota: int, expected: float | None
    ) -> None:
        """Served at ``start``: the log is no longer than the way back to the request a
        quota before it."""
        assert sliding_bound(starts, start, quota) == expected
