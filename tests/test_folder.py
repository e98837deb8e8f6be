"""The folder's state opened in a worker thread, and closed even when the run is cancelled
while the thread still opens it."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from aura_async.download.folder import read_state
from aura_async.store.state import STATE_DIR, STATE_FILE, State


async def test_a_dry_run_cancelled_while_its_state_opens_still_closes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during a dry run's read-only open: the thread goes on opening the state, and
    when it is done the state is closed, which removes the ``-wal`` and ``-shm`` that
    reading made (dropped unclosed, they stayed beside the database: a dry run that wrote
    to the folder)."""
    State.open(tmp_path).close()
    opened, release = threading.Event(), threading.Event()
    real = State.open_readonly

    def slow(folder: Path) -> State | None:
        state = real(folder)
        opened.set()
        release.wait(5.0)
        return state

    monkeypatch.setattr(State, "open_readonly", staticmethod(slow))
    folder = tmp_path / STATE_DIR
    task = asyncio.create_task(read_state(tmp_path))
    assert await asyncio.to_thread(opened.wait, 5.0)
    assert sorted(p.name for p in folder.iterdir()) == [
        STATE_FILE,
        STATE_FILE + "-shm",
        STATE_FILE + "-wal",
    ]
    task.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline = time.monotonic() + 5.0  # the close runs in a callback, when the thread ends
    while len(list(folder.iterdir())) > 1 and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    assert sorted(p.name for p in folder.iterdir()) == [STATE_FILE]


async def test_read_state_returns_the_state(tmp_path: Path) -> None:
    """Not cancelled, it is the read-only state, for the caller to close."""
    assert await read_state(tmp_path) is None  # no state yet
    State.open(tmp_path).close()
    state = await read_state(tmp_path)
    assert state is not None
    state.close()
    assert sorted(p.name for p in (tmp_path / STATE_DIR).iterdir()) == [STATE_FILE]
