"""The lines a run says about Aura's throttling: pure text from a
:class:`~aura_async.report.Throttled` event, for :class:`~aura_async.cli.console.Display`
to show (it decides when: the first throttle once, a long wait each time, every one under
``--debug`` at most once a second)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from aura_async.pacing.limiter import human_wait
from aura_async.report import Throttled

__all__ = ["LONG_WAIT_LINE", "debug_line", "first_line", "long_wait_line"]

LONG_WAIT_LINE = 30.0
"""A wait at least this long gets a line of its own ("Aura asked to wait 4 min...")."""


def _pace(event: Throttled) -> str:
    return "a quota window" if math.isinf(event.rate) else f"{event.rate:.1f}/s"


def _status(event: Throttled) -> str:
    return f" (HTTP {event.status})" if event.status else ""


def first_line(event: Throttled) -> str:
    """The run's first throttle, said once (a cron log shows when it began; the summary
    counts every throttled request)."""
    return (
        f"Aura is throttling{_status(event)}: downloads slow to the pace it allows; the "
        "summary counts throttled requests (--debug shows each)"
    )


def long_wait_line(event: Throttled, now: datetime) -> str:
    """A long wait: how long, and when the run goes on (``now``: the local time)."""
    resume = now + timedelta(seconds=event.wait)
    at = resume.strftime("%H:%M" if event.wait >= 120 else "%H:%M:%S")
    if event.told:
        return f"Aura asked to wait {human_wait(event.wait)}; resuming at {at}"
    return (
        f"Aura is refusing downloads without saying for how long; trying again in "
        f"{human_wait(event.wait)}, at {at}"
    )


def debug_line(event: Throttled, unsaid: int) -> str:
    """A ``--debug`` line for a throttled request; ``unsaid``: those throttled since the
    last such line, not said."""
    since = f" ({unsaid} more throttled since the last such line)" if unsaid else ""
    where = f" on {event.relpath}" if event.relpath else ""
    if event.early:
        wait = f"one worker tries again in {event.wait:.1f}s, the others wait for its answer"
    else:
        wait = f"every worker waits {event.wait:.1f}s"
    return f"throttled{_status(event)}{where}; {wait}, rate now {_pace(event)}{since}"
