"""The terminal display: a progress bar with rate and throttling, plain lines otherwise."""

from __future__ import annotations

from io import StringIO

from aura_async.cli.console import Display
from aura_async.report import (
    BytesReceived,
    FileDone,
    FileFailed,
    FrameReport,
    PlanReady,
    Retrying,
    Throttled,
)


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
        assert "2/3" in text
        assert "limit 12.5 req/s" in text
        assert "1 throttled, waited 2s" in text
        assert "failed b.jpg: not found (HTTP 404)" in text
        assert "downloaded a.jpg" not in text  # per-file lines only with --debug on a terminal

    def test_nothing_to_do_draws_no_bar(self) -> None:
        """A run with nothing to fetch prints its lines and no progress bar."""
        display, out = terminal()
        display.handle(PlanReady("myframe", 0, 5, 0))
        display.stop()
        assert "0 to download, 5 already present" in out.getvalue()
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
        display.handle(Retrying("a.jpg", "response cut short"))
        assert "throttled (HTTP 503); waiting 1.5s, rate now 10.0/s" in out.getvalue()
        assert "retrying a.jpg: response cut short" in out.getvalue()
