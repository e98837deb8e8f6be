"""Planning a frame page by page against its folder, so downloads begin with the first page
and memory is bounded by a page, not by the frame.

:class:`PagePlanner` takes each page of the listing, asks the folder's state about just
that page's files (through SQLite's indexes: :meth:`~aura_async.store.state.State.lookup`
and :meth:`~aura_async.store.state.State.md5_places`), plans it
(:class:`~aura_async.plan.planner.Planner`), inspects the page's suspect files on disk
(empty or cut short: fetched again), records the files it adopts by name, and notes what
the page lists, for the removals to be one SQL query at the end
(:meth:`~aura_async.store.state.State.end_listing`). What it hands back is the page's jobs.

:class:`ListingFile` writes ``--save-assets`` as the pages arrive, and gives it its name
only once the listing is whole.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aura_async.exceptions import StorageError
from aura_async.metadata.structure import Verdict
from aura_async.models import Asset, Key
from aura_async.plan.paths import PART_SUFFIX
from aura_async.plan.planner import Job, Page, Planner, asset_kinds
from aura_async.seams import Disk, sync_unsupported
from aura_async.store.records import FileRecord, Indexed
from aura_async.store.scan import FolderScan, inspect_file
from aura_async.store.state import State

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
        state: the open state (``None``: no state yet, or ``--dry-run`` without one).
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
        state: State | None,
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
        self._writable = writable and state is not None
        self._limit = until_found
        self._streak = 0
        self._now = now

    async def begin(self) -> None:
        """Start noting the listing in the state."""
        if self._writable:
            assert self._state is not None
            await asyncio.to_thread(self._state.begin_listing)

    async def add(self, assets: list[Asset]) -> PlannedPage:
        """Plan one page of the listing.

        Raises:
            StorageError: the state or the folder cannot be read or written.
        """
        known, md5_places = await asyncio.to_thread(self._lookups, assets)
        self.planner.learn(known, md5_places)
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
        return PlannedPage(self.plan.drain(), stop, edited)

    async def record(self, planned: PlannedPage) -> None:
        """Record the page's adopted files and note what it lists (after its jobs are on
        their way: nothing here is needed to start them).

        Raises:
            StorageError: the state cannot be written.
        """
        if self._writable:
            await asyncio.to_thread(self._record, planned.page)

    def _lookups(self, assets: list[Asset]) -> tuple[dict[Key, Indexed], dict[str, str]]:
        """The state's records of the page's files, and where photos of its md5s are."""
        state = self._state
        if state is None:
            return {}, {}
        keys = [(a.id, kind) for a in assets if not a.is_placeholder for kind in asset_kinds(a)]
        md5s = [a.md5_hash for a in assets if a.md5_hash]
        on_disk = self._scan.sizes
        places = {
            md5: next(iter(found))
            for md5, relpaths in state.md5_places(md5s).items()
            if (found := [r for r in relpaths if r in on_disk])
        }
        return state.lookup(keys), places

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
        state = self._state
        assert state is not None
        sizes = self._scan.sizes
        state.record(
            FileRecord.from_asset(
                job.asset, job.kind, here, now=self._now, size=sizes.get(here, None)
            )
            for job, here in page.adopt
        )
        state.note_listed(page.keys)


class ListingFile:
    """``--save-assets``: the raw listing written page by page to ``<path>.part``, and
    renamed to ``path`` once every page was read (blocking methods: call them in a thread).

    Args:
        path: the JSON file to write.
        disk: the disk operations (sync, rename).
    """

    def __init__(self, path: Path, disk: Disk) -> None:
        self.path = path
        self._disk = disk
        self._part = path.with_name(path.name + PART_SUFFIX)
        self._out: IO[str] | None = None
        self._first = True

    def add(self, raw: list[Any]) -> None:
        """Append one page's raw assets.

        Raises:
            StorageError: the file cannot be written.
        """
        try:
            if self._out is None:
                self._out = self._part.open("w", encoding="utf-8")
                self._out.write("[")
            for item in raw:
                self._out.write("\n" if self._first else ",\n")
                self._out.write(json.dumps(item))
                self._first = False
        except OSError as exc:
            raise StorageError(f"cannot write {self._part}: {exc.strerror or exc}") from exc

    def finish(self) -> None:
        """Close the list and give the file its name.

        Raises:
            StorageError: the file cannot be written or renamed.
        """
        try:
            if self._out is None:
                self.add([])
            assert self._out is not None
            self._out.write("\n]\n")
            self._out.close()
            self._out = None
            try:
                self._disk.sync(self._part)
            except OSError as exc:  # unsupported: like any file on that file system
                if not sync_unsupported(exc):
                    raise
            self._disk.replace(self._part, self.path)
        except OSError as exc:
            raise StorageError(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    def abandon(self) -> None:
        """Close and leave the ``.part`` (the listing was not whole)."""
        if self._out is not None:
            self._out.close()
            self._out = None
