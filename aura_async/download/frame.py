"""One frame, start to end: lock the folder, list, plan, fetch with a worker pool, record.

:class:`Downloader` runs a frame against its folder's state database
(:mod:`aura_async.state`): it lists the frame page by page (stopping early with
``until_found``), plans against the disk and the state (:mod:`aura_async.plan`), fetches
the missing files with ``concurrency`` workers sharing the rate limiter (each file by
:class:`aura_async.fetch.Fetcher`, retried by :mod:`aura_async.retry`), links duplicates,
then records what it saw, what it fetched and the run itself. The fetching itself, with a
pool of workers, is :class:`aura_async.transfers.Transfers`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aura_async.api.client import AuraClient
from aura_async.config import FrameConfig
from aura_async.download.fetch import Fetcher
from aura_async.download.finish import write_atomic
from aura_async.download.partfile import Opener, open_part
from aura_async.download.pool import Transfers
from aura_async.exceptions import AuraError, StorageError
from aura_async.models import Asset, Key
from aura_async.options import DownloadOptions
from aura_async.pacing.limiter import AdaptiveLimiter
from aura_async.plan.planner import Plan, Planner
from aura_async.report import EventHandler, FrameReport, PlanReady
from aura_async.seams import DiskPace
from aura_async.store.lock import FolderLock
from aura_async.store.records import FileRecord, Indexed
from aura_async.store.scan import scan_relpaths
from aura_async.store.state import State
from aura_async.store.writer import StateWriter

__all__ = ["DownloadOptions", "Downloader"]

RATE_KEY = "learned_rate"
"""The state's key/value entry holding the rate the server allowed on the last throttled run."""


@dataclass(frozen=True)
class _Loaded:
    """What a run knows before the listing: the state's files, the disk (its files and
    its ``.part`` files), the learned rate."""

    records: Mapping[Key, Indexed]
    found: Mapping[str, Sequence[str]]
    parts: set[str]
    learned_rate: object


class Downloader:
    """Downloads frames with one client and one limiter shared by every frame of a run.

    Args:
        client: a logged-in (or lazily logging-in) :class:`AuraClient`.
        limiter: the shared token bucket.
        options: what to download and how.
        image_url: the image server's base URL.
        on_event: progress callback; must not block.
        sleep: injected sleep for retry waits.
        wallclock: Unix time (state timestamps, Retry-After dates).
        opener: opens a ``.part`` file for writing (injected by tests to fail writes).
        disk_pace: makes each frame folder's :class:`DiskPace` (tests give it a fake clock).
    """

    def __init__(
        self,
        client: AuraClient,
        limiter: AdaptiveLimiter,
        options: DownloadOptions,
        *,
        image_url: str,
        on_event: EventHandler | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        wallclock: Callable[[], float] = time.time,
        opener: Opener = open_part,
        disk_pace: Callable[[], DiskPace] = DiskPace,
    ) -> None:
        self.client = client
        self.limiter = limiter
        self.options = options
        self.image_url = image_url
        self._emit: EventHandler = on_event or (lambda event: None)
        self._wallclock = wallclock
        self._transfers = Transfers(
            Fetcher(client.session, on_event=self._emit, opener=opener, wallclock=wallclock),
            limiter,
            options,
            relist=self.list_assets,
            on_event=self._emit,
            sleep=sleep,
            wallclock=wallclock,
            disk_pace=disk_pace,
        )

    async def list_assets(self, frame: FrameConfig) -> list[Asset]:
        """The frame's whole listing, every page.

        Raises:
            NotFound: the frame id is wrong or not visible to this account.
        """
        return [asset async for page in self._pages(frame) for asset in page]

    async def _pages(
        self, frame: FrameConfig, raw: list[Any] | None = None
    ) -> AsyncGenerator[list[Asset], None]:
        pages = self.client.asset_pages(
            frame.frame_id,
            page_size=self.options.page_size,
            include_hidden=self.options.include_hidden,
            keep_raw=raw is not None,
            prefetch=not self.options.until_found,
        )
        async with contextlib.aclosing(pages):  # stopping early cancels the prefetch
            async for page in pages:
                if raw is not None:
                    raw.extend(page.raw)
                yield page.assets

    async def run(self, frame: FrameConfig, report: FrameReport) -> Plan:
        """Download one frame, filling ``report`` as it goes (so an interrupted run still
        has its figures).

        Returns:
            The plan that was carried out.

        Raises:
            NotFound: the frame does not exist for this account.
            AuthError: the token stayed invalid after a re-login.
            RateLimited: the server kept throttling past the retry budget.
            LockHeld: another run is using the folder.
            StorageError: the folder or its state cannot be written.
        """
        started = asyncio.get_running_loop().time()
        report.frame_id = frame.frame_id
        try:
            if self.options.dry_run:
                return await self._sync(frame, report, None)
            try:
                await asyncio.to_thread(frame.file_path.mkdir, parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create {frame.file_path}: {exc.strerror}") from exc
            with FolderLock(frame.file_path):
                state = await asyncio.to_thread(State.open, frame.file_path)
                try:
                    return await self._sync(frame, report, state)
                finally:
                    await asyncio.to_thread(state.close)
        finally:
            report.seconds = asyncio.get_running_loop().time() - started

    def _load(self, frame: FrameConfig, state: State | None) -> _Loaded:
        """What the folder holds and the state remembers (blocking: runs in a thread)."""
        parts: set[str] = set()  # .part files the folder scan finds: resumable
        found = scan_relpaths(frame.file_path, parts)
        if state is None:  # --dry-run: read what there is, write nothing
            return _Loaded(State.peek_index(frame.file_path), found, parts, None)
        return _Loaded(state.index(), found, parts, state.get_value(RATE_KEY))

    async def _sync(self, frame: FrameConfig, report: FrameReport, state: State | None) -> Plan:
        now = self._wallclock()
        options = self.options
        # The folder scan and the state load overlap the first listing request.
        loading = asyncio.ensure_future(asyncio.to_thread(self._load, frame, state))
        raw: list[Any] | None = [] if options.save_assets else None
        try:
            planner, complete = await self._list(frame, loading, raw)
        finally:
            if not loading.done():
                loading.cancel()
        plan = planner.plan
        if raw is not None and options.save_assets is not None and not options.dry_run:
            target = Path(str(options.save_assets).replace("{frame}", frame.name))
            await self._save_listing(target, raw)
        report.listed = plan.listed
        report.skipped = len(plan.present)
        report.placeholders = plan.placeholders
        report.excluded = plan.excluded
        report.missing = len(plan.missing)
        report.duplicates = plan.skipped_duplicates
        self._emit(
            PlanReady(
                frame.name,
                len(plan.jobs),
                len(plan.present),
                plan.placeholders,
                self.limiter.rate,
            )
        )
        if state is None:
            return plan
        loaded = loading.result()
        throttles_before = self.limiter.throttles
        await asyncio.to_thread(self._adopt, state, plan, now)
        transfers = self._transfers
        try:
            pace = transfers.pace_for(frame.file_path)
            async with StateWriter(state, pace=pace) as writer:  # records even on errors
                if plan.jobs:
                    await transfers.fetch_all(frame, plan, report, writer, loaded.parts)
                await transfers.link_duplicates(frame, plan, report, writer)
                await transfers.missing_sidecars(frame, plan)
            report.removed = await asyncio.to_thread(
                self._record_listing,
                state,
                plan,
                loaded.records if complete else None,
                self._wallclock(),
            )
        except asyncio.CancelledError:
            report.interrupted = True
            raise
        except AuraError as exc:
            report.error = str(exc)
            raise
        finally:
            # A run that gave up (throttled, interrupted) still keeps what it learned.
            with contextlib.suppress(AuraError):  # never hide the first error
                await asyncio.to_thread(self._remember_rate, state, throttles_before)
                await asyncio.to_thread(
                    state.add_run, frame.name, now, self._wallclock(), report.to_json()
                )
        return plan

    @staticmethod
    def _record_listing(
        state: State, plan: Plan, records: Mapping[Key, Indexed] | None, now: float
    ) -> list[str]:
        """Note what the listing offered; after a complete listing, what it no longer does.

        Returns:
            The relpaths of files newly marked removed from the frame.
        """
        if records is None:  # --until-found: the rest of the frame was not looked at
            state.mark_seen(plan.keys, now)
            return []
        return state.mark_listing(plan.keys, now, known=records)

    async def _list(
        self,
        frame: FrameConfig,
        loading: asyncio.Future[_Loaded],
        raw: list[Any] | None,
    ) -> tuple[Planner, bool]:
        """Plan the listing page by page; returns the planner and whether every page was read."""
        limit = self.options.until_found
        streak = 0
        planner: Planner | None = None
        async with contextlib.aclosing(self._pages(frame, raw)) as pages:
            async for assets in pages:
                if planner is None:
                    planner = self._planner(frame, await loading)
                for asset in assets:
                    streak = streak + 1 if planner.add(asset) else 0
                    if limit and streak >= limit:
                        return planner, False  # the rest is older and, by this streak, here
        return planner or self._planner(frame, await loading), True

    def _planner(self, frame: FrameConfig, loaded: _Loaded) -> Planner:
        self.limiter.resume(loaded.learned_rate)
        options = self.options
        return Planner(
            image_base=self.image_url,
            frame=frame.name,
            layout=options.layout,
            selection=options.selection,
            found=loaded.found,
            known=loaded.records,
            restore_missing=options.restore_missing,
            dedupe=options.dedupe,
        )

    def _adopt(self, state: State, plan: Plan, now: float) -> None:
        """Record files found on disk by name (old-script folders, moved files)."""
        records = []
        for job, relpath in plan.adopt:
            try:
                size = (state.path.parent.parent / relpath).stat().st_size
            except OSError:
                size = None
            records.append(FileRecord.from_asset(job.asset, job.kind, relpath, now=now, size=size))
        state.record(records)

    def _remember_rate(self, state: State, throttles_before: int) -> None:
        """Keep the rate the server allowed, so tomorrow's run starts there (and probes up)."""
        if self.limiter.throttles > throttles_before and self.limiter.learned_rate:
            state.set_value(RATE_KEY, round(self.limiter.learned_rate, 3))
            return
        stored = state.get_value(RATE_KEY)
        if isinstance(stored, int | float):
            raised = stored * 1.25  # a quiet run: let the next one try a little faster
            state.set_value(RATE_KEY, None if raised >= self.limiter.max_rate else raised)

    async def _save_listing(self, path: Path, raw: list[Any]) -> None:
        content = json.dumps(raw, indent=1).encode()
        try:
            await asyncio.to_thread(write_atomic, path, content)
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc
