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
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal, ParamSpec, Protocol, TypeVar

__all__ = ["DiskPace", "File", "FileOpener", "Mode", "open_file", "paced"]

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
    """What :class:`PartWriter` needs of a file: blocking reads and writes."""

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
