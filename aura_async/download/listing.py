"""Planning a frame page by page against its folder, so downloads begin with the first page
and memory is bounded by a page, not by the frame.

:class:`PagePlanner` takes each page of the listing, asks the folder's state about just
that page's files (through SQLite's indexes: :meth:`~aura_async.store.state.State.lookup`
and :meth:`~aura_async.store.state.State.md5_places`; and the listing's notes: which of
them earlier pages listed, which of their md5s earlier pages placed), plans it
(:class:`~aura_async.plan.planner.Planner`), inspects the page's suspect files on disk
(empty or cut short: fetched again), records the files it adopts by name, and notes what
the page lists and places, for the removals to be a set difference in SQL at the end
(:meth:`~aura_async.store.state.State.end_listing`). What it hands back is the page's jobs.
Nothing is kept per asset of the frame in Python: a duplicate of a photo planned on an
earlier page learns where its first copy is from the state, once the run has recorded it
(:meth:`PagePlanner.find_sources`).

:class:`ListingFile` writes ``--save-assets`` as the pages arrive, and gives it its name
only once the listing is whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiofiles
from aiofiles.threadpool.text import AsyncTextIOWrapper

from aura_async.exceptions import StorageError
from aura_async.metadata.structure import Verdict
from aura_async.models import Asset, MediaKind
from aura_async.plan.paths import PART_SUFFIX
from aura_async.plan.planner import Job, Page, Planner, asset_kinds
from aura_async.plan.selection import Dedupe
from aura_async.seams import Disk, sync_unsupported
from aura_async.store.records import FileRecord
from aura_async.store.scan import FolderScan, inspect_file, sizes_of
from aura_async.store.state import State
from aura_async.store.writer import StateWriter

__all__ = ["ListingFile", "PagePlanner", "PlannedPage"]


@dataclass
class PlannedPage:
    """One page, planned.

    Attributes:
        page: its jobs (to fetch now), files present (for sidecars), adopted files.
        stop: ``--until-found`` found its streak on this page: stop listing.
        edited: files whose bytes changed on disk but are whole (the user's edits).
    """

    page: Page
    stop: bool = False
    edited: list[str] = field(default_factory=list)


class PagePlanner:
    """Plans a frame's listing one page at a time against its folder and state.

    Args:
        planner: the pure planner, made with the folder's scan.
        scan: what the folder holds.
        state: the open state (read-only for ``--dry-run``, or :meth:`State.in_memory`
            where the folder has none): the listing is noted in it.
        root: the frame's folder.
        writable: record adoptions and note the listing (``False`` for ``--dry-run``).
        until_found: stop after this many consecutive assets already here (``None``: list
            every page).
        now: unix time, for adopted files' records.
    """

    def __init__(
        self,
        planner: Planner,
        scan: FolderScan,
        state: State,
        *,
        root: Path,
        writable: bool,
        until_found: int | None,
        now: float,
    ) -> None:
        self.planner = planner
        self.plan = planner.plan
        self._scan = scan
        self._root = root
        self._state = state
        self._writable = writable
        self._limit = until_found
        self._streak = 0
        self._now = now
        self._begun = False

    async def begin(self) -> None:
        """Start noting the listing in the state (else the first page does).

        Raises:
            StorageError: the state's temporary tables cannot be made.
        """
        await asyncio.to_thread(self._begin)

    def _begin(self) -> None:
        if not self._begun:
            self._state.begin_listing()
            self._begun = True

    async def add(self, assets: list[Asset]) -> PlannedPage:
        """Plan one page of the listing.

        Raises:
            StorageError: the state or the folder cannot be read or written.
        """
        await asyncio.to_thread(self._lookups, assets)
        stop = False
        for asset in assets:
            self._streak = self._streak + 1 if self.planner.add(asset) else 0
            if self._limit and self._streak >= self._limit:
                stop = True  # the rest is older and, by this streak, here
                break
        damaged: list[Job] = []
        edited: list[str] = []
        if self.plan.suspects:  # most pages have none: no thread hop for them
            damaged, edited = await asyncio.to_thread(self._inspect, self.plan.suspects)
        self.plan.fetch_again(damaged)
        page = self.plan.drain()
        await asyncio.to_thread(self._note, page)
        return PlannedPage(page, stop, edited)

    async def record(self, planned: PlannedPage) -> None:
        """Record the page's adopted files (after its jobs are on their way: nothing here is
        needed to start them).

        Raises:
            StorageError: the state cannot be written.
        """
        if self._writable and planned.page.adopt:
            await asyncio.to_thread(self._record, planned.page)

    async def find_sources(self, writer: StateWriter) -> None:
        """Give each duplicate of a photo planned on an earlier page the place of its first
        copy, from the state (once the writer has recorded what the run fetched): they join
        the plan's duplicates. One whose first copy is not here (it failed) is left for the
        next run, like any duplicate of a photo that could not be fetched.

        Raises:
            StorageError: the state cannot be written or read.
        """
        later = self.plan.later_duplicates
        if not later:
            return
        await writer.flush()
        self.plan.duplicates.extend(await asyncio.to_thread(self._sources, later))
        self.plan.later_duplicates = []

    def _sources(self, later: list[Job]) -> list[tuple[Job, str]]:
        recorded = self._state.md5_places([job.asset.md5_hash or "" for job in later])
        sizes = sizes_of(self._root, {relpath for found in recorded.values() for relpath in found})
        sources = []
        for job in later:
            places = recorded.get(job.asset.md5_hash or "", [])
            here = [relpath for relpath in places if relpath in sizes and relpath != job.relpath]
            if here:
                sources.append((job, here[0]))
        return sources

    def _note(self, page: Page) -> None:
        """Note what the page lists, and the md5s of the photos it placed (blocking)."""
        state = self._state
        state.note_listed(page.keys)
        if self.planner.dedupe is not Dedupe.OFF:
            placed = [*page.jobs, *(job for job, _ in page.adopt)]
            state.note_placed(
                job.asset.md5_hash
                for job in placed
                if job.kind is MediaKind.PHOTO and job.asset.md5_hash
            )

    def _lookups(self, assets: list[Asset]) -> None:
        """Ask the state about the page's files, and the disk about every place they may be
        (blocking: SQL through the indexes, and a ``stat`` per place). A file found where
        the state put it (a nightly run's every file) costs one ``stat`` and nothing else."""
        self._begin()
        state = self._state
        planner = self.planner
        real = [a for a in assets if not a.is_placeholder]
        files = [(asset, kind) for asset in real for kind in asset_kinds(asset)]
        keys = [(a.id, str(kind)) for a, kind in files]
        listed = state.listed_before(keys)
        known = state.lookup(keys)
        sizes = sizes_of(self._root, {info.relpath for info in known.values()})
        names: dict[str, list[str]] = {}
        places: set[str] = set()
        md5s: set[str] = set()
        for asset, kind in files:
            info = known.get((asset.id, kind))
            if info is not None and info.relpath in sizes:
                continue  # here, where we put it
            planned = planner.layout.relpath(asset, kind, planner.frame)
            name = planned.rsplit("/", 1)[-1]
            found = names[name] = self._scan.places(name)
            places.add(planned)
            places.update(found)
            if kind is MediaKind.PHOTO and asset.md5_hash:
                md5s.add(asset.md5_hash)  # to be placed: perhaps a twin of one here
        dedupe = bool(md5s) and planner.dedupe is not Dedupe.OFF
        recorded = state.md5_places(md5s) if dedupe else {}
        for relpaths in recorded.values():
            places.update(relpaths)
        sizes.update(sizes_of(self._root, places - sizes.keys()))
        where = {name: on_disk for name, found in names.items() if (on_disk := _in(found, sizes))}
        md5_places = {
            md5: on_disk[0] for md5, found in recorded.items() if (on_disk := _in(found, sizes))
        }
        placed = state.placed_before(md5s - md5_places.keys()) if dedupe else set()
        planner.learn(known, md5_places, sizes, where, listed=listed, placed=placed)

    def _inspect(self, suspects: list[tuple[Job, int | None]]) -> tuple[list[Job], list[str]]:
        """Look at the page's suspect files (another size than recorded, empty, or adopted
        by name): those damaged are fetched again, those edited are kept (blocking)."""
        damaged: list[Job] = []
        edited: list[str] = []
        for job, recorded in suspects:
            try:
                verdict = inspect_file(self._root / job.relpath, recorded)
            except StorageError:
                continue  # unreadable now: left as it is, for --verify to report
            if verdict is Verdict.DAMAGED:
                damaged.append(job)
            elif verdict is Verdict.EDITED:
                edited.append(job.relpath)
        return damaged, edited

    def _record(self, page: Page) -> None:
        sizes = self.planner.sizes
        self._state.record(
            FileRecord.from_asset(job.asset, job.kind, here, now=self._now, size=sizes.get(here))
            for job, here in page.adopt
        )


def _in(relpaths: list[str], sizes: dict[str, int]) -> list[str]:
    return [relpath for relpath in relpaths if relpath in sizes]


class ListingFile:
    """``--save-assets``: the raw listing written page by page to ``<path>.part`` (through
    aiofiles: each page's write leaves the event loop), and renamed to ``path`` once every
    page was read.

    Args:
        path: the JSON file to write.
        disk: the disk operations (sync, rename).
    """

    def __init__(self, path: Path, disk: Disk) -> None:
        self.path = path
        self._disk = disk
        self._part = path.with_name(path.name + PART_SUFFIX)
        self._out: AsyncTextIOWrapper | None = None
        self._first = True

    async def add(self, raw: list[Any]) -> None:
        """Append one page's raw assets.

        Raises:
            StorageError: the file cannot be written.
        """
        text = "".join(
            ("\n" if self._first and i == 0 else ",\n") + json.dumps(item)
            for i, item in enumerate(raw)
        )
        self._first = self._first and not raw
        try:
            if self._out is None:
                self._out = await aiofiles.open(self._part, "w", encoding="utf-8")
                text = "[" + text
            await self._out.write(text)
        except OSError as exc:
            raise StorageError(f"cannot write {self._part}: {exc.strerror or exc}") from exc

    async def finish(self) -> None:
        """Close the list, make it durable and give the file its name.

        Raises:
            StorageError: the file cannot be written or renamed.
        """
        try:
            if self._out is None:
                await self.add([])
            assert self._out is not None
            await self._out.write("\n]\n")
            await self._out.close()
            self._out = None
            await asyncio.to_thread(self._sync_and_rename)
        except OSError as exc:
            raise StorageError(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    def _sync_and_rename(self) -> None:
        try:
            self._disk.sync(self._part)
        except OSError as exc:  # unsupported: like any file on that file system
            if not sync_unsupported(exc):
                raise
        self._disk.replace(self._part, self.path)

    async def abandon(self) -> None:
        """Close and leave the ``.part`` (the listing was not whole)."""
        if self._out is not None:
            out, self._out = self._out, None
            with contextlib.suppress(OSError):
                await out.close()
