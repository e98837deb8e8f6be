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
from collections.abc import AsyncIterator, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

from aura_async.api.client import READ_AHEAD, AuraClient
from aura_async.config import FrameConfig
from aura_async.download.fetch import Fetcher
from aura_async.download.folder import close_folder, open_folder, read_state
from aura_async.download.listing import ListingFile, PagePlanner
from aura_async.download.outcome import FrameRun, caught_up_values
from aura_async.download.pool import Destination, Transfers
from aura_async.exceptions import AuraError, StateUnreadable
from aura_async.models import Asset, AssetPage
from aura_async.options import DownloadOptions
from aura_async.pacing.limiter import AdaptiveLimiter
from aura_async.pacing.memory import RATE_KEY, recall, remember
from aura_async.plan.planner import Job, Plan, Planner
from aura_async.report import (
    EventHandler,
    FrameReport,
    JobsQueued,
    ListingRecorded,
    Notice,
    PlanReady,
    Recorder,
    WouldDownload,
)
from aura_async.seams import DiskPace, Seams
from aura_async.store.lock import FolderLock
from aura_async.store.scan import FolderScan, scan_folder
from aura_async.store.state import CAUGHT_UP, State
from aura_async.store.writer import StateWriter

__all__ = ["Downloader"]


_QUEUED = 1000
"""Jobs planned ahead of the workers at most: the listing waits for them beyond this, so a
first download of 100,000 photos never holds them all in memory."""


async def _together(
    listing: Coroutine[Any, Any, None], fetching: Coroutine[Any, Any, None]
) -> None:
    """Run the listing and the workers side by side; the first error stops both and is
    raised as itself."""
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(listing)
            group.create_task(fetching)
    except BaseExceptionGroup as group_error:
        errors = [e for e in group_error.exceptions if isinstance(e, AuraError)]
        raise (errors[0] if errors else group_error.exceptions[0]) from None


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

    async def run(self, frame: FrameConfig, report: FrameReport) -> Plan:
        """Download one frame, filling ``report`` as it goes (so an interrupted run still
        has its figures). Downloads begin with the listing's first page; the folder is
        created and locked only once the frame's first page has arrived.

        Returns:
            The plan that was carried out (its counts; each page's lists were handed on).

        Raises:
            NotFound: the frame does not exist for this account.
            AuthError: the token stayed invalid after a re-login.
            RateLimited: the server kept throttling past the retry budget.
            LockHeld: another run is using the folder.
            StorageError: the folder or its state cannot be written.
        """
        job = FrameRun(
            Recorder(report, self._emit),
            asyncio.get_running_loop().time(),
            dry_run=self.options.dry_run,
            wallclock=self._seams.wallclock,
        )
        # The folder scan overlaps the first listing request.
        scanning = asyncio.ensure_future(asyncio.to_thread(scan_folder, frame.file_path))
        pages = self.client.asset_pages(
            frame.frame_id,
            page_size=self.options.page_size,
            include_hidden=self.options.include_hidden,
            keep_raw=self.options.save_assets is not None,
            read_ahead=0 if self.options.until_found else READ_AHEAD,
        )
        # A folder an earlier run made is locked and its state opened (and checked) while
        # the first page is on its way; a new folder only once the frame is known to exist,
        # so a wrong frame id writes nothing.
        opening: asyncio.Future[tuple[FolderLock, State]] | None = None
        if not self.options.dry_run and await asyncio.to_thread(frame.file_path.is_dir):
            opening = asyncio.ensure_future(open_folder(frame, self._seams, job.emit))
        try:
            async with contextlib.aclosing(pages):  # stopping early stops the reading ahead
                try:
                    first = await anext(pages)
                except BaseException:
                    if opening is not None:
                        await close_folder(opening)
                    raise
                if self.options.dry_run:
                    return await self._dry_run(frame, job, scanning, pages, first)
                if opening is None:
                    opening = asyncio.ensure_future(open_folder(frame, self._seams, job.emit))
                _, state = await opening
                try:
                    return await self._sync(frame, job, state, await scanning, pages, first)
                finally:
                    await close_folder(opening)
        except BaseException as exc:
            job.end(exc)
            raise
        finally:
            if not scanning.done():
                scanning.cancel()
            job.end(None)

    async def _dry_run(
        self,
        frame: FrameConfig,
        job: FrameRun,
        scanning: asyncio.Future[FolderScan],
        pages: AsyncIterator[AssetPage],
        first: AssetPage,
    ) -> Plan:
        """Plan against what the folder and its state hold, writing nothing."""
        try:
            state = await read_state(frame.file_path)
        except StateUnreadable:  # a real run would move it aside and adopt by name
            state = None
        state = state or State.in_memory()  # where the listing is noted
        try:
            caught_up = await asyncio.to_thread(state.get_value, CAUGHT_UP) is True
            listing = self._page_planner(frame, await scanning, state, caught_up, job, False)
            complete, edited = True, []
            async for assets in self._raw_pages(first, pages, None):
                planned = await listing.add(assets)
                edited += planned.edited
                for planned_job in planned.page.jobs:
                    job.emit(WouldDownload(frame.file_path, planned_job.relpath))
                if planned.stop:
                    complete = False
                    break
            self._plan_ready(frame, listing.plan, job, edited, complete)
            return listing.plan
        finally:
            await asyncio.to_thread(state.close)

    async def _sync(
        self,
        frame: FrameConfig,
        job: FrameRun,
        state: State,
        scan: FolderScan,
        pages: AsyncIterator[AssetPage],
        first: AssetPage,
    ) -> Plan:
        now = self._seams.wallclock()
        emit = job.emit
        stored_rate_value, caught_up = await asyncio.to_thread(
            lambda: (state.get_value(RATE_KEY), state.get_value(CAUGHT_UP) is True)
        )
        self.limiter.resume(recall(stored_rate_value))
        listing = self._page_planner(frame, scan, state, caught_up, job, True)
        plan = listing.plan
        await listing.begin()
        throttles_before = self.limiter.throttles
        transfers = self._transfers
        pace = self.pace_for(frame.file_path)
        complete = True
        try:
            async with StateWriter(  # records even on errors
                state,
                pace=pace,
                prepare=lambda batch: transfers.sync_folders(frame.file_path, batch),
            ) as writer:
                to = Destination(frame, writer, pace, emit)
                queue: asyncio.Queue[Job | None] = asyncio.Queue(maxsize=_QUEUED)
                saving = self._listing_file(frame)

                async def list_and_plan() -> None:
                    nonlocal complete
                    edited: list[str] = []
                    uncaught = not caught_up
                    try:
                        async for page in self._raw_pages(first, pages, saving):
                            planned = await listing.add(page)
                            edited += planned.edited
                            if planned.page.jobs and not uncaught:
                                # Not caught up until these are done (a SIGKILL, a power cut).
                                uncaught = True
                                await asyncio.to_thread(state.set_value, CAUGHT_UP, False)
                            if planned.page.jobs:
                                emit(JobsQueued(frame.name, len(planned.page.jobs)))
                            for planned_job in planned.page.jobs:
                                await queue.put(planned_job)
                            await listing.record(planned)
                            await transfers.missing_sidecars(frame, planned.page.present)
                            if planned.stop:
                                complete = False
                                break
                        if saving is not None:
                            await saving.finish()
                    except BaseException:
                        # stopped (Ctrl-C, an error): no complete listing to record (a
                        # cancellation can still reach end_listing below), but the summary
                        # still counts what the pages read so far found here
                        complete = False
                        self._plan_ready(frame, plan, job, edited, False, cut_short=True)
                        raise
                    finally:
                        if saving is not None:
                            await saving.abandon()
                    self._plan_ready(frame, plan, job, edited, complete)
                    for _ in range(transfers.workers):
                        await queue.put(None)  # the end, for each worker

                await _together(list_and_plan(), transfers.fetch_queued(to, queue, scan.parts))
                await listing.find_sources(writer)
                await transfers.link_duplicates(to, plan)
                await transfers.missing_sidecars(frame, [j for j, _ in plan.duplicates])
            removed = await asyncio.to_thread(
                state.end_listing, self._seams.wallclock(), complete=complete
            )
            emit(ListingRecorded(tuple(removed)))
        except BaseException as exc:
            job.end(exc)
            raise
        finally:
            job.end(None)
            # A run that gave up (throttled, interrupted) still keeps what it learned.
            report = job.emit.report
            values = {
                **self._learned_rate(stored_rate_value, throttles_before),
                **caught_up_values(report, caught_up, complete, now),
            }
            with contextlib.suppress(AuraError):  # never hide the first error
                await asyncio.to_thread(
                    state.add_run,
                    frame.name,
                    now,
                    self._seams.wallclock(),
                    report.to_json(),
                    values=values,
                )
        return plan

    def _page_planner(
        self,
        frame: FrameConfig,
        scan: FolderScan,
        state: State,
        caught_up: bool,
        job: FrameRun,
        writable: bool,
    ) -> PagePlanner:
        """The page planner of a frame; ``--until-found`` applies only to a folder that has
        caught up: its last complete listing left nothing to fetch, and no run since left
        anything unfetched. Elsewhere (a first download cut short, a file that failed) the
        run lists the whole frame, so nightly runs finish what an earlier run began."""
        options = self.options
        limit = options.until_found
        if limit and not caught_up:
            limit = None
            job.emit(
                Notice(
                    f"{frame.name}: listing the whole frame: --until-found stops early only "
                    "once a folder has caught up with its frame, and this one has not (a "
                    "first download, or an earlier run left files to fetch)"
                )
            )
        planner = Planner(
            image_base=self.image_url,
            frame=frame.name,
            layout=options.layout,
            selection=options.selection,
            sizes={},  # each page's, from PagePlanner
            restore_missing=options.restore_missing,
            dedupe=options.dedupe,
        )
        return PagePlanner(
            planner,
            scan,
            state,
            root=frame.file_path,
            writable=writable,
            until_found=limit,
            now=self._seams.wallclock(),
        )

    def _plan_ready(
        self,
        frame: FrameConfig,
        plan: Plan,
        job: FrameRun,
        edited: list[str],
        complete: bool,
        *,
        cut_short: bool = False,
    ) -> None:
        job.emit(
            PlanReady(
                frame.name,
                plan.job_count,
                plan.present_count,
                plan.placeholders,
                self.limiter.rate,
                listed=plan.listed,
                excluded=plan.excluded,
                missing=plan.missing_count,
                duplicates_skipped=plan.skipped_duplicates,
                damaged=plan.damaged,
                edited=tuple(edited),
                listing_complete=complete,
                not_ready=plan.not_ready,
                uploaders=tuple(sorted(plan.uploaders)),
                cut_short=cut_short,
            )
        )

    @staticmethod
    async def _raw_pages(
        first: AssetPage, pages: AsyncIterator[AssetPage], saving: ListingFile | None
    ) -> AsyncIterator[list[Asset]]:
        """The pages' assets; with ``--save-assets``, each page's raw JSON is written too."""
        page: AssetPage | None = first
        while page is not None:
            if saving is not None:
                await saving.add(page.raw)
            yield page.assets
            page = await anext(pages, None)

    def _listing_file(self, frame: FrameConfig) -> ListingFile | None:
        target = self.options.save_assets
        if target is None:
            return None
        return ListingFile(Path(str(target).replace("{frame}", frame.name)), self._seams.disk)

    def _learned_rate(self, stored: object, throttles_before: int) -> dict[str, object]:
        """What to keep of the server's pace for tomorrow's run (a key/value to store)."""
        limiter = self.limiter
        learned = replace(limiter.learned, throttled=limiter.throttles > throttles_before)
        value = remember(stored, learned, ceiling=limiter.max_rate)
        return {} if value == stored else {RATE_KEY: value}
