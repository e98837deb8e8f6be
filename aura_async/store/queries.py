"""The state's queries about what a listing offers, page by page: a mixin of
:class:`~aura_async.store.state.State`, kept apart because a nightly run of a big frame lives
on them.

Nothing here loads every record: :meth:`ListingQueries.lookup` and
:meth:`ListingQueries.md5_places` read one page's files through the indexes, and a listing
is noted in a temporary table so that the files it no longer offers are found by one query
(:meth:`ListingQueries.end_listing`).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Collection, Iterable
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path

from aura_async.models import Key
from aura_async.store.records import FileRecord, Indexed
from aura_async.store.schema import SELECT, record_from_row

__all__ = ["ListingQueries"]

_BY_ID = "SELECT asset_id, kind, relpath, md5_hash, removed_at, size FROM files WHERE asset_id IN"
_BY_MD5 = "SELECT md5_hash, relpath FROM files WHERE kind = 'photo' AND md5_hash IN"
_CHUNK = 500
"""Values bound to one ``IN (...)`` query (SQLite allows 32,766 since 3.32; old builds 999)."""
_ROWS = 2000
"""Rows of ``files`` one statement of :meth:`ListingQueries.end_listing` changes at most: a
statement inside a transaction keeps a journal of the pages it changes, in memory here (one
``UPDATE`` of 100,000 rows held 28 MB); in ranges of rowids it holds one range's."""
_IN_LISTING = "listed_key(asset_id, kind) IN temp.listed"
_LISTED = f"rowid > ? AND rowid <= ? AND {_IN_LISTING}"
_UNLISTED = f"rowid > ? AND rowid <= ? AND removed_at IS NULL AND NOT {_IN_LISTING}"
_UNLISTED_FILES = f"SELECT relpath FROM files WHERE {_UNLISTED}"  # noqa: S608 - constants
_MARK_REMOVED = f"UPDATE files SET removed_at = ? WHERE {_UNLISTED}"  # noqa: S608
_MARK_SEEN = f"UPDATE files SET last_seen = ?, removed_at = NULL WHERE {_LISTED}"  # noqa: S608


def listed_key(asset_id: str, kind: str) -> int:
    """A file's key as a signed 64-bit integer, for the listing's temporary table."""
    digest = hashlib.blake2b(f"{asset_id}\0{kind}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class ListingQueries:
    """The listing's queries of a :class:`~aura_async.store.state.State` (thread-safe like
    it: each takes the state's lock)."""

    _conn: sqlite3.Connection
    path: Path

    def _locked(self, action: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def lookup(self, keys: Collection[Key]) -> dict[Key, Indexed]:
        """:meth:`index` of just these files (one page of a listing), through the primary
        key: a nightly run never loads every record.

        Raises:
            StorageError: the database cannot be read.
        """
        ids = sorted({asset_id for asset_id, _ in keys})
        found: dict[Key, Indexed] = {}
        with self._locked("read files"):
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                query = f"{_BY_ID} ({marks})"
                rows = self._conn.execute(query, chunk)
                for a, k, relpath, md5, gone, size in rows:
                    found[(a, k)] = Indexed(relpath, md5, gone, size)
        return found

    def md5_places(self, md5s: Collection[str]) -> dict[str, list[str]]:
        """Where the state recorded photos of these md5s (for ``--dedupe``), by md5.

        Raises:
            StorageError: the database cannot be read.
        """
        wanted = sorted(set(md5s))
        places: dict[str, list[str]] = {}
        with self._locked("read files"):
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                query = f"{_BY_MD5} ({marks}) ORDER BY relpath"
                rows = self._conn.execute(query, chunk)
                for md5, relpath in rows:
                    places.setdefault(md5, []).append(relpath)
        return places

    def begin_listing(self) -> None:
        """Start noting what a listing offers (:meth:`note_listed`), in a temporary table of
        this connection: 8 bytes a file (a hash of its key), nothing kept in Python, nothing
        written to the database file. A hash shared by two keys (2**-64) would at worst keep
        one unlisted file from being marked removed.

        Raises:
            StorageError: the table cannot be made.
        """
        with self._locked("begin the listing"):
            self._conn.create_function("listed_key", 2, listed_key, deterministic=True)
            self._conn.execute("CREATE TEMP TABLE IF NOT EXISTS listed (key INTEGER PRIMARY KEY)")
            self._conn.execute("DELETE FROM temp.listed")

    def note_listed(self, keys: Iterable[Key]) -> None:
        """Note files a page of the listing offers (selected or not).

        Raises:
            StorageError: the write failed.
        """
        with self._locked("note the listing"):
            self._conn.executemany(
                "INSERT OR IGNORE INTO temp.listed VALUES (?)",
                [(listed_key(asset_id, str(kind)),) for asset_id, kind in keys],
            )

    def end_listing(self, now: float, *, complete: bool) -> list[str]:
        """Record the listing noted since :meth:`begin_listing`: every file it offered was
        seen ``now`` (and is no longer removed); after a ``complete`` listing, every file it
        did not offer is marked removed: a set difference in SQL, one range of rows at a
        time (see :data:`_ROWS`), in one transaction.

        Returns:
            The relpaths of the files newly marked removed, in order.

        Raises:
            StorageError: the write failed; nothing was written.
        """
        gone: list[str] = []
        conn = self._conn
        with self._locked("record the listing"), self._transaction():
            last = conn.execute("SELECT max(rowid) FROM files").fetchone()[0] or 0
            for low in range(0, last, _ROWS):
                rows = (low, low + _ROWS)
                if complete:
                    gone += [relpath for (relpath,) in conn.execute(_UNLISTED_FILES, rows)]
                    conn.execute(_MARK_REMOVED, (now, *rows))
                conn.execute(_MARK_SEEN, (now, *rows))
        return sorted(gone)

    def mark_seen(self, keys: Iterable[Key], now: float) -> int:
        """Note that a listing offered these files: set ``last_seen``, clear ``removed_at``.

        Keys without a row (files not fetched yet) are ignored.

        Args:
            keys: ``(asset_id, kind)`` of every file the listing offers.
            now: unix time of the listing.

        Returns:
            How many rows were updated.

        Raises:
            StorageError: the write failed; nothing was written.
        """
        params = [(now, asset_id, str(kind)) for asset_id, kind in keys]
        with self._locked("mark files seen"), self._transaction():
            cursor = self._conn.executemany(
                "UPDATE files SET last_seen = ?, removed_at = NULL WHERE asset_id = ? AND kind = ?",
                params,
            )
            return cursor.rowcount

    def mark_removed(self, listed: Collection[Key], now: float) -> list[FileRecord]:
        """Set ``removed_at`` on every file a complete listing no longer offers.

        Call it only after a full listing (every page, hidden assets included when the run
        includes them, every kind even if excluded by flags): anything not in ``listed``
        is marked. Rows are never deleted and files are never touched.

        Args:
            listed: ``(asset_id, kind)`` of every file the listing offers.
            now: unix time of the listing.

        Returns:
            The records newly marked removed (with ``removed_at`` set to ``now``).

        Raises:
            StorageError: the write failed; nothing was written.
        """
        wanted = {(asset_id, str(kind)) for asset_id, kind in listed}
        with self._locked("mark files removed"), self._transaction():
            rows = self._conn.execute(f"{SELECT} WHERE removed_at IS NULL").fetchall()
            gone = [rec for rec in map(record_from_row, rows) if rec.key not in wanted]
            self._conn.executemany(
                "UPDATE files SET removed_at = ? WHERE asset_id = ? AND kind = ?",
                [(now, rec.asset_id, rec.kind.value) for rec in gone],
            )
        return [replace(rec, removed_at=now) for rec in gone]
