"""The state database's schema: its migrations, and the SQL that reads and writes a file's row.

``PRAGMA user_version`` is the schema version; :data:`MIGRATIONS` raises it one step at a
time (:class:`aura_async.store.state.State` runs them when it opens a folder's database).
"""

from __future__ import annotations

from typing import Any

from aura_async.models import MediaKind
from aura_async.store.records import FileRecord

__all__ = ["COLUMNS", "CURRENT_VERSION", "MIGRATIONS", "SELECT", "UPSERT", "record_from_row"]

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 0 -> 1: files and the key/value table.
    (
        """CREATE TABLE files (
            asset_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('photo', 'video', 'live')),
            relpath TEXT NOT NULL,
            size INTEGER,
            md5_hash TEXT,
            taken_at TEXT,
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL,
            downloaded_at REAL,
            PRIMARY KEY (asset_id, kind)
        )""",
        "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    # 1 -> 2: local checksum, uploader, removal from the frame; look-ups by md5 and path;
    # one row per run.
    (
        "ALTER TABLE files ADD COLUMN sha256 TEXT",
        "ALTER TABLE files ADD COLUMN uploader_id TEXT",
        "ALTER TABLE files ADD COLUMN uploader_name TEXT",
        "ALTER TABLE files ADD COLUMN removed_at REAL",
        "CREATE INDEX files_md5_hash ON files (md5_hash)",
        "CREATE INDEX files_relpath ON files (relpath)",
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            frame TEXT NOT NULL,
            started REAL NOT NULL,
            finished REAL NOT NULL,
            summary TEXT NOT NULL
        )""",
    ),
)
"""``MIGRATIONS[n]`` takes a database from schema ``n`` to ``n + 1``; a new file runs them all.
Append to this tuple, never edit an entry: released databases depend on each one."""

CURRENT_VERSION = len(MIGRATIONS)
"""The schema version this code reads and writes."""

COLUMNS = (
    "asset_id",
    "kind",
    "relpath",
    "first_seen",
    "last_seen",
    "size",
    "sha256",
    "md5_hash",
    "taken_at",
    "uploader_id",
    "uploader_name",
    "downloaded_at",
    "removed_at",
)
"""The columns of ``files``, in the order of
:class:`~aura_async.store.records.FileRecord`'s rows."""

SELECT = f"SELECT {', '.join(COLUMNS)} FROM files"  # noqa: S608 - constant column names
UPSERT = (
    f"INSERT INTO files ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "  # noqa: S608
    "ON CONFLICT (asset_id, kind) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[2:] if c not in ("first_seen", "last_seen"))
    + ", first_seen = MIN(files.first_seen, excluded.first_seen)"
    ", last_seen = MAX(files.last_seen, excluded.last_seen)"
)
"""Insert a row, or update it keeping the earlier ``first_seen`` and the later ``last_seen``."""


def record_from_row(row: tuple[Any, ...]) -> FileRecord:
    """A ``files`` row read with :data:`SELECT`, as a :class:`FileRecord`.

    Raises:
        ValueError: the row's kind is not one this version knows.
    """
    values = dict(zip(COLUMNS, row, strict=True))
    values["kind"] = MediaKind(values["kind"])
    return FileRecord(**values)
