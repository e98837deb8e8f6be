"""``--status``: what a download folder's state says, read without writing or locking.

The state database is opened read-only (a run may be writing it: WAL lets both be), and
the lock is only looked at (:func:`~aura_async.store.lock.lock_holder`). What the state
does not record is said to be missing, not guessed: runs recorded before exit codes were
kept get one derived from their summary (and say so), and the last complete listing is
the time the state keeps (``last_complete_listing``), else from the runs that record
``listing_complete``; without either, the files' own ``last_seen`` tell the oldest listing
every recorded file was seen in.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from aura_async.exceptions import ExitCode, StorageError
from aura_async.store.lock import lock_holder
from aura_async.store.reading import connect_reading
from aura_async.store.records import RunRecord
from aura_async.store.schema import CURRENT_VERSION
from aura_async.store.state import CAUGHT_UP, LAST_COMPLETE_LISTING, check_not_cut_short, state_path

__all__ = ["FolderStatus", "read_status", "run_exit_code"]

RUNS_SINCE = 2
"""The schema version that added the ``runs`` table."""


@dataclass(frozen=True)
class FolderStatus:
    """One frame's folder as its state describes it.

    Attributes:
        folder: the download folder.
        has_state: the folder has a state database (it was downloaded into).
        last_run: the newest run recorded for the frame (any frame's, if none is).
        complete_listing: unix time of the newest complete listing, when recorded.
        complete_listing_recorded: the state records complete listings (states and runs
            of older versions do not).
        caught_up: the folder has caught up with its frame (a nightly ``--until-found``
            may stop listing early); ``None`` when the state does not say.
        seen_since: the oldest ``last_seen`` of the files still listed: every one of
            them was in a listing at or after this time.
        files: files recorded.
        removed: of those, files the frame no longer lists (the files stay).
        missing: relpaths of recorded files not on disk.
        lock_holder: who holds the folder's lock (``pid 1234 on host``), or ``None``.
    """

    folder: Path
    has_state: bool
    last_run: RunRecord | None = None
    complete_listing: float | None = None
    complete_listing_recorded: bool = False
    caught_up: bool | None = None
    seen_since: float | None = None
    files: int = 0
    removed: int = 0
    missing: tuple[str, ...] = ()
    lock_holder: str | None = None


def run_exit_code(summary: Mapping[str, Any]) -> tuple[int | None, bool]:
    """A recorded run's exit code, and whether it was recorded (not derived).

    Runs recorded before exit codes were kept get the code their summary implies:
    interrupted 130, failed files 1, nothing wrong 0; a run stopped by an error does not
    say which (``None``).
    """
    code = summary.get("exit_code")
    if isinstance(code, int):
        return code, True
    if summary.get("interrupted"):
        return int(ExitCode.INTERRUPTED), False
    if summary.get("error"):
        return None, False
    return int(ExitCode.FAILED if summary.get("failed") else ExitCode.OK), False


def read_status(folder: Path, frame: str) -> FolderStatus:
    """Read what the state of ``folder`` says of ``frame``'s runs and files (blocking:
    it stats every recorded file).

    Raises:
        StorageError: the state cannot be read, or is of a newer aura-async.
    """
    path = state_path(folder)
    holder = lock_holder(folder)
    if not path.is_file():
        return FolderStatus(folder, has_state=False, lock_holder=holder)
    check_not_cut_short(path)
    try:
        conn = connect_reading(path)
    except sqlite3.Error as exc:
        raise StorageError(f"state database {path}: cannot open: {exc}") from exc
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > CURRENT_VERSION:
            raise StorageError(
                f"state database {path}: schema {version} is newer than this aura-async "
                f"understands ({CURRENT_VERSION}); upgrade aura-async"
            )
        runs = _runs(conn, frame) if version >= RUNS_SINCE else []
        files = _files(conn, version)
        values = _values(conn, (LAST_COMPLETE_LISTING, CAUGHT_UP))
    except sqlite3.Error as exc:
        raise StorageError(f"state database {path}: cannot read: {exc}") from exc
    finally:
        conn.close()
    complete = [run for run in runs if "listing_complete" in run.summary]
    last_complete = next((run for run in complete if _listed_whole(run)), None)
    listed_at = values.get(LAST_COMPLETE_LISTING)
    if not isinstance(listed_at, int | float):
        listed_at = last_complete.finished if last_complete else None
    caught_up = values.get(CAUGHT_UP)
    listed = [last_seen for _, last_seen, removed_at in files if removed_at is None]
    return FolderStatus(
        folder,
        has_state=True,
        last_run=runs[0] if runs else None,
        complete_listing=listed_at,
        complete_listing_recorded=bool(complete) or LAST_COMPLETE_LISTING in values,
        caught_up=caught_up if isinstance(caught_up, bool) else None,
        seen_since=min(listed) if listed else None,
        files=len(files),
        removed=sum(removed_at is not None for _, _, removed_at in files),
        missing=tuple(
            rel for rel, _, _ in files if not folder.joinpath(*PurePosixPath(rel).parts).exists()
        ),
        lock_holder=holder,
    )


def _runs(conn: sqlite3.Connection, frame: str) -> list[RunRecord]:
    """The frame's runs, newest first; every run if none is the frame's (a renamed
    section)."""
    sql = "SELECT id, frame, started, finished, summary FROM runs"
    rows = conn.execute(f"{sql} WHERE frame = ? ORDER BY id DESC", (frame,)).fetchall()
    if not rows:
        rows = conn.execute(f"{sql} ORDER BY id DESC").fetchall()
    runs = []
    for run_id, name, started, finished, text in rows:
        try:
            summary = json.loads(text)
        except ValueError:
            summary = {}
        runs.append(RunRecord(run_id, name, started, finished, summary))
    return runs


def _listed_whole(run: RunRecord) -> bool:
    """A run whose summary says it read every page (and got as far as reading any)."""
    summary = run.summary
    return summary.get("listing_complete") is True and (
        bool(summary.get("listed")) or not (summary.get("interrupted") or summary.get("error"))
    )


def _values(conn: sqlite3.Connection, keys: tuple[str, ...]) -> dict[str, Any]:
    """The kv values stored under ``keys`` (those present), decoded."""
    marks = ", ".join("?" * len(keys))
    rows = conn.execute(f"SELECT key, value FROM kv WHERE key IN ({marks})", keys)  # noqa: S608
    values = {}
    for key, text in rows:
        with contextlib.suppress(ValueError):
            values[key] = json.loads(text)
    return values


def _files(conn: sqlite3.Connection, version: int) -> list[tuple[str, float, float | None]]:
    """``(relpath, last_seen, removed_at)`` of every file row (schema 1 had no removals)."""
    removed = "removed_at" if version >= RUNS_SINCE else "NULL"
    return conn.execute(f"SELECT relpath, last_seen, {removed} FROM files").fetchall()  # noqa: S608
