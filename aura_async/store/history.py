"""The state's record of past runs, and the values a run keeps for later ones: a mixin of
:class:`~aura_async.store.state.State`, as :mod:`aura_async.store.queries` is.

A run is one row of ``runs``: its frame, when it started and ended, and its summary
(``FrameReport.to_json()``) as JSON text. A value is one row of ``kv``: a JSON value under a
name (the rate the server allowed, whether the folder has caught up with its frame, when
the frame was last listed whole), stored alone or with the run that learned it, in the same
transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from aura_async.store.records import RunRecord

__all__ = ["RunHistory"]

_SET_VALUE = (
    "INSERT INTO kv (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


class RunHistory:
    """The runs and key/values of a :class:`~aura_async.store.state.State` (thread-safe like
    it: each takes the state's lock)."""

    _conn: sqlite3.Connection

    def _locked(self, action: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def add_run(
        self,
        frame: str,
        started: float,
        finished: float,
        summary: Mapping[str, Any],
        *,
        values: Mapping[str, Any] | None = None,
    ) -> int:
        """Record one finished (or interrupted) run of a frame.

        Args:
            frame: the frame's name in the config.
            started: unix time the run began.
            finished: unix time it ended.
            summary: ``FrameReport.to_json()``; stored as JSON text.
            values: key/values to store in the same transaction (as :meth:`set_value`):
                one commit, one sync, at the end of a run.

        Returns:
            The new run's id.

        Raises:
            StorageError: the write failed.
            TypeError: ``summary`` or a value is not JSON-serialisable.
        """
        text = json.dumps(summary, ensure_ascii=False, sort_keys=True)
        pairs = [
            (key, json.dumps(value, ensure_ascii=False)) for key, value in (values or {}).items()
        ]
        with self._locked("record a run"), self._transaction():
            cursor = self._conn.execute(
                "INSERT INTO runs (frame, started, finished, summary) VALUES (?, ?, ?, ?)",
                (frame, started, finished, text),
            )
            self._conn.executemany(_SET_VALUE, pairs)
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def runs(self, limit: int | None = None, *, frame: str | None = None) -> list[RunRecord]:
        """Past runs, newest first.

        Args:
            limit: at most this many; ``None`` for all.
            frame: only this frame's runs.

        Returns:
            The runs, newest first.

        Raises:
            StorageError: the database cannot be read, or a summary is not JSON.
        """
        sql = "SELECT id, frame, started, finished, summary FROM runs"
        params: list[Any] = []
        if frame is not None:
            sql += " WHERE frame = ?"
            params.append(frame)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(-1 if limit is None else limit)
        with self._locked("read runs"):
            rows = self._conn.execute(sql, params).fetchall()
            return [RunRecord(i, f, s, e, json.loads(text)) for i, f, s, e, text in rows]

    def get_value(self, key: str, default: Any = None) -> Any:
        """A value stored with :meth:`set_value` (for example the learned download rate).

        Args:
            key: its name.
            default: returned when nothing is stored under ``key``.

        Returns:
            The stored JSON value, decoded.

        Raises:
            StorageError: the database cannot be read.
        """
        with self._locked("read a value"):
            row = self._conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
            return default if row is None else json.loads(row[0])

    def set_value(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value under ``key``, replacing any previous one.

        Args:
            key: its name.
            value: str, int, float, bool, None, or lists and dicts of them.

        Raises:
            StorageError: the write failed.
            TypeError: ``value`` is not JSON-serialisable.
        """
        text = json.dumps(value, ensure_ascii=False)
        with self._locked("store a value"), self._transaction():
            self._conn.execute(_SET_VALUE, (key, text))
