"""The closures a run has seen: what each segment served, a request served late, the
tentative window of a long closure, and the window two alike closures show."""

from __future__ import annotations

import math

import pytest

from aura_async.pacing.closures import ClosureLog


def serve(log: ClosureLog, starts: list[float]) -> list[bool]:
    return [log.served(start) for start in starts]


class TestCounting:
    def test_requests_count_in_the_segment_they_started_in(self) -> None:
        """Requests started since the last opening count in the current segment."""
        log = ClosureLog()
        assert serve(log, [0.0, 0.1, 0.2]) == [False, False, False]
        assert log.count == 3
        assert log.last is None

    def test_a_request_of_the_segment_before_is_served_late(self) -> None:
        """Served after its closure was noted (in flight when a Retry-After came), a
        request counts in the closure before, not in the new segment."""
        log = ClosureLog()
        serve(log, [0.0, 0.1])
        log.note(0.2, 5.0, told=True, earliest=-math.inf, long=True, length=0.2)
        assert log.served(0.15) is True
        last = log.last
        assert last is not None
        assert last.served == 3
        assert log.count == 0

    def test_a_request_older_than_the_last_closure_counts_nowhere(self) -> None:
        """A request from before the closure before the last one tells nothing more."""
        log = ClosureLog()
        serve(log, [0.0])
        log.note(0.1, 1.0, told=True, earliest=-math.inf, long=False, length=0.1)
        log.note(1.1, 2.0, told=True, earliest=-math.inf, long=False, length=0.1)
        assert log.served(0.05) is False
        assert [c.served for c in log.seen] == [1, 0]


class TestWindows:
    def test_a_long_closure_is_a_tentative_window(self) -> None:
        """Fifty served from 0 s, closed at 2 s until 10 s: perhaps a window of 50 that
        opened at 0 and opens again at 10."""
        log = ClosureLog()
        serve(log, [i * 0.04 for i in range(50)])
        log.note(2.0, 10.0, told=True, earliest=-math.inf, long=True, length=2.0)
        assert log.tentative is not None
        assert log.tentative.quota == 50
        assert log.tentative.opened == (10.0, 10.0)
        assert log.tentative.length == (10.0, 10.0)
        assert log.window() is None  # one closure is no window yet
        assert (log.opened, log.count) == (10.0, 0)

    def test_a_probed_closure_brackets_its_opening(self) -> None:
        """Without Retry-After the opening lies between the last refused probe and the
        one served."""
        log = ClosureLog()
        serve(log, [0.0, 0.5])
        log.note(1.0, 9.0, told=False, earliest=7.0, long=True, length=1.0)
        assert log.tentative is not None
        assert log.tentative.opened == (7.0, 9.0)

    def test_a_short_closure_is_no_window(self) -> None:
        """A bucket refilling (a short closure) leaves no tentative window."""
        log = ClosureLog()
        serve(log, [0.0])
        log.note(0.1, 0.6, told=True, earliest=-math.inf, long=False, length=0.1)
        assert log.tentative is None

    @pytest.mark.parametrize(("second", "window"), [(50, True), (30, False)])
    def test_two_alike_closures_show_a_window(self, second: int, window: bool) -> None:
        """The same count served at two paces, then closed for long: a window; another
        count is none."""
        log = ClosureLog()
        serve(log, [i * 0.04 for i in range(50)])
        log.note(2.0, 10.0, told=True, earliest=-math.inf, long=True, length=2.0)
        serve(log, [10.0 + i * 0.1 for i in range(second)])
        log.note(15.0, 20.0, told=True, earliest=-math.inf, long=True, length=5.0)
        found = log.window()
        assert (found is not None) is window
        if found is not None:
            assert found.quota == 50
            assert found.opened == (20.0, 20.0)
