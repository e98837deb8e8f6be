"""Committing finished files off the event loop, in batches: the fsync that makes a file
durable takes a disk a millisecond or more, and must not hold up the downloads.

Workers hand each complete ``.part`` to the :class:`Committer` and go on streaming their
next file. A few threads (``fsync`` calls run in parallel, and a journaling file system
groups them) commit the files (:meth:`~aura_async.download.target.TargetFile.commit`) and
hand the outcomes back to the event loop together: one wake-up of the loop for each batch,
not one thread round trip per file, which cost about a fifth of a 1,000-photo download's
CPU when each commit was its own ``asyncio.to_thread`` (benchmarks/peers.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
from collections.abc import Callable
from dataclasses import dataclass

from aura_async.download.target import Committed, TargetFile

__all__ = ["Committer"]

Outcome = Committed | OSError
"""What committing one file gave: the final file, or the error that stopped it."""

BATCH = 32
"""Files one thread commits before it hands their outcomes back to the loop."""


@dataclass(frozen=True)
class _Item:
    target: TargetFile
    written: tuple[int, str]
    then: Callable[[Outcome], None]


class Committer:
    """Commits files in worker threads; each outcome is handed to its callback on the loop.

    Use as ``async with Committer() as committer:``; leaving the block waits until every
    file handed over is committed and its callback has run. Left by an exception, the files
    handed over are still committed (the block waits for that), but their callbacks are
    not called: such a file is complete under its name but not recorded, and the next run
    adopts it by name. The threads are the loop's default executor's, and are held only
    while there are files to commit.

    Args:
        threads: files committed at once.

    ``then`` must not raise: it runs as a callback of the loop.
    """

    def __init__(self, *, threads: int = 4) -> None:
        self._count = max(1, threads)
        self._items: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._running: set[asyncio.Future[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._abandoned = False

    async def __aenter__(self) -> Committer:
        self._loop = asyncio.get_running_loop()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        try:
            if exc_type is None:
                await self._idle.wait()
        finally:
            self._abandoned = self._pending > 0
            while self._running:  # a commit under way ends before the next run may begin
                await asyncio.gather(*self._running, return_exceptions=True)

    def submit(
        self, target: TargetFile, written: tuple[int, str], then: Callable[[Outcome], None]
    ) -> None:
        """Commit ``target`` (whose ``.part`` holds ``written``: size and SHA-256); call
        ``then`` with the outcome, on the loop. Never blocks."""
        self._pending += 1
        self._idle.clear()
        self._items.put(_Item(target, written, then))
        if len(self._running) < self._count:
            self._start()

    def _start(self) -> None:
        assert self._loop is not None, "use Committer as 'async with'"
        running = self._loop.run_in_executor(None, self._work)
        self._running.add(running)
        running.add_done_callback(self._ended)

    def _ended(self, running: asyncio.Future[None]) -> None:
        self._running.discard(running)
        if not self._items.empty() and len(self._running) < self._count:
            self._start()  # a file handed over as this thread found nothing left

    def _work(self) -> None:
        while True:
            batch: list[_Item] = []
            while len(batch) < BATCH:
                try:
                    batch.append(self._items.get_nowait())
                except queue.Empty:
                    break
            if not batch:
                return
            outcomes: list[tuple[_Item, Outcome]] = []
            for each in batch:
                try:
                    outcomes.append((each, each.target.commit(each.written)))
                except OSError as exc:
                    outcomes.append((each, exc))
            assert self._loop is not None
            with contextlib.suppress(RuntimeError):  # the loop is closed: the run is over
                self._loop.call_soon_threadsafe(self._deliver, outcomes)

    def _deliver(self, outcomes: list[tuple[_Item, Outcome]]) -> None:
        try:
            if not self._abandoned:
                for item, outcome in outcomes:
                    item.then(outcome)
        finally:
            self._pending -= len(outcomes)
            if self._pending == 0:
                self._idle.set()
