"""store/recovery.py: a folder's state database opened and checked, and a damaged one moved
aside (with its companions) for a new one, never over an earlier damaged copy."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from aura_async.exceptions import StorageError
from aura_async.models import MediaKind
from aura_async.store.records import FileRecord
from aura_async.store.recovery import DAMAGED_SUFFIX, open_state
from aura_async.store.state import State, state_path

NOW = 1_700_000_000.0
STAMP = time.strftime("%Y%m%dT%H%M%S", time.gmtime(NOW))
RECORD = FileRecord("a1", MediaKind.PHOTO, "a1.jpg", 1.0, 2.0, size=5)


def _garbage(folder: Path) -> Path:
    path = state_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not sqlite at all\n" * 200)
    return path


def _newer(folder: Path) -> Path:
    path = state_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA user_version = 99")
    return path


def test_a_sound_database_is_opened_as_it_is(tmp_path: Path) -> None:
    """A readable state is opened with its rows; nothing is moved."""
    with State.open(tmp_path) as state:
        state.record([RECORD])
    opened = open_state(tmp_path, NOW)
    with opened.state as state:
        assert state.get("a1", MediaKind.PHOTO) == RECORD
    assert (opened.moved_to, opened.reason) == (None, None)


def test_no_database_yet_makes_one(tmp_path: Path) -> None:
    """A folder without state gets a new one, and nothing is said about damage."""
    opened = open_state(tmp_path, NOW)
    with opened.state as state:
        assert state.files() == {}
    assert opened.moved_to is None
    assert state_path(tmp_path).is_file()


def test_a_damaged_database_is_moved_aside(tmp_path: Path) -> None:
    """A damaged database goes to state.db.damaged-<time>, its bytes kept, and a new,
    empty state takes its place; the reason says why."""
    path = _garbage(tmp_path)
    before = path.read_bytes()
    opened = open_state(tmp_path, NOW)
    with opened.state as state:
        assert state.files() == {}
    assert opened.moved_to == path.with_name(f"state.db{DAMAGED_SUFFIX}{STAMP}")
    assert opened.moved_to.read_bytes() == before
    assert opened.reason is not None
    assert "not a database" in opened.reason


def test_a_newer_database_is_moved_aside_not_misread(tmp_path: Path) -> None:
    """A database of a newer aura-async is set aside, still of its schema, and a new state
    of this version's schema takes its place."""
    path = _newer(tmp_path)
    opened = open_state(tmp_path, NOW)
    with opened.state as state:
        assert state.version < 99
    assert opened.moved_to == path.with_name(f"state.db{DAMAGED_SUFFIX}{STAMP}")
    with closing(sqlite3.connect(opened.moved_to)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 99
    assert opened.reason is not None
    assert "schema 99 is newer" in opened.reason


def test_a_second_damaged_database_in_the_same_second_keeps_the_first(tmp_path: Path) -> None:
    """Two damaged databases set aside at the same time get their own names."""
    _garbage(tmp_path)
    first = open_state(tmp_path, NOW)
    first.state.close()
    _garbage(tmp_path)  # the new one is damaged too, within the same second
    second = open_state(tmp_path, NOW)
    second.state.close()
    assert first.moved_to is not None
    assert second.moved_to == first.moved_to.with_name(first.moved_to.name + "-2")
    assert first.moved_to.is_file()
    assert second.moved_to.is_file()


def test_other_storage_errors_are_raised(tmp_path: Path) -> None:
    """A folder that cannot hold a state at all is an error, not damage to repair."""
    folder = tmp_path / "photos"
    folder.write_bytes(b"a file, not a folder")
    with pytest.raises(StorageError, match="cannot create"):
        open_state(folder, NOW)


def test_a_database_that_fails_its_check_is_moved_aside(tmp_path: Path) -> None:
    """A database that opens but whose pages are damaged (a cut write) fails the check
    and is set aside like one that does not open."""
    with State.open(tmp_path) as state:
        state.record(
            [
                FileRecord(f"a{i}", MediaKind.PHOTO, f"{'x' * 200}{i}.jpg", 1.0, 2.0)
                for i in range(2000)
            ]
        )
    path = state_path(tmp_path)
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    data[5 * page : 7 * page] = b"\xff" * (2 * page)  # two pages of the table, overwritten
    path.write_bytes(bytes(data))
    opened = open_state(tmp_path, NOW)
    with opened.state as state:
        assert state.files() == {}
    assert opened.moved_to is not None
    assert opened.reason is not None
    assert "damaged" in opened.reason


def test_a_database_a_vanished_client_keeps_locked_is_moved_aside(tmp_path: Path) -> None:
    """A database whose write lock never comes free (a client that is gone, on NFS) is set
    aside rather than stopping every nightly run."""
    State.open(tmp_path).close()
    with closing(sqlite3.connect(state_path(tmp_path), isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        opened = open_state(tmp_path, NOW, timeout=0)
        opened.state.close()
    assert opened.moved_to is not None
    assert opened.reason is not None
    assert "locked" in opened.reason
