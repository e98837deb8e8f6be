"""Writing one ``.part`` file: chunks gathered into batches, hashed as written, and the
disk work done on the event loop or in worker threads, as the disk's pace allows.

* :class:`PartWriter` writes the body of one download to its ``.part`` (appending when a
  download resumes), hashing it with SHA-256 as it goes;
* :class:`~aura_async.seams.DiskPace` decides, per download folder, whether that disk
  work runs on the event loop (a quick local disk) or in worker threads (a share, a USB
  disk, a full cache);
* its files come from a :data:`~aura_async.seams.FileOpener`, the seam tests use to inject
  failing or slow disks.

The file a ``.part`` becomes (resume point, checks, durable commit, rename) is
:class:`aura_async.download.target.TargetFile`; the HTTP side is
:mod:`aura_async.download.fetch`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
from pathlib import Path
from types import TracebackType

from aura_async.seams import DiskPace, File, FileOpener, open_file, paced

__all__ = ["CHUNK_SIZE", "PartWriter"]

CHUNK_SIZE = 1024 * 1024
"""Bytes gathered into one write (and, on a slow disk, one thread hop): benchmarks/bigfile.py."""


class PartWriter:
    """Writes a ``.part`` file, hashing it as it goes, in as few thread hops as it can.

    aiofiles spends a worker-thread round trip on ``open``, one per ``write`` and one on
    ``close``: three for a photo. This writer gathers chunks (no copying) until
    :data:`CHUNK_SIZE` bytes are held and writes them as one batch; what is held at the
    end goes with the close. Without a quick :class:`DiskPace` (:attr:`pace`), each batch
    is written in a worker thread while the next one arrives (one in flight, in order, so
    at most two in memory) and the close takes one more round trip; with one, batches and
    the close run on the event loop, so a file costs no round trip at all. It hashes what
    it writes (SHA-256, seeded with the existing bytes when appending, read off the loop
    on entry), so the finished file need not be read again: after a clean exit from the
    block, :attr:`result` holds the ``.part``'s ``(size, sha256)``.

    The worker-thread path stays this writer's own, not aiofiles' (issue 12, measured with
    ``benchmarks/slowdisk.py`` and ``benchmarks/peers.py``, 9 alternated rounds each, on a
    machine at load 5 to 10): written through aiofiles (the file opened in a thread, one
    aiofiles ``write`` per batch, hashed on the loop, then its ``close``), 1,000 photos on a
    slow disk took 1.10 times the CPU (per round 0.91 to 1.36) and the peers benchmark,
    whose runs on a loaded machine often send the disk work to threads, 1.16 times the
    wall time and 1.10 times the CPU; videos showed no difference (one hop per MiB either
    way). A photo takes three thread hops through aiofiles, one here; and aiofiles' calls,
    each a thread job of its own, let the close of a cancelled download run ahead of the
    batch still in flight, which is then lost; here the writer's lock makes the close wait
    for it (the ``.part`` kept for the resume).

    Args:
        path: the ``.part`` file.
        append: resume it (hash what is there, then append) instead of starting over.
        opener: opens the file (tests inject slow or failing disks).
        pace: the folder's :class:`DiskPace`: times the disk work and says where it runs
            (``None``: always in worker threads).
    """

    def __init__(
        self,
        path: Path,
        append: bool,
        *,
        opener: FileOpener = open_file,
        pace: DiskPace | None = None,
    ) -> None:
        self.path = path
        self.append = append
        self.digest = hashlib.sha256()
        self.size = 0
        self._open_file = opener
        self._file: File | None = None
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._writing: asyncio.Future[None] | None = None
        self._lock = threading.Lock()  # a cancelled write may still run while we close
        self._closed = False
        self._hashing = True
        self.pace = pace
        self.result: tuple[int, str] | None = None
        """``(size, sha256)`` of the complete ``.part``, once the block ended cleanly."""

    async def __aenter__(self) -> PartWriter:
        if self.append:  # read back (and hash) what is there off the loop
            try:
                await asyncio.to_thread(self._resume)
            except BaseException:
                self._hashing = False
                await self._close_quietly([])
                raise
        return self

    async def write(self, data: bytes, /) -> int:
        """Hold ``data``; once a batch is held, write it (on the loop if the pace allows,
        else in the background after the batch before it, so the writes stay in order)."""
        self._held.append(data)
        self._held_bytes += len(data)
        if self._held_bytes >= CHUNK_SIZE:
            batch = self._take()
            await self._settle()
            if self.pace is not None and self.pace.inline:
                self.pace.run(self._write, batch)
            else:
                self._writing = asyncio.ensure_future(asyncio.to_thread(self._write, batch))
        return len(data)

    def _take(self) -> list[bytes]:
        batch, self._held, self._held_bytes = self._held, [], 0
        return batch

    async def _settle(self) -> None:
        """Wait for the write in flight, if any; its error (a full disk) is raised here."""
        writing, self._writing = self._writing, None
        if writing is not None:
            await writing

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        held = self._take()
        if exc_type is None:
            try:
                await self._settle()  # a batch that failed must not become a finished file
            except BaseException:
                await self._close_quietly([])
                raise
            self.result = await paced(self.pace, self._close_complete, held)
            return
        self._hashing = False  # the file will not be finished: its hash is not needed
        if issubclass(exc_type, asyncio.CancelledError):
            # A write in flight may land after this close, or not at all: keep only what is
            # surely in order (a prefix), never a batch that may jump the queue.
            if self._writing is not None:  # its error, if any, is not news any more
                self._writing.add_done_callback(_ignore_outcome)
            await self._close_quietly([])
            return
        try:
            await self._settle()  # keep the order: what is held goes after it
        except OSError as disk:
            # A full disk is worse news than the network error that ended the body: the
            # download must stop, not be retried.
            await self._close_quietly([])
            raise disk from exc
        except BaseException:  # cancelled while waiting for it
            await self._close_quietly([])
            raise
        await self._close_quietly(held)  # keep what arrived, for the retry to resume

    async def _close_quietly(self, held: list[bytes]) -> None:
        """Close after an error: write ``held`` if the disk lets us; the error is the news."""
        with contextlib.suppress(OSError):
            await asyncio.to_thread(self._close, held)

    def _open(self) -> File:
        if self._file is None:
            if self.append and self._hashing:
                existing = self._open_file(self.path, "rb")
                try:
                    while chunk := existing.read(CHUNK_SIZE):
                        self.digest.update(chunk)
                        self.size += len(chunk)
                finally:
                    existing.close()
            self._file = self._open_file(self.path, "ab" if self.append else "wb")
        return self._file

    def _resume(self) -> None:
        with self._lock:
            if not self._closed:  # else the open lost the race with a cancelled close
                self._open()

    def _write(self, batch: list[bytes]) -> None:
        with self._lock:
            if not self._closed:  # else a write that lost the race with a cancelled close
                self._write_locked(batch)

    def _write_locked(self, batch: list[bytes]) -> None:
        out = self._open()
        for data in batch:
            out.write(data)
            if self._hashing:
                self.digest.update(data)
            self.size += len(data)

    def _close_complete(self, held: list[bytes]) -> tuple[int, str]:
        self._close(held)
        return self.size, self.digest.hexdigest()

    def _close(self, held: list[bytes]) -> None:
        with self._lock:
            try:
                if held or self._hashing:  # a finished empty body still leaves an empty file
                    self._write_locked(held)
            finally:
                self._closed = True
                if self._file is not None:
                    self._file.close()
                    self._file = None


def _ignore_outcome(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
