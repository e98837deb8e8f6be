"""One frame's job, start to end: lock the folder, list, plan, fetch, record.

:class:`Downloader` runs a frame against its folder's state database
(:mod:`aura_async.store.state`): it lists the frame page by page (stopping early with
``until_found``), plans against the disk and the state (:mod:`aura_async.plan.planner`),
has the worker pool (:class:`aura_async.download.pool.Transfers`) fetch the missing files
and link duplicates, then records what it saw and the run itself. The route of one file
runs down the layers from here: the listing row (:mod:`aura_async.api`) becomes a
:class:`~aura_async.plan.planner.Job`, the pool fetches it into a
:class:`~aura_async.download.target.TargetFile`, whose commit gives it its final name, and
the :class:`~aura_async.store.writer.StateWriter` records it. Every figure of the frame's
report comes from the events on the way (:class:`aura_async.report.Recorder`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aura_async.api.client import AuraClient
from aura_async.config import FrameConfig
from aura_async.download.fetch import Fetcher
from aura_async.download.pool import Destination, Transfers
from aura_async.download.target import write_durably
from aura_async.exceptions import AuraError, StorageError
from aura_async.models import Asset, Key
from aura_async.options import DownloadOptions
from aura_async.pacing.limiter import AdaptiveLimiter
from aura_async.pacing.memory import RATE_KEY, Learned, recall, remember
from aura_async.plan.planner import Plan, Planner
from aura_async.report import (
    EventHandler,
    FrameEnded,
    FrameReport,
    ListingRecorded,
    PlanReady,
    Recorder,
)
from aura_async.seams import DiskPace, Seams
from aura_async.store.lock import FolderLock
from aura_async.store.records import FileRecord, Indexed
from aura_async.store.scan import scan_relpaths
from aura_async.store.state import State
from aura_async.store.writer import StateWriter

__all__ = ["Downloader"]


@dataclass(frozen=True)
class _Loaded:
    """What a run knows before the listing: the state's files, the disk (its files and
    its ``.part`` files), what earlier runs learned of the server's throttling."""

    records: Mapping[Key, Indexed]
    found: Mapping[str, Sequence[str]]
    parts: set[str]
    learned: object


class _FrameRun:
    """One frame's run under way: its recorder, and its end, told once."""

    def __init__(self, emit: Recorder, started: float) -> None:
        self.emit = emit
        self._started = started
        self._ended = False

    def end(self, exc: BaseException | None) -> None:
        """Tell the recorder the frame ended (its time, and why if it failed); once."""
        if self._ended:
            return
        self._ended = True
        seconds = asyncio.get_running_loop().time() - self._started
        interrupted = isinstance(exc, asyncio.CancelledError)
        error = str(exc) if isinstance(exc, AuraError) else None
        self.emit(FrameEnded(seconds, interrupted=interrupted, error=error))


class Downloader:
    """Downloads frames with one client and one limiter shared by every frame of a run.

    Args:
        client: a logged-in (or lazily logging-in) :class:`AuraClient`.
        limiter: the shared token bucket.
        options: what to download and how.
        image_url: the image server's base URL.
        on_event: progress callback; must not block.
        seams: sleep, wall clock, disk and disk pace (tests inject them).
    """

    def __init__(
        self,
        client: AuraClient,
        limiter: AdaptiveLimiter,
        options: DownloadOptions,
        *,
        image_url: str,
        on_event: EventHandler | None = None,
        seams: Seams | None = None,
    ) -> None:
        self.client = client
        self.limiter = limiter
        self.options = options
        self.image_url = image_url
        self._emit: EventHandler = on_event or (lambda event: None)
        self._seams = seams = seams or Seams()
        self._paces: dict[Path, DiskPace] = {}  # per frame folder: its disk may be a share
        self._transfers = Transfers(
            client,
            Fetcher(client.session, on_event=self._emit, wallclock=seams.wallclock),
            limiter,
            options,
            seams,
        )

    def pace_for(self, folder: Path) -> DiskPace:
        """The :class:`DiskPace` of a frame folder: its files and its state database."""
        pace = self._paces.get(folder)
        if pace is None:
            pace = self._paces[folder] = self._seams.disk_pace()
        return pace

    async def list_assets(self, frame: FrameConfig) -> list[Asset]:
        """The frame's whole listing, every page.

        Raises:
            NotFound: the frame id is wrong or not visible to this account.
        """
        return await self.client.all_assets(
            frame.frame_id,
            page_size=self.options.page_size,
            include_hidden=self.options.include_hidden,
        )

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
        job = _FrameRun(Recorder(report, self._emit), asyncio.get_running_loop().time())
        try:
            if self.options.dry_run:
                return await self._sync(frame, job, None)
            try:
                await asyncio.to_thread(self._seams.disk.make_folders, frame.file_path)
            except OSError as exc:
                raise StorageError(f"cannot create {frame.file_path}: {exc.strerror}") from exc
            with FolderLock(frame.file_path):
                state = await asyncio.to_thread(State.open, frame.file_path)
                try:
                    return await self._sync(frame, job, state)
                finally:
                    await asyncio.to_thread(state.close)
        except BaseException as exc:
            job.end(exc)
            raise
        finally:
            job.end(None)

    def _load(self, frame: FrameConfig, state: State | None) -> _Loaded:
        """What the folder holds and the state remembers (blocking: runs in a thread)."""
        parts: set[str] = set()  # .part files the folder scan finds: resumable
        found = scan_relpaths(frame.file_path, parts)
        if state is None:  # --dry-run: read what there is, write nothing
            return _Loaded(State.peek_index(frame.file_path), found, parts, None)
        return _Loaded(state.index(), found, parts, state.get_value(RATE_KEY))

    async def _sync(self, frame: FrameConfig, job: _FrameRun, state: State | None) -> Plan:
        now = self._seams.wallclock()
        options = self.options
        emit = job.emit
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
        emit(
            PlanReady(
                frame.name,
                len(plan.jobs),
                len(plan.present),
                plan.placeholders,
                self.limiter.rate,
                listed=plan.listed,
                excluded=plan.excluded,
                missing=len(plan.missing),
                duplicates_skipped=plan.skipped_duplicates,
            )
        )
        if state is None:
            return plan
        loaded = loading.result()
        throttles_before = self.limiter.throttles
        await asyncio.to_thread(self._adopt, state, plan, now)
        transfers = self._transfers
        pace = self.pace_for(frame.file_path)
        try:
            async with StateWriter(  # records even on errors
                state,
                pace=pace,
                prepare=lambda batch: transfers.sync_folders(frame.file_path, batch),
            ) as writer:
                to = Destination(frame, writer, pace, emit)
                if plan.jobs:
                    await transfers.fetch_all(to, plan, loaded.parts)
                await transfers.link_duplicates(to, plan)
                await transfers.missing_sidecars(frame, plan)
            removed = await asyncio.to_thread(
                self._record_listing,
                state,
                plan,
                loaded.records if complete else None,
                self._seams.wallclock(),
            )
            emit(ListingRecorded(tuple(removed)))
        except BaseException as exc:
            job.end(exc)
            raise
        finally:
            job.end(None)
            # A run that gave up (throttled, interrupted) still keeps what it learned.
            with contextlib.suppress(AuraError):  # never hide the first error
                throttled = self.limiter.throttles > throttles_before
                learned = replace(self.limiter.learned, throttled=throttled)
                await asyncio.to_thread(self._remember_rate, state, learned)
                await asyncio.to_thread(
                    state.add_run,
                    frame.name,
                    now,
                    self._seams.wallclock(),
                    job.emit.report.to_json(),
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
                    planner = self._planner(frame, await self._loaded(loading))
                for asset in assets:
                    streak = streak + 1 if planner.add(asset) else 0
                    if limit and streak >= limit:
                        return planner, False  # the rest is older and, by this streak, here
        return planner or self._planner(frame, await self._loaded(loading)), True

    async def _loaded(self, loading: asyncio.Future[_Loaded]) -> _Loaded:
        """What the folder and its state hold; the limiter resumes what it remembers of
        the server's throttling."""
        loaded = await loading
        self.limiter.resume(recall(loaded.learned))
        return loaded

    def _planner(self, frame: FrameConfig, loaded: _Loaded) -> Planner:
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

    def _remember_rate(self, state: State, learned: Learned) -> None:
        """Keep what the run learned of the server's throttling for tomorrow's run."""
        stored = state.get_value(RATE_KEY)
        value = remember(stored, learned, ceiling=self.limiter.max_rate)
        if value != stored:
            state.set_value(RATE_KEY, value)

    async def _save_listing(self, path: Path, raw: list[Any]) -> None:
        content = json.dumps(raw, indent=1).encode()
        try:
            await asyncio.to_thread(write_durably, self._seams.disk, path, content)
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc
