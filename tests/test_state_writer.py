"""Batched state writes from the event loop, against a real database file."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from aura_async.exceptions import StorageError
from aura_async.models import MediaKind
from aura_async.seams import DiskPace
from aura_async.store.records import FileRecord
from aura_async.store.state import STATE_DIR, STATE_FILE, State
from aura_async.store.writer import StateWriter
from tests.conftest import PaceClock


def rec(index: int) -> FileRecord:
    """The record of photo number ``index``."""
    return FileRecord(f"a{index:04d}", MediaKind.PHOTO, f"a{index:04d}.jpg", 1.0, 1.0, size=index)


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    """An open state; the writer never closes it, the fixture does."""
    with State.open(tmp_path, timeout=0) as opened:
        yield opened


def stored(folder: Path) -> int:
    """Rows in the files table, counted through a separate connection."""
    with closing(sqlite3.connect(folder / STATE_DIR / STATE_FILE)) as conn:
        return int(conn.execute("SELECT count(*) FROM files").fetchone()[0])


class TestBatching:
    """Many adds become few transactions, and every record lands."""

    async def test_many_adds_few_transactions(self, state: State, tmp_path: Path) -> None:
        """A thousand adds without yielding are committed in at most two transactions."""
        writer = StateWriter(state, batch_size=100)
        for index in range(1000):
            writer.add(rec(index))
        await writer.flush()
        assert writer.batches <= 2
        assert writer.pending == 0
        assert stored(tmp_path) == 1000
        assert state.get("a0999", MediaKind.PHOTO) == rec(999)

    async def test_below_batch_size_waits_for_flush(self, state: State, tmp_path: Path) -> None:
        """Fewer records than a batch stay pending until flush, then land in one transaction."""
        writer = StateWriter(state, batch_size=50)
        for index in range(10):
            writer.add(rec(index))
        await asyncio.sleep(0)  # let any background task start: none must exist
        assert (writer.pending, writer.batches, stored(tmp_path)) == (10, 0, 0)
        await writer.flush()
        assert (writer.pending, writer.batches, stored(tmp_path)) == (0, 1, 10)

    async def test_full_batch_starts_a_background_write(self, state: State) -> None:
        """Reaching batch_size hands the records to a write without awaiting flush."""
        writer = StateWriter(state, batch_size=5)
        for index in range(5):
            writer.add(rec(index))
        await asyncio.sleep(0)  # one turn of the loop: the write task takes the batch
        assert writer.pending == 0
        await writer.flush()
        assert writer.batches == 1
        assert len(state.files()) == 5

    async def test_records_during_a_write_wait_for_the_next_batch(self, state: State) -> None:
        """Records added while a batch is written wait for a full batch (or flush), not
        a trickle of small transactions behind it."""
        writer = StateWriter(state, batch_size=10)
        for index in range(10):
            writer.add(rec(index))
        await asyncio.sleep(0)  # the background write takes the batch
        for index in range(10, 13):
            writer.add(rec(index))
        for _ in range(1000):  # the batch is committed in a worker thread
            if writer.batches:
                break
            await asyncio.sleep(0.005)
        assert (writer.batches, writer.pending) == (1, 3)
        await writer.flush()
        assert (writer.batches, writer.pending, len(state.files())) == (2, 0, 13)

    async def test_later_record_of_same_file_wins(self, state: State) -> None:
        """Records are written in the order they were added, across batches."""
        writer = StateWriter(state, batch_size=2)
        writer.add(rec(1))
        writer.add(FileRecord("a0001", MediaKind.PHOTO, "a0001.jpg", 1.0, 1.0, size=7))
        await asyncio.sleep(0)
        writer.add(FileRecord("a0001", MediaKind.PHOTO, "a0001.jpg", 1.0, 1.0, size=9))
        await writer.aclose()
        record = state.get("a0001", MediaKind.PHOTO)
        assert record is not None
        assert record.size == 9

    async def test_context_manager_flushes_and_closes(self, state: State) -> None:
        """Leaving ``async with`` writes everything and refuses further records."""
        async with StateWriter(state) as writer:
            writer.add(rec(1))
        assert state.get("a0001", MediaKind.PHOTO) == rec(1)
        with pytest.raises(RuntimeError, match="closed"):
            writer.add(rec(2))


class _ThreadNoting(State):
    """A real state that notes the thread each batch is committed in."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        super().__init__(connection, path)
        self.threads: list[threading.Thread] = []
        self.during: Callable[[], object] = lambda: None  # runs inside each commit

    def record(self, records: Iterable[FileRecord]) -> int:
        self.threads.append(threading.current_thread())
        self.during()
        return super().record(records)


class TestPace:
    """Batches follow the folder's disk pace: on the loop while it is quick, else a thread."""

    async def test_quick_disk_commits_on_the_loop(self, tmp_path: Path) -> None:
        """A quick pace keeps the commit on the event loop's thread."""
        with _ThreadNoting.open(tmp_path) as state:
            async with StateWriter(state, batch_size=2, pace=DiskPace(PaceClock())) as writer:
                for index in range(3):
                    writer.add(rec(index))
            assert state.threads
            assert set(state.threads) == {threading.current_thread()}
            assert len(state.files()) == 3

    async def test_no_pace_commits_in_a_worker_thread(self, tmp_path: Path) -> None:
        """Without a pace every batch goes to a worker thread."""
        with _ThreadNoting.open(tmp_path) as state:
            async with StateWriter(state, batch_size=2) as writer:
                for index in range(3):
                    writer.add(rec(index))
            assert state.threads
            assert threading.current_thread() not in state.threads
            assert len(state.files()) == 3

    async def test_slow_commit_sends_the_next_to_a_thread(self, tmp_path: Path) -> None:
        """A commit slower than the pace's limit moves the next batches off the loop."""
        clock = PaceClock()
        pace = DiskPace(clock)
        with _ThreadNoting.open(tmp_path) as state:
            state.during = clock.stall  # the first commit takes 10 ms
            writer = StateWriter(state, batch_size=1, pace=pace)
            writer.add(rec(0))
            await writer.flush()
            assert state.threads == [threading.current_thread()]
            assert not pace.inline
            writer.add(rec(1))
            await writer.aclose()
            assert len(state.threads) == 2
            assert state.threads[1] is not threading.current_thread()


class TestFailures:
    """A failed write is reported and its records are kept for a retry."""

    async def test_locked_flush_keeps_records(self, state: State, tmp_path: Path) -> None:
        """A flush against a locked database raises StorageError and a retry writes all."""
        writer = StateWriter(state, batch_size=100)
        with closing(
            sqlite3.connect(tmp_path / STATE_DIR / STATE_FILE, isolation_level=None)
        ) as other:
            other.execute("BEGIN IMMEDIATE")
            for index in range(3):
                writer.add(rec(index))
            with pytest.raises(StorageError, match="locked"):
                await writer.flush()
            assert writer.pending == 3
            other.execute("ROLLBACK")
        await writer.flush()
        assert (writer.pending, writer.batches, stored(tmp_path)) == (0, 1, 3)

    async def test_background_failure_surfaces(self, state: State, tmp_path: Path) -> None:
        """A failed background write is raised by the next flush, and a retry writes all."""
        writer = StateWriter(state, batch_size=2)
        with closing(
            sqlite3.connect(tmp_path / STATE_DIR / STATE_FILE, isolation_level=None)
        ) as other:
            other.execute("BEGIN IMMEDIATE")
            writer.add(rec(1))
            writer.add(rec(2))  # a full batch: the background write starts
            await asyncio.sleep(0)
            assert writer.pending == 0
            with pytest.raises(StorageError, match="locked"):
                await writer.flush()
            assert writer.pending == 2
            other.execute("ROLLBACK")
        writer.add(rec(3))
        await writer.aclose()
        assert (writer.batches, stored(tmp_path)) == (1, 3)
