"""A read-only connection to a state database that leaves the folder as it found it.

Reading a state (``--status``, ``--dry-run``) must write nothing, yet a read-only SQLite
connection to a WAL database creates the ``-wal`` and ``-shm`` files beside it and may not
delete them. :func:`connect_reading` opens such a connection (a
:class:`sqlite3.Connection` of its own factory) that, when closed, removes the files it
created (:func:`_tidy_after_reading`), and leaves alone any that were there before it or
that another process still uses.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["connect_reading"]


def connect_reading(path: Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """A read-only connection to the database at ``path`` that, closed, removes the
    ``-wal`` and ``-shm`` files it created (:func:`_tidy_after_reading`), so that reading a
    state (``--status``, ``--dry-run``) leaves the folder as it was.

    Raises:
        sqlite3.Error: it cannot be opened.
    """
    fresh = not any(path.with_name(path.name + end).exists() for end in ("-wal", "-shm"))
    conn = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=ro",
        uri=True,
        check_same_thread=check_same_thread,
        factory=_Reader,
    )
    conn.tidy = path if fresh else None
    return conn


class _Reader(sqlite3.Connection):
    """A connection that tidies after itself when closed (see :func:`connect_reading`)."""

    tidy: Path | None = None

    def close(self) -> None:
        super().close()
        path, self.tidy = self.tidy, None
        if path is not None:
            _tidy_after_reading(path)


def _tidy_after_reading(path: Path) -> None:
    """Remove the ``-wal`` and ``-shm`` files a read-only connection left beside the
    database at ``path`` (it may not delete them); call it only when there were none
    before that connection opened.

    A writable connection that reads once and is the last to close lets SQLite remove
    them, as every run's close does. Only an empty ``-wal`` is tidied, a reader's: one
    that holds another run's commits (it wrote while this one read, and could not remove
    its files) is left for that run's next open to fold in, as it would have been. While
    another process has the database open nothing is removed: its files are kept for it.
    Where the database or its folder is read-only nothing is done.
    """
    wal = path.with_name(path.name + "-wal")
    try:
        if wal.stat().st_size:
            return
    except FileNotFoundError:
        return
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True)
    except sqlite3.Error:
        return
    try:
        conn.execute("PRAGMA user_version").fetchone()
    except sqlite3.Error:
        pass  # a damaged file: its companions stay, as before
    finally:
        conn.close()
