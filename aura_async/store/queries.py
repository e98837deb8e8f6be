"""The state's queries about what a listing offers, page by page: a mixin of
:class:`~aura_async.store.state.State`, kept apart because a nightly run of a big frame lives
on them.

Nothing here loads every record: :meth:`ListingQueries.lookup` and
:meth:`ListingQueries.md5_places` read one page's files through the indexes, and a listing
is noted in temporary tables of the connection (in memory: ``PRAGMA temp_store``): the
files it offers (12 bytes of a hash a row), so that a file listed twice is planned once;
the md5s of the photos it placed (likewise), so that a later twin is linked to its first
copy; and the rowids of the state's rows it offers, so that the files it no longer offers
are found in SQL alone (:meth:`ListingQueries.end_listing`). A hash shared by two texts
(2**-96 for 12 bytes) would at worst plan a file one run late.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
from collections.abc import Collection, Iterable
from contextlib import AbstractContextManager
from pathlib import Path

from aura_async.models import Key
from aura_async.store.records import Indexed

__all__ = ["ListingQueries"]

_BY_ID = "SELECT asset_id, kind, relpath, md5_hash, removed_at, size FROM files WHERE asset_id IN"
_BY_MD5 = "SELECT md5_hash, relpath FROM files WHERE kind = 'photo' AND md5_hash IN"
_CHUNK = 500
"""Values bound to one ``IN (...)`` query (SQLite allows 32,766 since 3.32; old builds 999)."""
_ROWS = 2000
"""Rows of ``files`` one statement of :meth:`ListingQueries.end_listing` changes at most: a
statement inside a transaction keeps a journal of the pages it changes, in memory here (one
``UPDATE`` of 100,000 rows held 28 MB); in ranges of rowids it holds one range's."""
_SEEN = "EXISTS (SELECT 1 FROM temp.seen WHERE temp.seen.rowid = files.rowid)"
"""A row noted by the listing: one look-up of its rowid (``rowid IN (SELECT rowid FROM
temp.seen)`` took six times as long: SQLite copied the table for each statement)."""
_LISTED = f"rowid > ? AND rowid <= ? AND {_SEEN}"
_UNLISTED = f"rowid > ? AND rowid <= ? AND removed_at IS NULL AND NOT {_SEEN}"
_UNLISTED_FILES = f"SELECT relpath FROM files WHERE {_UNLISTED}"  # noqa: S608 - constants
_MARK_REMOVED = f"UPDATE files SET removed_at = ? WHERE {_UNLISTED}"  # noqa: S608
_MARK_SEEN = f"UPDATE files SET last_seen = ?, removed_at = NULL WHERE {_LISTED}"  # noqa: S608
_MARK_RANGE_SEEN = (
    "UPDATE files SET last_seen = ?, removed_at = NULL WHERE rowid > ? AND rowid <= ?"
)
"""Every row of the range was noted (a nightly run's every range): updated without looking
each up in ``temp.seen``, and none to remove."""
_NOTE_SEEN = (
    "INSERT OR IGNORE INTO temp.seen SELECT files.rowid FROM listed_now CROSS JOIN files "
    "ON files.asset_id = listed_now.column1 AND files.kind = listed_now.column2"
)
_SEEN_LATE = (
    "INSERT OR IGNORE INTO temp.seen SELECT rowid FROM files WHERE rowid > ? "
    "AND listed_key(asset_id, kind) IN (SELECT key FROM temp.listed)"
)
"""Rows recorded since the listing began (files fetched or adopted by this run), whose
keys were noted before they had a row."""
_NOTES = ("listed", "placed")
"""The listing's temporary tables: ``key`` (a text's hash, 8 bytes) and ``tail`` (4 more)."""


if sys.hash_info.width >= 64:

    def _hashed(text: str) -> tuple[int, int]:
        """A text's 12-byte hash as ``(key, tail)``: Python's own hash of it (SipHash, 64
        bits, salted per process, which outlives the temporary tables) and 32 bits of
        another. A fifth of the time of a blake2b digest: a nightly run over 100,000 files
        hashes half a million keys."""
        return hash(text), hash(text + "\0") & 0xFFFF_FFFF

else:  # pragma: no cover - a 32-bit build, whose string hashes are 32 bits

    def _hashed(text: str) -> tuple[int, int]:
        """A text's 12-byte hash as ``(key, tail)``, from a blake2b digest."""
        digest = hashlib.blake2b(text.encode(), digest_size=12).digest()
        return int.from_bytes(digest[:8], "big", signed=True), int.from_bytes(digest[8:], "big")


def _file_text(asset_id: str, kind: str) -> str:
    return f"{asset_id}\0{kind}"


def listed_key(asset_id: str, kind: str) -> int:
    """A file's key as a signed 64-bit integer, for the listing's temporary table."""
    return _hashed(_file_text(asset_id, kind))[0]


class ListingQueries:
    """The listing's queries of a :class:`~aura_async.store.state.State` (thread-safe like
    it: each takes the state's lock)."""

    _conn: sqlite3.Connection
    path: Path
    _listing_from: int | None = None
    """The largest rowid of ``files`` when the listing began (``None``: none)."""

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
        """Start noting a listing (:meth:`note_listed`, :meth:`note_placed`), in temporary
        tables of this connection (a read-only one too): 12 bytes a file, nothing kept in
        Python, nothing written to the database file.

        Raises:
            StorageError: the tables cannot be made.
        """
        with self._locked("begin the listing"):
            self._conn.create_function("listed_key", 2, listed_key, deterministic=True)
            for table in _NOTES:
                self._conn.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {table} "
                    "(key INTEGER PRIMARY KEY, tail INTEGER NOT NULL)"
                )
                self._conn.execute(f"DELETE FROM temp.{table}")  # noqa: S608 - our own names
            self._conn.execute("CREATE TEMP TABLE IF NOT EXISTS seen (rowid INTEGER PRIMARY KEY)")
            self._conn.execute("DELETE FROM temp.seen")
            self._listing_from = self._conn.execute("SELECT max(rowid) FROM files").fetchone()[0]

    def note_listed(self, keys: Iterable[Key]) -> None:
        """Note files a page of the listing offers (selected or not).

        Raises:
            StorageError: the write failed.
        """
        pairs = [(asset_id, str(kind)) for asset_id, kind in keys]
        self._note("listed", (_file_text(asset_id, kind) for asset_id, kind in pairs))
        with self._locked("note the listing"):  # the state's rows of them: their rowids
            for start in range(0, len(pairs), _CHUNK // 2):
                chunk = pairs[start : start + _CHUNK // 2]
                values = ", ".join(["(?, ?)"] * len(chunk))
                self._conn.execute(
                    f"WITH listed_now AS (VALUES {values}) {_NOTE_SEEN}",
                    [v for pair in chunk for v in pair],
                )

    def listed_before(self, keys: Collection[Key]) -> set[Key]:
        """Which of these files :meth:`note_listed` noted since :meth:`begin_listing`.

        Raises:
            StorageError: the database cannot be read.
        """
        texts = {_file_text(asset_id, str(kind)): (asset_id, kind) for asset_id, kind in keys}
        return {texts[text] for text in self._noted("listed", texts)}

    def note_placed(self, md5s: Iterable[str]) -> None:
        """Note the md5s of photos the listing placed (to fetch, or found by name).

        Raises:
            StorageError: the write failed.
        """
        self._note("placed", md5s)

    def placed_before(self, md5s: Collection[str]) -> set[str]:
        """Which of these md5s :meth:`note_placed` noted since :meth:`begin_listing`.

        Raises:
            StorageError: the database cannot be read.
        """
        return self._noted("placed", md5s)

    def _note(self, table: str, texts: Iterable[str]) -> None:
        with self._locked("note the listing"):
            self._conn.executemany(
                f"INSERT OR IGNORE INTO temp.{table} VALUES (?, ?)",  # noqa: S608 - _NOTES
                map(_hashed, texts),
            )

    def _noted(self, table: str, texts: Collection[str]) -> set[str]:
        by_hash = {_hashed(text): text for text in texts}
        keys = sorted({key for key, _ in by_hash})
        found: set[str] = set()
        with self._locked("read the listing's notes"):
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                query = f"SELECT key, tail FROM temp.{table} WHERE key IN ({marks})"  # noqa: S608
                found.update(
                    by_hash[row] for row in self._conn.execute(query, chunk) if row in by_hash
                )
        return found

    def end_listing(self, now: float, *, complete: bool) -> list[str]:
        """Record the listing noted since :meth:`begin_listing`: every file it offered was
        seen ``now`` (and is no longer removed); after a ``complete`` listing, every file it
        did not offer is marked removed: a set difference in SQL, one range of rows at a
        time (see :data:`_ROWS`), in one transaction. The rows noted are those of the
        files the state had when noted (by rowid, found through the primary key page by
        page), and those recorded since the listing began whose keys were noted (by hash:
        in a nightly run, a few).

        Returns:
            The relpaths of the files newly marked removed, in order.

        Raises:
            StorageError: the write failed; nothing was written.
        """
        gone: list[str] = []
        conn = self._conn
        with self._locked("record the listing"), self._transaction():
            conn.execute(_SEEN_LATE, (self._listing_from or 0,))
            last = conn.execute("SELECT max(rowid) FROM files").fetchone()[0] or 0
            for low in range(0, last, _ROWS):
                rows = (low, low + _ROWS)
                if _count(conn, "temp.seen", rows) == _count(conn, "files", rows):
                    conn.execute(_MARK_RANGE_SEEN, (now, *rows))
                    continue
                if complete:
                    gone += [relpath for (relpath,) in conn.execute(_UNLISTED_FILES, rows)]
                    conn.execute(_MARK_REMOVED, (now, *rows))
                conn.execute(_MARK_SEEN, (now, *rows))
        return sorted(gone)


def _count(conn: sqlite3.Connection, table: str, rows: tuple[int, int]) -> int:
    """Rows of ``table`` (``files`` or ``temp.seen``) in a range of rowids."""
    query = f"SELECT count(*) FROM {table} WHERE rowid > ? AND rowid <= ?"  # noqa: S608
    return int(conn.execute(query, rows).fetchone()[0])
