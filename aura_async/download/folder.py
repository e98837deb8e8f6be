"""A frame's folder, held for its run: made, locked and its state opened (a damaged one is
moved aside, with one warning), then closed and released once, even when the run is
cancelled while a worker thread is still opening it.

:class:`~aura_async.download.frame.Downloader` opens the folder of a frame an earlier run
made while the frame's first page is on its way, and a new folder only once that page has
come (a wrong frame id writes nothing); :func:`close_folder` ends what :func:`open_folder`
took, whenever it finishes. A dry run reads the state only (:func:`read_state`), and closes
it even when cancelled while a thread still opens it.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from aura_async.config import FrameConfig
from aura_async.exceptions import AuraError, StorageError
from aura_async.report import DiskWarning, EventHandler
from aura_async.seams import Seams
from aura_async.store.lock import FolderLock
from aura_async.store.recovery import open_state
from aura_async.store.state import State

__all__ = ["close_folder", "open_folder", "read_state"]


async def open_folder(
    frame: FrameConfig, seams: Seams, emit: EventHandler
) -> tuple[FolderLock, State]:
    """Create and lock the frame's folder and open its state (a damaged one is moved
    aside, with one warning)."""
    try:
        await asyncio.to_thread(seams.disk.make_folders, frame.file_path)
    except OSError as exc:
        raise StorageError(f"cannot create {frame.file_path}: {exc.strerror}") from exc
    lock = FolderLock(frame.file_path)
    await asyncio.to_thread(lock.acquire)
    try:
        opened = await asyncio.to_thread(open_state, frame.file_path, seams.wallclock())
    except BaseException:
        lock.release()
        raise
    if opened.moved_to is not None:
        emit(
            DiskWarning(
                f"{opened.reason}; moved it to {opened.moved_to} and adopting the files "
                "in the folder by name"
            )
        )
    return lock, opened.state


async def close_folder(opening: asyncio.Future[tuple[FolderLock, State]]) -> None:
    """Close the state and release the lock that ``opening`` took, once it is done (a lock
    taken in a thread must be released, even if nobody waits for it any more)."""
    try:
        lock, state = await asyncio.shield(opening)
    except AuraError:
        return  # it failed: nothing was left open
    except asyncio.CancelledError:
        opening.add_done_callback(_close_later)  # when its thread is done
        raise
    try:
        await asyncio.to_thread(state.close)
    finally:
        lock.release()


def _close_later(opening: asyncio.Future[tuple[FolderLock, State]]) -> None:
    if opening.cancelled() or opening.exception() is not None:
        return
    lock, state = opening.result()
    with contextlib.suppress(AuraError):
        state.close()
    lock.release()


async def read_state(folder: Path) -> State | None:
    """The folder's state, read-only (:meth:`State.open_readonly`, in a worker thread).
    Cancelled while the thread still opens it (Ctrl-C during a dry run), the state it
    opens is closed when it is done: closing is what removes the ``-wal`` and ``-shm``
    files reading made, and a dry run must leave the folder as it found it."""
    opening = asyncio.ensure_future(asyncio.to_thread(State.open_readonly, folder))
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        opening.add_done_callback(_close_read_later)
        raise


def _close_read_later(opening: asyncio.Future[State | None]) -> None:
    if opening.cancelled() or opening.exception() is not None:
        return
    state = opening.result()
    if state is not None:
        with contextlib.suppress(AuraError):
            state.close()
