"""How the CLI shows a run: a rich progress bar on a terminal, plain log lines otherwise.

Part of the CLI layer (only the CLI constructs it); the library reports through events.
rich is imported only for a terminal: plain runs (cron, ``| cat``) start 25 ms sooner.
"""

from __future__ import annotations

import contextlib
import os
import time
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from aura_async.report import (
    BytesReceived,
    DiskWarning,
    Event,
    FileDone,
    FileFailed,
    FrameReport,
    JobsQueued,
    Notice,
    PlanReady,
    Retrying,
    Throttled,
    human_bytes,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

__all__ = ["Display"]


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
        self._bytes = 0
        self._throttled = 0
        self._rate = 0.0
        self._waited = 0.0
        self._started = time.monotonic()
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
        stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S")
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
        failed = report.failed > 0 or report.interrupted or report.not_attempted > 0
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
            self._advance()
        elif isinstance(event, FileFailed):
            if not event.fatal:  # a fatal one is the frame's error, said once by the CLI
                self.warning(f"failed {event.relpath}: {event.reason}")
                self._advance()
        elif isinstance(event, DiskWarning):
            self.warning(event.message)
        elif isinstance(event, Notice):
            self.info(event.message)
        elif isinstance(event, Retrying):
            self.debug(f"retrying {event.relpath}: {event.reason}")
        elif isinstance(event, Throttled):
            self._throttled += 1
            self._rate = event.rate
            self._waited += event.wait
            self.debug(
                f"throttled (HTTP {event.status}); waiting {event.wait:.1f}s, "
                f"rate now {event.rate:.1f}/s"
            )
            self._refresh()
        elif isinstance(event, JobsQueued):  # downloads begin with the first page
            self._queued(event.frame, event.count)
        elif isinstance(event, PlanReady):
            self.info(
                f"{event.frame}: {event.to_fetch} to download, {event.present} already "
                f"present, {event.placeholders} placeholders skipped"
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

    def _start(self, frame: str, total: int) -> None:
        self._bytes, self._started = 0, time.monotonic()
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
        elapsed = max(time.monotonic() - self._started, 1e-6)
        info = f"{human_bytes(self._bytes)} {human_bytes(int(self._bytes / elapsed))}/s"
        if self._rate != float("inf"):
            info += f" · limit {self._rate:.1f} req/s"
        if self._throttled:
            info += f" · {self._throttled} throttled, waited {self._waited:.0f}s"
        self._progress.update(self._task, info=info)

    def stop(self) -> None:
        """Stop drawing the progress bar (before summaries, or on Ctrl-C)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None
