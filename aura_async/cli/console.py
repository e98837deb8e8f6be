"""How the CLI shows a run: a rich progress bar on a terminal, plain log lines otherwise.

Part of the CLI layer (only the CLI constructs it); the library reports through events.
rich is imported only for a terminal: plain runs (cron, ``| cat``) start 25 ms sooner.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TextIO

from aura_async.pacing.limiter import human_wait
from aura_async.report import (
    BytesReceived,
    DiskWarning,
    Event,
    FileDone,
    FileFailed,
    FrameReport,
    Paced,
    PlanReady,
    Retrying,
    Throttled,
    human_bytes,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

__all__ = ["Display"]

SERVED_SPAN = 10.0
"""Seconds over which the progress bar measures the files served per second."""

LONG_WAIT_LINE = 30.0
"""A wait at least this long gets a line of its own ("Aura asked to wait 4 min...")."""


def _silence(stream: TextIO) -> None:
    """Point ``stream``'s file descriptor at /dev/null: its reader went away
    (``2>&1 | head``), and the run must go on without a broken-pipe error at every line."""
    with contextlib.suppress(OSError, ValueError):
        fd = stream.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


def _terminal(stream: TextIO, width: int | None) -> Console:
    """rich's console on ``stream``, except that a reader going away only silences it:
    rich's default exits the program, which would stop a download."""
    from rich.console import Console

    class Terminal(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            _silence(stream)

    return Terminal(file=stream, force_terminal=True, width=width)


class Display:
    """Renders events and log lines for one CLI invocation.

    Args:
        stream: where lines go (stderr).
        interactive: draw a progress bar (``stream`` is a terminal).
        quiet: only warnings, errors and summaries of runs that failed.
        debug: also per-file detail (skips, retries).
        log_file: an open file that receives every plain line too.
        width: the terminal's width for the bar (default: as rich finds it).
        clock: monotonic seconds, for the rate served (tests pass a fake one).
        now: the local time, for log stamps and "resuming at" (tests pass a fake one).
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        interactive: bool,
        quiet: bool = False,
        debug: bool = False,
        log_file: TextIO | None = None,
        width: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now().astimezone(),
    ) -> None:
        self.stream = stream
        self.interactive = interactive and not quiet
        self.quiet = quiet
        self.debug_enabled = debug
        self.log_file = log_file
        self._width = width
        self._console: Console | None = None
        self._gone = False  # the stream's reader went away
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._clock = clock
        self._now = now
        self._bytes = 0
        self._throttled = 0
        self._rate = 0.0
        self._lost = 0.0
        self._done: deque[float] = deque()
        self._started = clock()
        self.secrets: set[str] = set()

    @property
    def console(self) -> Console:
        """The rich console of an interactive display (made on first use)."""
        if self._console is None:
            self._console = _terminal(self.stream, self._width)
        return self._console

    # ------------------------------------------------------------------ log lines
    def redact(self, text: str) -> str:
        """``text`` with every known secret (password, token) replaced by ``***``."""
        for secret in self.secrets:
            if len(secret) >= 4:  # a very short password would mangle every line
                text = text.replace(secret, "***")
        return text

    def _line(self, level: str, message: str, *, show: bool) -> None:
        if not show and self.log_file is None:
            return  # nobody reads this line: skip building it
        message = self.redact(message)
        stamp = self._now().strftime("%Y-%m-%d %H:%M:%S")
        plain = f"{stamp} {level:<7} {message}"
        if self.log_file is not None:
            self.log_file.write(plain + "\n")
            self.log_file.flush()
        if not show:
            return
        if self.interactive:
            style = {"WARNING": "yellow", "ERROR": "bold red"}.get(level, "")
            self.console.print(message, style=style, markup=False, highlight=False)
        elif not self._gone:
            try:
                self.stream.write(plain + "\n")
                self.stream.flush()
            except BrokenPipeError:
                self._gone = True
                _silence(self.stream)

    def debug(self, message: str) -> None:
        """A line shown only with ``--debug``."""
        if self.debug_enabled:
            self._line("DEBUG", message, show=True)

    def info(self, message: str) -> None:
        """A line shown unless ``--quiet``."""
        self._line("INFO", message, show=not self.quiet)

    def detail(self, message: str) -> None:
        """A per-file line: in logs always, on a terminal only with ``--debug``."""
        self._line(
            "INFO", message, show=not self.quiet and (self.debug_enabled or not self.interactive)
        )

    def warning(self, message: str) -> None:
        """A line always shown."""
        self._line("WARNING", message, show=True)

    def error(self, message: str) -> None:
        """A line always shown."""
        self._line("ERROR", message, show=True)

    def summary(self, report: FrameReport) -> None:
        """The last line of a frame: shown unless quiet and all went well."""
        failed = report.failed > 0 or report.interrupted
        self._line(
            "ERROR" if failed else "INFO", report.summary_line(), show=not self.quiet or failed
        )

    # ------------------------------------------------------------------ progress
    def handle(self, event: Event) -> None:
        """The library's progress callback."""
        if isinstance(event, BytesReceived):
            self._bytes += event.count
            self._refresh()
        elif isinstance(event, FileDone):
            self.detail(f"downloaded {event.relpath} ({human_bytes(event.size)})")
            self._done.append(self._clock())
            self._advance()
        elif isinstance(event, FileFailed):
            if not event.fatal:  # a fatal one is the frame's error, said once by the CLI
                self.warning(f"failed {event.relpath}: {event.reason}")
                self._advance()
        elif isinstance(event, DiskWarning):
            self.warning(event.message)
        elif isinstance(event, Retrying):
            self.debug(f"retrying {event.relpath}: {event.reason}")
        elif isinstance(event, Throttled):
            self._throttled += 1
            self._rate = event.rate
            self._lost = event.lost
            pace = "a quota window" if math.isinf(event.rate) else f"{event.rate:.1f}/s"
            self.debug(
                f"throttled (HTTP {event.status}); waiting {event.wait:.1f}s, rate now {pace}"
            )
            if event.new and event.wait >= LONG_WAIT_LINE:
                self._long_wait(event)
            self._refresh()
        elif isinstance(event, Paced):
            self._rate = event.rate
            self._lost = event.lost
            self._refresh()
        elif isinstance(event, PlanReady):
            self.info(
                f"{event.frame}: {event.to_fetch} to download, {event.present} already "
                f"present, {event.placeholders} placeholders skipped"
            )
            self._rate = event.rate
            self._start(event.frame, event.to_fetch)

    def _long_wait(self, event: Throttled) -> None:
        """One line for a long wait: how long, and when the run goes on."""
        resume = self._now() + timedelta(seconds=event.wait)
        at = resume.strftime("%H:%M" if event.wait >= 120 else "%H:%M:%S")
        if event.told:
            self.info(f"Aura asked to wait {human_wait(event.wait)}; resuming at {at}")
        else:
            self.info(
                f"Aura is refusing downloads without saying for how long; trying again in "
                f"{human_wait(event.wait)}, at {at}"
            )

    def served_rate(self) -> float:
        """Files done per second over the last :data:`SERVED_SPAN` seconds (or since the
        frame began, if that is sooner)."""
        now = self._clock()
        while self._done and self._done[0] <= now - SERVED_SPAN:
            self._done.popleft()
        span = min(SERVED_SPAN, now - self._started)
        return len(self._done) / span if span > 0 else 0.0

    def _start(self, frame: str, total: int) -> None:
        self._bytes, self._started = 0, self._clock()
        self._done.clear()
        if not self.interactive or total == 0:
            return
        if self._progress is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self._progress.start()
        self._task = self._progress.add_task(frame, total=total, info="")

    def _advance(self) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)
            self._refresh()

    def _refresh(self) -> None:
        if self._progress is None or self._task is None:
            return
        info = self.progress_info()
        self._progress.update(self._task, info=info)

    def progress_info(self) -> str:
        """The bar's figures: bytes and speed, files served per second over the last ten
        seconds beside the limit requests are spaced at, and the wall-clock time lost to
        Aura's throttling (once, however many downloads waited)."""
        elapsed = max(self._clock() - self._started, 1e-6)
        info = f"{human_bytes(self._bytes)} {human_bytes(int(self._bytes / elapsed))}/s"
        info += f" · {self.served_rate():.1f} files/s"
        if not math.isinf(self._rate):
            info += f" (limit {self._rate:.1f}/s)"
        if self._throttled:
            info += f" · {self._throttled} throttled, {human_wait(self._lost)} lost to waits"
        return info

    def stop(self) -> None:
        """Stop drawing the progress bar (before summaries, or on Ctrl-C)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None
