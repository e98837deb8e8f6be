"""Opening a folder's state database, and moving a damaged one aside.

A state database can be cut short by a power cut on a file system that lied about syncing,
overwritten with garbage, left behind by a newer aura-async, or stay locked by a client that
is gone (NFS). None of that may stop the nightly run or cost a second download: the run
moves the database aside (``state.db.damaged-<time>``, kept for a post-mortem), starts a
new one, and adopts the folder's files by name, as for a folder made by the old script.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

from aura_async.exceptions import StateUnreadable
from aura_async.store.state import State, state_path

__all__ = ["DAMAGED_SUFFIX", "Opened", "open_state"]

DAMAGED_SUFFIX = ".damaged-"
"""Between the database's name and the time it was moved aside."""

_COMPANIONS = ("", "-wal", "-shm", "-journal")


@dataclass(frozen=True)
class Opened:
    """An open state, and what happened to a damaged one before it.

    Attributes:
        state: the open, checked state.
        moved_to: where the damaged database was moved (``None``: it was fine).
        reason: why it was moved.
    """

    state: State
    moved_to: Path | None = None
    reason: str | None = None


def open_state(folder: Path, now: float, *, timeout: float = 5.0) -> Opened:
    """Open and check the folder's state; replace it by a new one if it is unreadable.

    Blocking: call it in a worker thread.

    Args:
        folder: the frame's download folder.
        now: Unix time, for the moved database's name.
        timeout: seconds to wait for another connection's write lock.

    Raises:
        StorageError: the state cannot be opened for another reason (permissions, a full
            disk), or the new one cannot be made.
    """
    try:
        state = State.open(folder, timeout=timeout)
    except StateUnreadable as exc:
        return _replace(folder, now, timeout, str(exc))
    try:
        state.check()
    except StateUnreadable as exc:
        state.close()
        return _replace(folder, now, timeout, str(exc))
    except BaseException:
        state.close()
        raise
    return Opened(state)


def _replace(folder: Path, now: float, timeout: float, reason: str) -> Opened:
    path = state_path(folder)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    moved = path.with_name(f"{path.name}{DAMAGED_SUFFIX}{stamp}")
    copy = 1
    while moved.exists():  # never over an earlier damaged copy
        copy += 1
        moved = path.with_name(f"{path.name}{DAMAGED_SUFFIX}{stamp}-{copy}")
    for companion in _COMPANIONS:
        source = path.with_name(path.name + companion)
        with contextlib.suppress(FileNotFoundError):
            source.replace(moved.with_name(moved.name + companion))
    return Opened(State.open(folder, timeout=timeout), moved, reason)
