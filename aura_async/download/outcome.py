"""How one frame's run ends: the :class:`~aura_async.report.FrameEnded` it tells, once (its
times, why it failed, its exit code), and what it leaves its folder's state for the next run
(whether the folder has caught up with its frame, and when the frame was last listed whole).

:class:`FrameRun` also carries the frame's :class:`~aura_async.report.Recorder`, through
which every event of the run passes on its way into the frame's report.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aura_async.exceptions import AuraError, ExitCode
from aura_async.report import FrameEnded, FrameReport, Recorder
from aura_async.store.state import CAUGHT_UP, LAST_COMPLETE_LISTING

__all__ = ["FrameRun", "caught_up_values"]


class FrameRun:
    """One frame's run under way: its recorder, and its end, told once."""

    def __init__(
        self, emit: Recorder, started: float, *, dry_run: bool, wallclock: Callable[[], float]
    ) -> None:
        self.emit = emit
        self._started = started
        self._dry_run = dry_run
        self._wallclock = wallclock
        self._started_at = wallclock()
        self._ended = False

    def end(self, exc: BaseException | None) -> None:
        """Tell the recorder the frame ended (its times, its exit code, and why if it
        failed); once."""
        if self._ended:
            return
        self._ended = True
        seconds = asyncio.get_running_loop().time() - self._started
        interrupted = isinstance(exc, asyncio.CancelledError)
        error = str(exc) if isinstance(exc, AuraError) else None
        failed = ExitCode.FAILED if self.emit.report.failed else ExitCode.OK
        if interrupted:
            code = ExitCode.INTERRUPTED
        elif isinstance(exc, AuraError):
            code = max(exc.exit_code, failed)
        else:
            code = failed if exc is None else ExitCode.FAILED
        self.emit(
            FrameEnded(
                seconds,
                interrupted=interrupted,
                error=error,
                dry_run=self._dry_run,
                started_at=self._started_at,
                finished_at=self._wallclock(),
                exit_code=code,
            )
        )


def caught_up_values(
    report: FrameReport, caught_up: bool, complete: bool, listed_at: float
) -> dict[str, object]:
    """Whether the folder has caught up with the frame (see ``Downloader._page_planner``), and
    when its last complete listing was: key/values to store."""
    clean = not (
        report.failed
        or report.not_attempted
        or report.not_ready
        or report.interrupted
        or report.error
    )
    values: dict[str, object] = {CAUGHT_UP: clean and (complete or caught_up)}
    if complete:
        values[LAST_COMPLETE_LISTING] = listed_at
    return values
