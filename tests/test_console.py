"""The terminal display: a progress bar with rate and throttling, plain lines otherwise."""

from __future__ import annotations

from io import StringIO

from aura_async.cli.console import Display
from aura_async.report import (
    BytesReceived,
    FileDone,
    FileFailed,
    FrameReport,
    LoggedIn,
    PageListed,
    PlanReady,
    Retrying,
    Throttled,
)

from .conftest import PaceClock


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
        display.handle(Throttled(429, 2.0, 12.5))
        display.handle(FileFailed("b.jpg", "not found (HTTP 404)"))
        display.stop()
        text = out.getvalue()
        assert "myframe" in text
        assert "1/3" in text  # a failed file is not done
        assert "1 failed" in text
        assert "limit 12.5 req/s" in text
        assert "1 throttled, waited 2s" in text
        assert "failed b.jpg: not found (HTTP 404)" in text
        assert "downloaded a.jpg" not in text  # per-file lines only with --debug on a terminal

    def test_nothing_to_do_draws_no_bar(self) -> None:
        """A run with nothing to fetch prints its lines and no progress bar."""
        display, out = terminal()
        display.handle(PlanReady("myframe", 0, 5, 0))
        display.stop()
        assert "0 files to download, 5 already here" in out.getvalue()
        assert "0/0" not in out.getvalue()


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
        lines = [line for line in out.getvalue().splitlines() if "throttled" in line]
        assert len(lines) == 2
        assert "on a.jpg" in lines[0]
        assert lines[1].endswith(
            "on d.jpg; every worker waits 2.0s, rate now 6.2/s (2 more "
            "throttled since the last such line)"
        )

    def test_a_resumed_file_says_so(self) -> None:
        """A resumed download's line gives the whole file's size and where it resumed."""
        out = StringIO()
        display = Display(out, interactive=False)
        display.handle(FileDone("v.mov", 1024, resumed_from=3072))
        assert out.getvalue().endswith("downloaded v.mov (4.0 KiB, resumed after 3.0 KiB)\n")
