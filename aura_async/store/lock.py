"""One run per folder: an exclusive lock file in the download folder.

The lock is an OS-level lock on ``<folder>/.aura-async/lock`` (``flock`` on POSIX,
``msvcrt.locking`` on Windows), so it is released by the operating system when a run dies,
even by SIGKILL: a stale lock file never blocks the next nightly run. The file records the
holder's pid and host so the second run can name it.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from types import TracebackType

from aura_async.exceptions import LockHeld, StorageError
from aura_async.store.state import STATE_DIR

__all__ = ["FolderLock", "lock_holder"]


class FolderLock:
    """An exclusive, non-blocking lock on a download folder.

    Use as ``with FolderLock(folder):``.

    Raises:
        LockHeld: another process holds the lock (the message names it).
        StorageError: the lock file cannot be created.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / STATE_DIR / "lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`LockHeld` at once."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot create lock file {self.path}: {exc.strerror}") from exc
        if not _try_lock(fd):
            holder = _read(fd) or "unknown process"
            os.close(fd)
            raise LockHeld(
                f"another aura-async run ({holder}) is using {self.folder}; wait for it to finish",
                holder=holder,
            )
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode())
        self._fd = fd

    def release(self) -> None:
        """Let the lock go (the file stays; it is harmless)."""
        if self._fd is not None:
            _unlock(self._fd)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def lock_holder(folder: Path) -> str | None:
    """Who holds the folder's lock (``pid 1234 on host``), or ``None`` when no run does.

    It only looks: on Linux it reads ``/proc/locks``; elsewhere it tries a shared lock for
    an instant (a run starting in that very instant would find the folder locked).
    """
    path = folder / STATE_DIR / "lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None  # no lock file: no run has ever locked the folder
    try:
        held = _held_by_another(fd)
        return (_read(fd) or "unknown process") if held else None
    finally:
        os.close(fd)


def _read(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 200).decode("utf-8", "replace").strip()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

    def _held_by_another(fd: int) -> bool:
        if not _try_lock(fd):
            return True
        _unlock(fd)
        return False

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

    def _held_by_another(fd: int) -> bool:
        info = os.fstat(fd)
        key = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
        try:
            with open("/proc/locks", encoding="ascii", errors="replace") as locks:
                return any(line.split()[1:2] == ["FLOCK"] and key in line.split() for line in locks)
        except OSError:  # not Linux: try a shared lock, and let it go at once
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
