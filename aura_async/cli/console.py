"""How the CLI shows a run: a rich progress bar on a terminal, plain log lines otherwise.

Part of the CLI layer (only the CLI constructs it); the library reports through events.
rich is imported only for a terminal: plain runs (cron, ``| cat``) start 25 ms sooner.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from aura_async.cli.stdout import silence
from aura_async.cli.throttle_lines import LONG_WAIT_LINE, debug_line, first_line, long_wait_line
from aura_async.pacing.limiter import human_wait
from aura_async.report import (
    BytesReceived,
    DiskWarning,
    Event,
    FileDone,
    FileFailed,
    FrameReport,
    JobsQueued,
    LoggedIn,
    Notice,
    Paced,
    PageListed,
    PlanReady,
    Retrying,
    Throttled,
    human_bytes,
    plural,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

__all__ = ["Display", "Said"]


class Said(str):
    """A line aura-async wrote whole, with no value in it that comes from a secret, the
    server or an exception (a config path may be in it): shown as it is, not redacted. A
    password that is an ordinary word ("wrong") would otherwise turn "wrong email or
    password" into "*** email or password". Anything made from it (an f-string, ``+``)
    is a plain ``str`` again, and redacted."""

    __slots__ = ()


SERVED_SPAN = 10.0
"""Seconds over which the progress bar measures the files served per second."""


def _visible(parts: list[str]) -> int:
    """Characters the figures take on the terminal (markup not counted)."""
    from rich.text import Text

    return Text.from_markup(" · ".join(parts)).cell_len


def _terminal(stream: TextIO, width: int | None) -> Console:
    """rich's console on ``stream``, except that a reader going away only silences it:
    rich's default exits the program, which would stop a download. A terminal that went
    away (EIO: a job left running after its terminal closed) is treated the same."""
    from rich.console import Console

    class Terminal(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            silence(stream)

        def _check_buffer(self) -> None:  # where rich writes, handling only BrokenPipeError
            try:
                super()._check_buffer()
            except OSError:
                self.on_broken_pipe()

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
        clock: monotonic seconds, for the bar's speed, the rate served and how often
            throttle lines repeat (tests pass a fake one).
        now: the local time, for log stamps and "resuming at" (tests pass a fake one).
    """

    THROTTLE_LINES_EVERY = 1.0
    """Seconds between two ``--debug`` lines about throttling; the ones between are
    counted in the next."""

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
        self._failed = 0
        self._rate = 0.0
        self._lost = 0.0
        self._done: deque[float] = deque()
        self._started = clock()
        self._throttle_line_at: float | None = None
        self._unsaid_throttles = 0
        self._throttle_said = False
        self.secrets: set[str] = set()
        self.last_error: str | None = None
        """The last error line shown (redacted): the ``error`` of a run's JSON object."""

    @property
    def console(self) -> Console:
        """The rich console of an interactive display (made on first use)."""
        if self._console is None:
            self._console = _terminal(self.stream, self._width)
        return self._console

    # ------------------------------------------------------------------ log lines
    def redact(self, text: str) -> str:
        """``text`` with every known secret (password, token) replaced by ``***``
        (:class:`Said` text as it is)."""
        if type(text) is Said:
            return str(text)
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
            except OSError:  # the reader went away (| head), or the terminal did (SIGHUP: EIO)
                self._gone = True
                silence(self.stream)

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

    def log_only(self, level: str, message: str) -> None:
        """A line for the ``--log-file`` only (stderr has it already, in another form)."""
        self._line(level, message, show=False)

    def warning(self, message: str) -> None:
        """A line always shown."""
        self._line("WARNING", message, show=True)

    def error(self, message: str) -> None:
        """A line always shown."""
        self.last_error = self.redact(message)
        self._line("ERROR", message, show=True)

    def summary(self, report: FrameReport) -> None:
        """The last line of a frame: an error when the frame did not end well (files failed
        or not attempted, interrupted, or stopped by an error), shown unless quiet and all
        went well."""
        failed = (
            report.failed > 0
            or report.interrupted
            or report.not_attempted > 0
            or report.error is not None
            or bool(report.exit_code)
        )
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
            size = human_bytes(event.size + event.resumed_from)
            if event.resumed_from:
                size += f", resumed after {human_bytes(event.resumed_from)}"
            self.detail(f"downloaded {event.relpath} ({size})")
            self._done.append(self._clock())
            self._advance()
        elif isinstance(event, FileFailed):
            if not event.fatal:  # a fatal one is the frame's error, said once by the CLI
                self.warning(f"failed {event.relpath}: {event.reason}")
                self._failed += 1  # not done: the bar stops short of its total
                self._refresh()
        elif isinstance(event, DiskWarning):
            self.warning(event.message)
        elif isinstance(event, Notice):
            self.info(event.message)
        elif isinstance(event, Retrying):
            self.debug(f"retrying {event.relpath}: {event.reason}")
        elif isinstance(event, Throttled):
            self._throttled += 1
            self._rate = event.rate
            self._lost = event.lost
            self._throttle_line(event)
            if event.new and not event.gives_up:
                if event.wait >= LONG_WAIT_LINE:
                    self.info(long_wait_line(event, self._now()))
                elif not self._throttle_said and not self.debug_enabled:
                    self.info(first_line(event))
                self._throttle_said = True
            self._refresh()
        elif isinstance(event, Paced):
            self._rate = event.rate
            self._lost = event.lost
            self._refresh()
        elif isinstance(event, LoggedIn):
            self.debug(
                "token refused (HTTP 401): logged in again" if event.relogin else "logged in"
            )
        elif isinstance(event, PageListed):
            more = ", more to come" if event.more else ", the last"
            self.debug(
                f"listing of frame {event.frame_id}: page {event.page}, "
                f"{plural(event.assets, 'asset')} ({event.total} so far{more})"
            )
        elif isinstance(event, JobsQueued):  # downloads begin with the first page
            self._queued(event.frame, event.count)
        elif isinstance(event, PlanReady) and not event.cut_short:
            self.info(
                f"{event.frame}: {plural(event.to_fetch, 'file')} to download, "
                f"{event.present} already here, {plural(event.placeholders, 'placeholder')} "
                "skipped"
            )
            self._rate = event.rate
            if self._task is None:
                self._start(event.frame, event.to_fetch)
            elif self._progress is not None:
                self._progress.update(self._task, total=event.to_fetch)

    def _queued(self, frame: str, count: int) -> None:
        if self._task is None:
            self._start(frame, count)
        elif self._progress is not None:
            total = self._progress.tasks[self._task].total or 0
            self._progress.update(self._task, total=total + count)

    def _throttle_line(self, event: Throttled) -> None:
        """A ``--debug`` line for a throttled request, at most one a second: every worker
        meets the same throttle at once."""
        if not self.debug_enabled:
            return
        now = self._clock()
        last = self._throttle_line_at
        if last is not None and now - last < self.THROTTLE_LINES_EVERY:
            self._unsaid_throttles += 1
            return
        self.debug(debug_line(event, self._unsaid_throttles))
        self._throttle_line_at, self._unsaid_throttles = now, 0

    def served_rate(self) -> float:
        """Files done per second over the last :data:`SERVED_SPAN` seconds (or since the
        frame began, if that is sooner)."""
        now = self._clock()
        while self._done and self._done[0] <= now - SERVED_SPAN:
            self._done.popleft()
        span = min(SERVED_SPAN, now - self._started)
        return len(self._done) / span if span > 0 else 0.0

    def _start(self, frame: str, total: int) -> None:
        self._bytes, self._failed, self._started = 0, 0, self._clock()
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
                BarColumn(bar_width=20),
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
        task = self._progress.tasks[self._task]
        # beside the figures: the frame's name, a bar of 20, the count and three times
        others = len(task.description) + 2 * len(str(int(task.total or 0))) + 50
        self._progress.update(self._task, info=self.progress_info(self.console.width - others))

    def progress_info(self, width: int | None = None) -> str:
        """The bar's figures: bytes and speed, files served per second over the last ten
        seconds beside the limit requests are spaced at, the wall-clock time lost to
        Aura's throttling (once, however many downloads waited), and failures.

        Args:
            width: characters the figures may take; the least telling ones (bytes, then
                the rates) are left out to fit, never the failures or the throttling.
        """
        elapsed = max(self._clock() - self._started, 1e-6)
        served = f"{self.served_rate():.1f} files/s"
        if not math.isinf(self._rate):
            served += f" (limit {self._rate:.1f}/s)"
        optional = [
            f"{human_bytes(self._bytes)} {human_bytes(int(self._bytes / elapsed))}/s",
            served,
        ]
        kept = []
        if self._throttled:
            kept.append(f"{self._throttled} throttled, {human_wait(self._lost)} lost")
        if self._failed:
            kept.append(f"[red]{self._failed} failed[/]")
        while optional and width is not None and _visible(optional + kept) > width:
            optional.pop(0)
        return " · ".join(optional + kept)

    def stop(self) -> None:
        """Stop drawing the progress bar (before summaries, or on Ctrl-C)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None
