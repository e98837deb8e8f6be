"""The ``--log-file``: opened for appending, and rotated first once it has grown big.

Part of the CLI layer: the :class:`~aura_async.cli.console.Display` writes every plain line
to the file opened here; a file that cannot be opened is a usage error (exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from aura_async.exceptions import ConfigError

__all__ = ["LOG_KEEP", "LOG_ROTATE_AT", "open_log", "rotate_log"]


LOG_ROTATE_AT = 10 * 1024 * 1024
"""A ``--log-file`` this big when a run starts is rotated first."""
LOG_KEEP = 3
"""Rotated log files kept: ``FILE.1`` (the newest) to ``FILE.3``."""


def open_log(log_file: Path | None) -> TextIO | None:
    """The ``--log-file`` opened for appending (its folder created), rotated first when it
    has grown past :data:`LOG_ROTATE_AT`.

    Raises:
        ConfigError: it cannot be opened.
    """
    if log_file is None:
        return None
    log_file = log_file.expanduser()
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        rotate_log(log_file)
        return log_file.open("a", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot open log file {log_file}: {exc.strerror}") from exc


def rotate_log(path: Path, limit: int = LOG_ROTATE_AT, keep: int = LOG_KEEP) -> bool:
    """``FILE`` becomes ``FILE.1``, ``FILE.1`` becomes ``FILE.2``... (the oldest goes) when
    ``FILE`` holds ``limit`` bytes or more; returns whether it did. A rename that fails
    (another program has the file open, on Windows) leaves the log growing, and the next
    run tries again."""
    try:
        if path.stat().st_size < limit:
            return False
        for n in range(keep - 1, 0, -1):
            older = path.with_name(f"{path.name}.{n}")
            if older.exists():
                older.replace(path.with_name(f"{path.name}.{n + 1}"))
        path.replace(path.with_name(f"{path.name}.1"))
    except OSError:
        return False
    return True
