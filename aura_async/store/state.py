"""The SQLite state of one download folder: what is there, what the frame lists, past runs.

The database lives at ``<file_path>/.aura-async/state.db`` (a hidden folder, so
:func:`aura_async.store.scan.scan_relpaths` never counts it as a photo). It is opened in WAL
mode, so a reader (``sqlite3 state.db``) never blocks a run, and its schema version is
SQLite's ``PRAGMA user_version``, raised one step at a time by
:data:`aura_async.store.schema.MIGRATIONS`.

Conventions:

- Every timestamp written by this module (``first_seen``, ``last_seen``, ``downloaded_at``,
  ``removed_at``, a run's ``started``/``finished``) is a unix time in seconds (a float, UTC by
  definition), passed in by the caller from its injected wall clock: this module never reads
  a clock. In the ``sqlite3`` shell, ``datetime(last_seen, 'unixepoch')`` shows it.
  ``taken_at`` is the API's string, kept verbatim.
- ``relpath`` is POSIX (``/``-separated) and relative to the download folder.
- Nothing is ever deleted: a file the frame no longer lists gets ``removed_at`` set.
- :class:`State` is synchronous and thread-safe (one connection, one lock), so the event
  loop calls it through ``asyncio.to_thread``; :class:`aura_async.store.writer.StateWriter`
  batches the per-file writes (on the loop while the folder's disk is quick).
- Every ``sqlite3`` error (locked, corrupt, disk full, not a database) and every ``OSError``
  is raised as :class:`~aura_async.exceptions.StorageError` naming the database, here only.
- The values it reads and writes are in :mod:`aura_async.store.records`.

How a run uses it (each call in a worker thread; ``now`` from an injected wall clock)::

    with State.open(frame.file_path) as state:
        state.begin_listing()                       # the listing's notes (store/queries.py)
        # for each page: what earlier runs recorded of its files, through the indexes
        known = state.lookup(keys)                  # also listed_before, md5_places, ...
        state.note_listed(keys)                     # ... and note_placed
        state.record(adopted)                       # files found on disk by name
        ...                                         # downloads: StateWriter(state).add(...)
        removed = state.end_listing(now, complete=True)  # a whole listing: removals
        state.add_run(frame.name, started, now, report.to_json())

A run remembers the rate the server allowed with ``state.set_value(...)`` (runs and
key/values: store/history.py; the read-only connection of ``--status`` and ``--dry-run``:
store/reading.py).
"""

from __future__ import annotations

import contextlib
import sqlite3
import stat
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aura_async.exceptions import StateUnreadable, StorageError
from aura_async.models import Key, MediaKind
from aura_async.store.history import RunHistory
from aura_async.store.queries import ListingQueries
from aura_async.store.reading import connect_reading
from aura_async.store.records import FileRecord, Indexed
from aura_async.store.schema import (
    COLUMNS,
    CURRENT_VERSION,
    MIGRATIONS,
    SELECT,
    UPSERT,
    record_from_row,
)

__all__ = [
    "CAUGHT_UP",
    "LAST_COMPLETE_LISTING",
    "STATE_DIR",
    "STATE_FILE",
    "State",
    "check_not_cut_short",
    "state_path",
]

STATE_DIR = ".aura-async"
"""The hidden folder, inside the download folder, that holds the state."""
STATE_FILE = "state.db"
"""The database file inside :data:`STATE_DIR`."""
CAUGHT_UP = "caught_up"
"""Key/value entry: ``True`` when the last complete listing left nothing to fetch and no run
since left a file unfetched (``--until-found`` may then stop listing early)."""
LAST_COMPLETE_LISTING = "last_complete_listing"
"""Key/value entry: unix time of the last run that read the frame's whole listing."""


def state_path(folder: Path) -> Path:
    """Where the state database of a download folder lives."""
    return folder / STATE_DIR / STATE_FILE


def _index(conn: sqlite3.Connection) -> dict[Key, Indexed]:
    rows = conn.execute("SELECT asset_id, kind, relpath, md5_hash, removed_at, size FROM files")
    return {(a, k): Indexed(relpath, md5, gone, size) for a, k, relpath, md5, gone, size in rows}


def _row(record: FileRecord) -> tuple[Any, ...]:
    return tuple(record.kind.value if c == "kind" else getattr(record, c) for c in COLUMNS)


class State(ListingQueries, RunHistory):
    """The open state database of one download folder.

    Use :meth:`open` (not the constructor) and close it, preferably with ``with``::

        with State.open(frame.file_path) as state:
            record = state.get(asset.id, MediaKind.PHOTO)

    Every method is blocking and thread-safe; from async code call them with
    ``asyncio.to_thread`` or batch per-file writes with :class:`StateWriter`.

    Attributes:
        path: the database file.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._conn = connection
        self._lock = threading.Lock()
        self.path = path

    @classmethod
    def open(cls, folder: Path, *, timeout: float = 5.0) -> Self:
        """Open (creating and migrating as needed) the state of a download folder.

        Args:
            folder: the frame's download folder; ``.aura-async/`` is created inside it.
            timeout: seconds to wait for another connection's write lock.

        Returns:
            The open state, at schema :data:`CURRENT_VERSION`.

        Raises:
            StorageError: the folder cannot be created, or the file is locked, corrupt, not
                a database, or from a newer version of aura-async.
        """
        path = state_path(folder)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {path.parent}: {exc.strerror or exc}") from exc
        check_not_cut_short(path)
        return cls._set_up(path, timeout=timeout)

    @classmethod
    def in_memory(cls) -> Self:
        """An empty state that lives in memory only, gone once closed: where ``--dry-run``
        notes a listing in a folder without a state of its own.

        Raises:
            StorageError: the database cannot be made.
        """
        return cls._set_up(Path(":memory:"))

    @classmethod
    def _set_up(cls, path: Path, *, timeout: float = 5.0) -> Self:
        """Connect to the database at ``path`` (``:memory:`` for none) and bring it to the
        current schema; the connection is closed if that fails."""
        try:
            # Autocommit mode: every write below opens its own explicit transaction.
            conn = sqlite3.connect(
                path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise _storage_error(path, "open", exc) from exc
        state = cls(conn, path)
        try:
            state._setup()
        except BaseException:
            conn.close()
            raise
        return state

    @classmethod
    def open_readonly(cls, folder: Path) -> Self | None:
        """The folder's state, read-only (``--dry-run``: nothing is created or migrated).

        Returns:
            The state, or ``None`` when there is none yet, or only one of another schema.

        Raises:
            StateUnreadable: the file is there but damaged (every page is read once, as
                :meth:`check` does, so damage shows here rather than half-way through).
            StorageError: it cannot be read for another reason.
        """
        path = state_path(folder)
        if not path.is_file():
            return None
        try:
            conn = connect_reading(path, check_same_thread=False)
        except sqlite3.Error as exc:
            raise _storage_error(path, "open", exc) from exc
        state = cls(conn, path)
        try:
            with state._locked("open"):
                if conn.execute("PRAGMA user_version").fetchone()[0] == CURRENT_VERSION:
                    state._quick_check()
                    return state
        except BaseException:
            state.close()
            raise
        state.close()
        return None

    def _setup(self) -> None:
        with self._locked("open"):
            self._conn.execute("PRAGMA journal_mode = WAL")
            # FULL: each commit's WAL frames are fsynced, so a record never outlives a power
            # cut that its file survived the other way round (NORMAL lost every commit since
            # the last checkpoint: issue 13). Commits are batched, so this costs a few
            # fsyncs per thousand files.
            self._conn.execute("PRAGMA synchronous = FULL")
            # The listing's temporary table (store/queries.py) in memory: 8 bytes a file,
            # where a temporary file cost 15 us a row.
            self._conn.execute("PRAGMA temp_store = MEMORY")
            if self._schema_version() == CURRENT_VERSION:
                return
            # One transaction for every step: a database is either migrated or untouched,
            # and a second process opening it meanwhile waits, then finds it up to date.
            with self._transaction():
                for version in range(self._schema_version(), CURRENT_VERSION):
                    for statement in MIGRATIONS[version]:
                        self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA user_version = {version + 1:d}")

    def _schema_version(self) -> int:
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version > CURRENT_VERSION:
            raise StateUnreadable(
                f"state database {self.path}: schema {version} is newer than this "
                f"aura-async understands ({CURRENT_VERSION}); upgrade aura-async"
            )
        return version

    def check(self) -> None:
        """Read every page once and take the write lock once: a database cut short or
        locked by a process that is gone fails here, not half-way through a run.

        Raises:
            StateUnreadable: the database is damaged or stays locked.
            StorageError: it cannot be read for another reason.
        """
        with self._locked("check"):
            self._quick_check()
            with self._transaction():
                pass

    def _quick_check(self) -> None:
        result = self._conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        if result != "ok":  # its report may span lines; the warning says it in one
            reason = " ".join(str(result).split())
            raise StateUnreadable(f"state database {self.path}: damaged: {reason}")

    @property
    def version(self) -> int:
        """The schema version of the open database (always :data:`CURRENT_VERSION`).

        Raises:
            StorageError: the database cannot be read.
        """
        with self._locked("read the schema version"):
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        """Close the database; further calls raise :class:`StorageError`.

        Raises:
            StorageError: the final checkpoint failed.
        """
        with self._locked("close"):
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def _locked(self, action: str) -> Iterator[None]:
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise _storage_error(self.path, action, exc) from exc
            except ValueError as exc:  # a row with a kind this code does not know
                raise _storage_error(self.path, action, exc) from exc

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, so a busy database fails (or waits) here
        # rather than half-way through a batch.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException:
            # Also after a failed COMMIT (disk full), so the connection stays usable; a
            # failing ROLLBACK must not hide the error that caused it.
            if self._conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            raise

    # -- files ---------------------------------------------------------------------------

    def get(self, asset_id: str, kind: MediaKind | str) -> FileRecord | None:
        """The record of one file.

        Args:
            asset_id: the asset's id.
            kind: ``MediaKind`` or its value.

        Returns:
            The record, or ``None`` when the state has never recorded that file.

        Raises:
            StorageError: the database cannot be read.
        """
        with self._locked("read a file"):
            row = self._conn.execute(
                f"{SELECT} WHERE asset_id = ? AND kind = ?", (asset_id, str(kind))
            ).fetchone()
            return None if row is None else record_from_row(row)

    def files(self, *, include_removed: bool = True) -> dict[Key, FileRecord]:
        """Every recorded file, by key, in ``relpath`` order.

        Args:
            include_removed: also return files the frame no longer lists.

        Returns:
            ``{(asset_id, kind): record}``.

        Raises:
            StorageError: the database cannot be read.
        """
        where = "" if include_removed else " WHERE removed_at IS NULL"
        with self._locked("read files"):
            rows = self._conn.execute(f"{SELECT}{where} ORDER BY relpath").fetchall()
            return {rec.key: rec for rec in map(record_from_row, rows)}

    def index(self) -> dict[Key, Indexed]:
        """Where each recorded file is, its md5 and whether it left the frame: what a run
        plans with, read quickly (a 20,000-file folder every night).

        Raises:
            StorageError: the database cannot be read.
        """
        with self._locked("read files"):
            return _index(self._conn)

    def record(self, records: Iterable[FileRecord]) -> int:
        """Insert or replace records, all in one transaction.

        An existing row takes every field of the new record except ``first_seen``, which
        keeps the earlier of the two, and ``last_seen``, which keeps the later.

        Args:
            records: the records to write.

        Returns:
            How many records were written.

        Raises:
            StorageError: the write failed (locked, disk full, ...); nothing was written.
        """
        rows = [_row(rec) for rec in records]
        if not rows:
            return 0
        with self._locked("record files"), self._transaction():
            self._conn.executemany(UPSERT, rows)
        return len(rows)


_HEADER_SIZE = 100
"""Bytes of the header every SQLite database file begins with."""


def check_not_cut_short(path: Path) -> None:
    """A database file cut shorter than SQLite's header is damaged: SQLite itself takes it
    for an empty database, and would start over in it without a word (a power cut on a
    file system that lied about syncing can leave one byte). An empty file is SQLite's own
    (its pages may still be in the -wal); longer damage SQLite finds itself.

    Raises:
        StateUnreadable: the file is cut short.
    """
    try:
        info = path.stat()
    except OSError:
        return  # none yet, or SQLite says what is wrong when it opens it
    if stat.S_ISREG(info.st_mode) and 0 < info.st_size < _HEADER_SIZE:
        raise StateUnreadable(
            f"state database {path}: damaged: cut to {info.st_size} of its bytes, shorter "
            "than a database's header"
        )


_UNREADABLE = frozenset({5, 6, 11, 26})
"""SQLite's primary result codes of a database a run cannot use but may replace: BUSY and
LOCKED (after the timeout, with the folder's own lock held: a holder that is gone),
CORRUPT, NOTADB."""


def _storage_error(path: Path, action: str, exc: Exception) -> StorageError:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    code = getattr(exc, "sqlite_errorcode", None)
    unreadable = isinstance(code, int) and code & 0xFF in _UNREADABLE
    kind = StateUnreadable if unreadable else StorageError
    return kind(f"state database {path}: cannot {action}: {reason}")
