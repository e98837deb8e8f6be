"""What the command prints on stdout: listings and ``--json`` lines, written so that a
reader going away never stops a download.

Part of the CLI layer: the :class:`~aura_async.cli.console.Display` draws the run on stderr;
this is the other stream, the ``--json`` object of a run in which no frame got started, and
the stamps a ``--count`` or ``--verify`` object gets.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from typing import Any, TextIO

from aura_async.exceptions import ExitCode
from aura_async.report import local_time

__all__ = ["Stdout", "run_object", "silence", "stamped"]


def silence(stream: TextIO) -> None:
    """Point ``stream``'s file descriptor at /dev/null: its reader went away
    (``2>&1 | head``), and the run must go on without a broken-pipe error at every line."""
    with contextlib.suppress(OSError, ValueError):
        fd = stream.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


class Stdout:
    """What the command prints on stdout (listings, ``--json`` lines); a reader that went
    away (``| head``), or a terminal (EIO), never stops a download."""

    def __init__(self) -> None:
        self.json_lines = 0
        """JSON objects printed so far."""

    def write(self, text: str) -> None:
        """Print ``text`` as it is."""
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except OSError:
            # Point stdout at /dev/null so later writes, and Python's own flush at exit,
            # are silent: the files still matter even if nobody reads the listing.
            silence(sys.stdout)

    def json(self, value: dict[str, Any]) -> None:
        """Print one JSON object on a line of its own."""
        self.write(json.dumps(value) + "\n")
        self.json_lines += 1


def run_object(started: float, finished: float, code: int, error: str | None) -> dict[str, Any]:
    """The ``--json`` object of a run in which no frame got started (a config error, a
    refused login): so a ``--json >> log`` still shows which night failed, and why."""
    return {
        "frame": None,
        "started_at": local_time(started),
        "finished_at": local_time(finished),
        "exit_code": int(code),
        "error": error,
    }


def stamped(value: dict[str, Any], started: float, code: ExitCode) -> dict[str, Any]:
    """A ``--count`` or ``--verify`` object with when it ran and its exit code, as every
    ``--json`` object has."""
    return {
        "frame": value.get("frame"),
        "started_at": local_time(started),
        "finished_at": local_time(time.time()),
        "exit_code": int(code),
        **value,
    }
