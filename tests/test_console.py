"""The terminal display: a progress bar with rate and throttling, plain lines otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

from aura_async.cli.console import Display
from aura_async.report import (
    BytesReceived,
    FileDone,
    FileFailed,
    FrameReport,
    Paced,
    PlanReady,
    Retrying,
    Throttled,
)


class Clocks:
    """A monotonic clock and a local time that move only when the test says so."""

    def __init__(self) -> None:
        self.seconds = 100.0
        self.start = datetime(2026, 11, 27, 3, 8, 0, tzinfo=UTC)

    def clock(self) -> float:
        return self.seconds

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds - 100.0)


def terminal() -> tuple[Display, StringIO]:
    out = StringIO()
    return Display(out, interactive=True, width=140), out


class TestInteractive:
    def test_progress_bar_shows_files_bytes_rate_and_throttling(self) -> None:
        """On a terminal: a bar with files done, bytes, the rate limit and throttle waits."""
        display, out = terminal()
        display.handle(PlanReady("myframe", 3, 1, 0, 25.0))
        display.handle(BytesReceived(2048))
        display.handle(FileDone("a.jpg", 2048))
        display.handle(Throttled(429, 2.0, 12.5, lost=3.0))
        display.handle(FileFailed("b.jpg", "not found (HTTP 404)"))
        display.stop()
        text = out.getvalue()
        assert "myframe" in text
        assert "2/3" in text
        assert "(limit 12.5/s)" in text
        assert "1 throttled, 3.0 s lost to waits" in text
        assert "failed b.jpg: not found (HTTP 404)" in text
        assert "downloaded a.jpg" not in text  # per-file lines only with --debug on a terminal

    def test_nothing_to_do_draws_no_bar(self) -> None:
        """A run with nothing to fetch prints its lines and no progress bar."""
        display, out = terminal()
        display.handle(PlanReady("myframe", 0, 5, 0))
        display.stop()
        assert "0 to download, 5 already present" in out.getvalue()
        assert "0/0" not in out.getvalue()


class TestHonestProgress:
    def test_served_rate_is_a_moving_window_apart_from_the_limit(self) -> None:
        """Files served per second count the last ten seconds only, and the limit shown is
        the latest pace, not the one the frame started with."""
        clocks = Clocks()
        display = Display(StringIO(), interactive=False, clock=clocks.clock, now=clocks.now)
        display.handle(PlanReady("myframe", 100, 0, 0, 6.0))
        for _ in range(50):  # 50 files over the first 5 s
            clocks.seconds += 0.1
            display.handle(FileDone("a.jpg", 1))
        assert "10.0 files/s (limit 6.0/s)" in display.progress_info()
        clocks.seconds += 10.5  # then nothing for ten seconds
        display.handle(Paced(9.5))
        assert "0.0 files/s (limit 9.5/s)" in display.progress_info()

    def test_time_lost_is_wall_clock_not_summed_over_workers(self) -> None:
        """Eight workers told of one 3 s pause show 3 s lost, not 24."""
        display = Display(StringIO(), interactive=False)
        display.handle(PlanReady("myframe", 10, 0, 0))
        for worker in range(8):
            display.handle(Throttled(429, 3.0, 20.0, lost=0.0, new=worker == 0))
        display.handle(Paced(20.0, lost=3.0))
        assert "8 throttled, 3.0 s lost to waits" in display.progress_info()

    def test_a_long_wait_gets_one_line(self) -> None:
        """A wait of minutes is said once, with when the run resumes."""
        clocks = Clocks()
        out = StringIO()
        display = Display(out, interactive=False, clock=clocks.clock, now=clocks.now)
        display.handle(Throttled(429, 240.0, 20.0))
        display.handle(Throttled(429, 239.9, 20.0, new=False))  # in flight: same wait
        display.handle(Throttled(429, 45.0, 20.0, told=False))
        lines = out.getvalue().splitlines()
        assert len(lines) == 2
        assert lines[0].endswith("Aura asked to wait 4 min; resuming at 03:12")
        assert "without saying for how long; trying again in 45 s, at 03:08:45" in lines[1]

    def test_short_waits_get_no_line(self) -> None:
        """A bucket's one-second Retry-After is only counted, not announced."""
        out = StringIO()
        display = Display(out, interactive=False)
        display.handle(Throttled(429, 1.0, 20.0))
        assert out.getvalue() == ""


class TestPlain:
    def test_plain_lines_are_timestamped(self) -> None:
        """Without a terminal: timestamped lines, per-file lines included, no bar."""
        out = StringIO()
        display = Display(out, interactive=False)
        display.handle(PlanReady("myframe", 1, 0, 0))
        display.handle(FileDone("a.jpg", 1536))
        display.summary(FrameReport("myframe", downloaded=1, bytes=1536))
        lines = out.getvalue().splitlines()
        assert lines[1].endswith("INFO    downloaded a.jpg (1.5 KiB)")
        assert lines[-1].split(" ", 2)[2].startswith("INFO    myframe: 1 downloaded")

    def test_quiet_shows_only_failures(self) -> None:
        """--quiet hides a good summary and shows a failed one and every error."""
        out = StringIO()
        display = Display(out, interactive=False, quiet=True)
        display.info("hidden")
        display.summary(FrameReport("ok"))
        display.summary(FrameReport("bad", failed=1))
        display.error("shown")
        text = out.getvalue()
        assert "hidden" not in text
        assert "ok:" not in text
        assert "bad: 0 downloaded, 0 skipped, 1 failed" in text
        assert "shown" in text

    def test_debug_lines(self) -> None:
        """--debug adds throttling and retry detail."""
        out = StringIO()
        display = Display(out, interactive=False, debug=True)
        display.handle(Throttled(503, 1.5, 10.0))
        display.handle(Throttled(429, 9.0, float("inf")))
        display.handle(Retrying("a.jpg", "response cut short"))
        assert "throttled (HTTP 503); waiting 1.5s, rate now 10.0/s" in out.getvalue()
        assert "throttled (HTTP 429); waiting 9.0s, rate now a quota window" in out.getvalue()
        assert "retrying a.jpg: response cut short" in out.getvalue()


def test_summary_line_extras() -> None:
    """The one-line summary names every unusual figure."""
    report = FrameReport(
        "f",
        placeholders=2,
        excluded=3,
        missing=1,
        linked=4,
        duplicates=5,
        removed=["x.jpg"],
        interrupted=True,
        bytes=3 * 1024**3,
    )
    line = report.summary_line()
    assert "3.0 GiB" in line
    for part in (
        "2 placeholders",
        "3 excluded",
        "1 missing locally",
        "4 duplicates linked",
        "5 duplicates skipped",
        "1 removed from the frame",
        "interrupted",
    ):
        assert part in line
