"""The seams a run is built with: time, sleep, the disk, and the pace of a folder's disk.

:class:`Seams` gathers them in one frozen object, made once per run and passed down, so
tests inject a fake clock, a sleep that does not wait, or a failing disk without patching
anything. :class:`DiskPace` says whether a folder's disk is quick enough to be written from
the event loop; it serves the ``.part`` files (:mod:`aura_async.download.partfile`) and the
state database's batches (:mod:`aura_async.store.writer`) of one download folder, which
live on the same disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, ParamSpec, Protocol, TypeVar

__all__ = [
    "Disk",
    "DiskPace",
    "File",
    "FileOpener",
    "Mode",
    "Seams",
    "Sleep",
    "open_file",
    "paced",
    "sync_unsupported",
]

_T = TypeVar("_T")
_P = ParamSpec("_P")


class DiskPace:
    """Whether a folder's disk is quick enough to be written from the event loop.

    Writing a MiB, closing a file (its last bytes, the close, its date, the rename) or
    committing 200 state records takes a local disk a millisecond or two: less than a
    worker-thread round trip, whose Python holds the GIL while the loop waits to send and
    receive (measured from the emulator: 1,000 photos took 2.28 s of CPU with a round trip
    per file, 1.79 s without).
    A network share, a USB disk or a full disk cache can take far longer, and on the loop
    every such wait stalls every download. So each step on the loop is timed, and one
    slower than :attr:`LIMIT` sends the folder's disk work to worker threads for
    :attr:`RETRY_AFTER` seconds; then one step tries the loop again. A slow share thus
    stalls the loop for one step every :attr:`RETRY_AFTER` seconds (a share that hangs
    outright stalls it until it answers). A step can also look slow when another Python
    thread kept the GIL from the loop (:attr:`LIMIT` is CPython's switch interval); that
    costs only speed, as the threads are the safe way.

    Args:
        clock: seconds, monotonic and fine-grained (tests pass a fake one).
    """

    LIMIT = 0.005
    """Seconds a step on the loop (a MiB written, a file closed) may take."""
    RETRY_AFTER = 10.0
    """Seconds of disk work in worker threads after a slow step, before trying again."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._threads_until = 0.0

    @property
    def inline(self) -> bool:
        """Whether the next step runs on the loop."""
        return self._clock() >= self._threads_until

    def run(self, work: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Do ``work(*args, **kwargs)`` here, on the loop, timing it."""
        started = self._clock()
        try:
            return work(*args, **kwargs)
        finally:
            ended = self._clock()
            if ended - started > self.LIMIT:
                self._threads_until = ended + self.RETRY_AFTER


async def paced(
    pace: DiskPace | None, work: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs
) -> _T:
    """Do ``work(*args, **kwargs)`` on the loop while ``pace`` finds the disk quick, else
    in a worker thread (always, for ``None``)."""
    if pace is not None and pace.inline:
        return pace.run(work, *args, **kwargs)
    return await asyncio.to_thread(work, *args, **kwargs)


class File(Protocol):
    """What :class:`~aura_async.download.partfile.PartWriter` needs of a file: blocking
    reads and writes."""

    def read(self, size: int = -1, /) -> bytes: ...

    def write(self, data: bytes, /) -> int: ...

    def close(self) -> None: ...


Mode = Literal["rb", "wb", "ab"]


FileOpener = Callable[[Path, Mode], File]
"""Opens a file in mode ``rb``, ``wb`` or ``ab`` (tests inject slow or failing disks)."""


def open_file(path: Path, mode: Mode) -> File:
    """The default :data:`FileOpener`: the file itself."""
    handle: File = path.open(mode)
    return handle


_SYNC_UNSUPPORTED = frozenset(
    code
    for code in (
        getattr(errno, name, None) for name in ("EINVAL", "ENOTSUP", "EOPNOTSUPP", "ENOSYS")
    )
    if code is not None
)


class Disk:
    """The disk operations a download makes, one method each, so tests can inject a disk
    that fails, is slow, or records the order of the steps (all blocking).

    The order that makes a final name hold only durable bytes (DESIGN.md, Durability):
    :meth:`sync` the ``.part``, :meth:`replace` it by its final name, then :meth:`sync_folder`
    the folder before the state records the file.
    """

    def open(self, path: Path, mode: Mode) -> File:
        """Open a file for reading (``rb``), writing (``wb``) or appending (``ab``)."""
        return open_file(path, mode)

    def sync(self, path: Path) -> None:
        """Make a file's bytes durable (``fsync``; ``F_FULLFSYNC`` on macOS).

        Raises:
            OSError: the file system refused (some do not support it: see
                :func:`sync_unsupported`).
        """
        fd = os.open(path, os.O_RDWR if sys.platform == "win32" else os.O_RDONLY)
        try:
            if sys.platform == "darwin":  # pragma: no cover - macOS only
                import fcntl

                fcntl.fcntl(fd, fcntl.F_FULLFSYNC)
            else:
                os.fsync(fd)
        finally:
            os.close(fd)

    def sync_folder(self, folder: Path) -> None:
        """Make a folder's entries (names created, renamed, removed) durable.

        A no-op on Windows, where a folder cannot be opened for ``fsync`` (NTFS journals
        its metadata).

        Raises:
            OSError: the file system refused.
        """
        if sys.platform == "win32":  # pragma: no cover - Windows only
            return
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def replace(self, source: Path, target: Path) -> None:
        """Rename ``source`` to ``target`` atomically, replacing ``target``."""
        source.replace(target)

    def make_folders(self, folder: Path) -> None:
        """Create ``folder`` and its missing parents, each made durable in its parent."""
        missing = []
        at = folder
        while not at.exists():
            missing.append(at)
            if at.parent == at:
                break
            at = at.parent
        folder.mkdir(parents=True, exist_ok=True)
        for created in reversed(missing):
            with contextlib.suppress(OSError):  # best effort: the mkdir itself succeeded
                self.sync_folder(created.parent)


def sync_unsupported(exc: OSError) -> bool:
    """Whether ``exc`` says the file system cannot ``fsync`` at all (a warning, not an
    error: some network and FUSE file systems say so)."""
    return exc.errno in _SYNC_UNSUPPORTED


Sleep = Callable[[float], Awaitable[Any]]
"""Awaits a number of seconds."""


@dataclass(frozen=True)
class Seams:
    """Everything a run takes from the world besides the network, made once and passed down.

    Attributes:
        sleep: retry and limiter waits (tests pass one that returns at once).
        clock: the limiter's monotonic seconds (``None``: the event loop's clock; tests
            pass a fake one that ``sleep`` moves, shared with the emulator).
        wallclock: Unix time: state timestamps, ``Retry-After`` dates.
        disk: the disk operations of downloads (tests inject failing or recording disks).
        disk_pace: makes the :class:`DiskPace` of each download folder (tests give it a
            fake clock).
    """

    sleep: Sleep = asyncio.sleep
    clock: Callable[[], float] | None = None
    wallclock: Callable[[], float] = time.time
    disk: Disk = field(default_factory=Disk)
    disk_pace: Callable[[], DiskPace] = DiskPace
