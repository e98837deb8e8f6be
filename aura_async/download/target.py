"""The file being written for one job: its ``.part``, resume point, writer and durable commit.

A :class:`TargetFile` is made by the worker pool for each file it fetches, with everything
the file needs (where it goes, what to add to it, the disk, the folder's pace); the fetcher
asks it where to resume, streams the body into its :meth:`~TargetFile.writer`, and the pool
then has it :meth:`~TargetFile.commit`. The commit is what makes the promise of
DESIGN.md's *Durability* true, in this order:

1. the ``.part`` is finished (EXIF added when asked, dated to ``taken_at``);
2. its bytes are made durable (``fsync`` of that one file: portable, and correct on network
   and FUSE file systems, where a file-system-wide sync is not);
3. it is renamed to its final name;
4. its sidecars are written the same way (:func:`write_durably`, in the same worker
   thread: no thread hop of their own; through aiofiles on the loop, four per sidecar,
   1,000 photos with ``--sidecars json`` took 1.15 to 1.16 times the CPU: issue 12);

and the state records it only after its folder's entries are durable too
(:class:`aura_async.store.writer.StateWriter` syncs the folders of a batch before it
commits it). A power cut at any point leaves the final name absent, or holding complete
bytes: never an empty or cut file. Where the file system cannot ``fsync`` at all, the file
is committed anyway and :attr:`Committed.synced` says so (the run warns once).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aura_async.download.partfile import PartWriter
from aura_async.metadata.exif import add_exif
from aura_async.models import Asset
from aura_async.plan.paths import PART_SUFFIX
from aura_async.seams import Disk, DiskPace, sync_unsupported

__all__ = ["Committed", "Finish", "TargetFile", "taken_at_timestamp", "write_durably"]


@dataclass(frozen=True)
class Finish:
    """What to do to a complete ``.part`` before it takes its final name.

    Attributes:
        exif: add capture date, place, author and caption to JPEGs that have no EXIF.
        sidecars: ``(suffix, content)`` files to write beside the final file.
    """

    exif: bool = False
    sidecars: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class Committed:
    """A file that reached its final name.

    Attributes:
        size: bytes of the final file.
        sha256: hex SHA-256 of the final file.
        synced: its bytes were made durable before the rename (``False``: the file system
            does not support ``fsync``).
    """

    size: int
    sha256: str
    synced: bool = True


def taken_at_timestamp(taken_at: str | None) -> float | None:
    """``taken_at`` as a Unix time for the file's mtime, or ``None`` if unparseable."""
    if not taken_at:
        return None
    try:
        return datetime.fromisoformat(taken_at).timestamp()
    except (ValueError, OverflowError):
        return None


def _sync(disk: Disk, path: Path) -> bool:
    """``disk.sync(path)``; ``False`` where the file system cannot sync at all."""
    try:
        disk.sync(path)
    except OSError as exc:
        if not sync_unsupported(exc):
            raise
        return False
    return True


def write_durably(disk: Disk, path: Path, content: bytes) -> bool:
    """Write a small file (a sidecar, a saved listing) complete or not at all: through a
    ``.part``, synced, then renamed (blocking).

    Returns:
        Whether its bytes were made durable (``False``: no ``fsync`` on this file system).

    Raises:
        OSError: the file cannot be written.
    """
    temp = path.with_name(path.name + PART_SUFFIX)
    temp.write_bytes(content)
    synced = _sync(disk, temp)
    disk.replace(temp, path)
    return synced


class TargetFile:
    """One file being fetched: its ``.part``, where a download resumes, and its commit.

    Args:
        asset: the asset the file belongs to (EXIF values, the mtime).
        final: the file's final path.
        finish: what to add before the rename.
        disk: the disk operations (tests inject failing or recording disks).
        pace: the folder's :class:`DiskPace` for the body's writes (``None``: threads).
        maybe_part: a ``.part`` may exist; ``False`` (the folder scan saw none) saves a
            look at the disk before the first attempt.
    """

    def __init__(
        self,
        asset: Asset,
        final: Path,
        finish: Finish,
        *,
        disk: Disk,
        pace: DiskPace | None,
        maybe_part: bool,
    ) -> None:
        self.asset = asset
        self.final = final
        self.part = final.with_name(final.name + PART_SUFFIX)
        self._finish = finish
        self._disk = disk
        self._pace = pace
        self._maybe_part = maybe_part

    async def resume_offset(self) -> int:
        """Bytes already in the ``.part`` (0 without one): where a download resumes."""
        maybe, self._maybe_part = self._maybe_part, True  # this attempt may leave one
        if not maybe:
            return 0
        return await asyncio.to_thread(self._part_size)

    def _part_size(self) -> int:
        try:
            return self.part.stat().st_size
        except FileNotFoundError:
            return 0

    async def read_tail(self, count: int) -> bytes:
        """The last ``count`` bytes of the ``.part`` (compared with the server's before a
        resume)."""
        return await asyncio.to_thread(self._read_tail, count)

    def _read_tail(self, count: int) -> bytes:
        with self.part.open("rb") as handle:
            handle.seek(-count, os.SEEK_END)
            return handle.read(count)

    def writer(self, append: bool) -> PartWriter:
        """A writer for the body: appends to the ``.part`` when ``append``, else starts it
        anew."""
        return PartWriter(self.part, append, opener=self._disk.open, pace=self._pace)

    async def discard(self) -> None:
        """Remove the ``.part`` (it does not match the server's file)."""
        with contextlib.suppress(OSError):
            await asyncio.to_thread(self.part.unlink)

    def commit(self, written: tuple[int, str]) -> Committed:
        """Finish the complete ``.part``, make it durable and give it its final name.

        Blocking (an ``fsync`` takes a disk milliseconds): the pool runs it in a worker
        thread while other files stream.

        Args:
            written: the ``.part``'s ``(size, sha256)`` as its writer computed them.

        Returns:
            The final file's size, SHA-256, and whether it was synced.

        Raises:
            OSError: the file cannot be finished or renamed.
        """
        size, sha256 = written
        asset = self.asset
        if self._finish.exif:
            data = self.part.read_bytes()
            changed = add_exif(
                data,
                taken_at=asset.taken_at,
                artist=asset.uploader_name,
                description="\n".join(asset.captions) or None,
                gps=asset.location,
            )
            if changed is not data:
                self.part.write_bytes(changed)
                size, sha256 = len(changed), hashlib.sha256(changed).hexdigest()
        mtime = taken_at_timestamp(asset.taken_at)
        if mtime is not None:
            with contextlib.suppress(OSError, OverflowError, ValueError):
                os.utime(self.part, (mtime, mtime))
        synced = _sync(self._disk, self.part)
        self._disk.replace(self.part, self.final)
        for suffix, content in self._finish.sidecars:
            sidecar = self.final.with_name(self.final.name + suffix)
            synced = write_durably(self._disk, sidecar, content) and synced
        return Committed(size, sha256, synced)
