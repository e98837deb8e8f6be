"""The terminal display: a progress bar with rate and throttling, plain lines otherwise."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from io import StringIO

from aura_async.cli.console import Display
from aura_async.report import (
    BytesReceived,
    FileDone,
    FileFailed,
    FrameReport,
    LoggedIn,
    Paced,
    PageListed,
    PlanReady,
    Retrying,
    Throttled,
)

from .conftest import PaceClock


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
        assert "1/3" in text  # a failed file is not done
        assert "1 failed" in text
        assert "(limit 12.5/s)" in text
        assert "1 throttled, 3.0 s lost" in text
        assert "failed b.jpg: not found (HTTP 404)" in text
        assert "downloaded a.jpg" not in text  # per-file lines only with --debug on a terminal

    def test_a_narrow_terminal_keeps_counts_and_throttling(self) -> None:
        """80 columns: the bar keeps its file count and times whole; the figures beside it
        leave out bytes and rates before the throttling and the failures."""
        out = StringIO()
        display = Display(out, interactive=True, width=80)
        display.handle(PlanReady("myframe", 168, 0, 0, 25.0))
        for _ in range(120):
            display.handle(FileDone("a.jpg", 2048))
        display.handle(Throttled(429, 2.0, 10.0, lost=6.9))
        display.handle(FileFailed("b.jpg", "not found (HTTP 404)"))
        display.stop()
        bar = [line for line in out.getvalue().splitlines() if "120/168" in line]
        assert bar, out.getvalue()
        assert "1 throttled, 6.9 s lost" in bar[-1]
        assert "1 failed" in bar[-1]
        assert "…" not in bar[-1]

    def test_the_figures_fit_the_width_they_are_given(self) -> None:
        """Given little room, the least telling figures go first; given none to spare,
        the throttling and failures stay."""
        clocks = Clocks()
        display = Display(StringIO(), interactive=False, clock=clocks.clock, now=clocks.now)
        display.handle(PlanReady("myframe", 10, 0, 0, 20.0))
        clocks.seconds += 2.0
        display.handle(BytesReceived(4096))
        display.handle(Throttled(429, 2.0, 12.5, lost=3.0))
        full = display.progress_info()
        assert full.startswith("4.0 KiB 2.0 KiB/s · ")
        assert "files/s (limit 12.5/s) · 1 throttled, 3.0 s lost" in full
        assert display.progress_info(len(full)) == full
        shorter = display.progress_info(len(full) - 1)
        assert shorter.startswith("0.0 files/s (limit 12.5/s)")
        assert display.progress_info(5) == "1 throttled, 3.0 s lost"

    def test_nothing_to_do_draws_no_bar(self) -> None:
        """A run with nothing to fetch prints its lines and no progress bar."""
        display, out = terminal()
        display.handle(PlanReady("myframe", 0, 5, 0))
        display.stop()
        assert "0 files to download, 5 already here" in out.getvalue()
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
        assert "8 throttled, 3.0 s lost" in display.progress_info()

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

    def test_a_wait_the_run_gives_up_on_promises_no_resumption(self) -> None:
        """A wait past --max-wait stops the run: no "resuming at" line before the error."""
        out = StringIO()
        display = Display(out, interactive=False)
        display.handle(Throttled(429, 3600.0, 20.0, gives_up=True))
        assert "resuming" not in out.getvalue()

    def test_the_first_short_wait_gets_one_line_the_others_are_counted(self) -> None:
        """A cron log says once that Aura began throttling, and at what pace the run goes
        on; later short waits (a bucket's one-second Retry-After) are only counted."""
        out = StringIO()
        display = Display(out, interactive=False)
        display.handle(Throttled(429, 1.0, 20.0))
        display.handle(Throttled(429, 1.0, 20.0, new=False))  # in flight: same episode
        display.handle(Throttled(503, 1.0, 16.0))
        display.handle(Throttled(429, 2.0, math.inf))
        lines = out.getvalue().splitlines()
        assert len(lines) == 1
        assert lines[0].endswith(
            "INFO    Aura is throttling (HTTP 429): downloads slow to the pace it allows; "
            "the summary counts throttled requests (--debug shows each)"
        )
        assert "4 throttled" in display.progress_info()

    def test_a_long_wait_first_is_the_one_line(self) -> None:
        """A first throttle that is a long wait says when the run resumes, and no second
        line says Aura is throttling; under --debug each throttle has its debug line
        instead of the once-only one."""
        out = StringIO()
        display = Display(out, interactive=False)
        display.handle(Throttled(429, 240.0, 20.0))
        display.handle(Throttled(429, 1.0, 20.0))
        assert len(out.getvalue().splitlines()) == 1
        assert "Aura asked to wait 4 min" in out.getvalue()
        debug_out = StringIO()
        debug = Display(debug_out, interactive=False, debug=True)
        debug.handle(Throttled(429, 1.0, 20.0, "a.jpg"))
        assert "Aura is throttling" not in debug_out.getvalue()
        assert "throttled (HTTP 429) on a.jpg; every worker waits 1.0s" in debug_out.getvalue()


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

    def test_a_frame_stopped_by_an_error_ends_with_an_error_line(self) -> None:
        """A summary of a frame that an error stopped (nothing failed, nothing fetched) is
        an ERROR line, shown even with --quiet."""
        out = StringIO()
        display = Display(out, interactive=False, quiet=True)
        display.summary(FrameReport("f", error="cannot create /ro/f: Permission denied"))
        display.summary(FrameReport("g", exit_code=6))
        lines = out.getvalue().splitlines()
        assert [line.split()[2] for line in lines] == ["ERROR", "ERROR"]
        assert "f: 0 downloaded, 0 skipped, 0 failed" in lines[0]

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
        """--debug adds throttling (with the file) and retry detail, logins and listing pages."""
        out = StringIO()
        display = Display(out, interactive=False, debug=True)
        display.handle(LoggedIn())
        display.handle(PageListed("f-1", 1, 500, 500, more=True))
        display.handle(Throttled(503, 1.5, 10.0, "a.jpg"))
        display.handle(Retrying("a.jpg", "response cut short"))
        display.handle(LoggedIn(relogin=True))
        text = out.getvalue()
        assert "DEBUG   logged in\n" in text
        assert "listing of frame f-1: page 1, 500 assets (500 so far, more to come)" in text
        assert "throttled (HTTP 503) on a.jpg; every worker waits 1.5s, rate now 10.0/s" in text
        assert "retrying a.jpg: response cut short" in text
        assert "token refused (HTTP 401): logged in again" in text

    def test_throttle_lines_do_not_repeat_within_a_second(self) -> None:
        """Workers throttled at once give one --debug line; the next says how many it left out."""
        out = StringIO()
        clock = PaceClock()
        display = Display(out, interactive=False, debug=True, clock=clock)
        for relpath in ("a.jpg", "b.jpg", "c.jpg"):
            display.handle(Throttled(429, 2.0, 12.5, relpath))
        clock.now += Display.THROTTLE_LINES_EVERY
        display.handle(Throttled(429, 2.0, 6.2, "d.jpg"))
        clock.now += Display.THROTTLE_LINES_EVERY
        display.handle(Throttled(429, 9.0, float("inf"), "e.jpg"))
        lines = [line for line in out.getvalue().splitlines() if "throttled" in line]
        assert len(lines) == 3
        assert "on a.jpg" in lines[0]
        assert lines[1].endswith(
            "on d.jpg; every worker waits 2.0s, rate now 6.2/s (2 more "
            "throttled since the last such line)"
        )
        assert lines[2].endswith("on e.jpg; every worker waits 9.0s, rate now a quota window")

    def test_an_early_try_is_said_as_one(self) -> None:
        """A Retry-After: 1 tried early: one worker goes after the wait, not every one."""
        out = StringIO()
        display = Display(out, interactive=False, debug=True)
        display.handle(Throttled(429, 0.25, 19.6, "a.jpg", early=True))
        line = out.getvalue().rstrip()
        assert line.endswith(
            "on a.jpg; one worker tries again in 0.2s, the others wait for its answer, "
            "rate now 19.6/s"
        )

    def test_a_resumed_file_says_so(self) -> None:
        """A resumed download's line gives the whole file's size and where it resumed."""
        out = StringIO()
        display = Display(out, interactive=False)
        display.handle(FileDone("v.mov", 1024, resumed_from=3072))
        assert out.getvalue().endswith("downloaded v.mov (4.0 KiB, resumed after 3.0 KiB)\n")
