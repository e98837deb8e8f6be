"""Fetching a frame's planned files: a pool of workers sharing the rate limiter.

:class:`Transfers` takes the jobs of a :class:`~aura_async.plan.Plan` and fetches them
with ``concurrency`` workers (each file by :class:`aura_async.fetch.Fetcher`, each request
retried by :mod:`aura_async.retry`, expired clip URLs renewed from a new listing),
records every file through the :class:`~aura_async.state_writer.StateWriter`, links
duplicate photos, and writes the sidecars files lack. Each frame folder has one
:class:`~aura_async.diskpace.DiskPace`, shared by its files and its state database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aura_async.config import FrameConfig
from aura_async.download.fetch import Fetched, Fetcher
from aura_async.download.finish import Finish, write_atomic
from aura_async.exceptions import (
    ApiError,
    AuraError,
    AuthError,
    ExpiredUrl,
    RateLimited,
    StorageError,
)
from aura_async.metadata.sidecar import SIDECAR_SUFFIX, sidecar_json, sidecar_xmp
from aura_async.models import Asset, MediaKind
from aura_async.pacing import retry
from aura_async.pacing.limiter import AdaptiveLimiter
from aura_async.pacing.retry import is_retryable
from aura_async.plan.paths import PART_SUFFIX
from aura_async.plan.planner import Job, Plan
from aura_async.report import EventHandler, FileDone, FileFailed, FrameReport, Retrying, Throttled
from aura_async.seams import DiskPace
from aura_async.store.records import FileRecord
from aura_async.store.writer import StateWriter

if TYPE_CHECKING:
    from aura_async.options import DownloadOptions

__all__ = ["Transfers"]


class Transfers:
    """Fetches planned files for the frames of one run, sharing its limiter and fetcher.

    Args:
        fetcher: one attempt at one file.
        limiter: the run's token bucket.
        options: concurrency, retry policy, EXIF and sidecars.
        relist: the frame's whole listing again (for renewed clip URLs).
        on_event: progress callback; must not block.
        sleep: injected sleep for retry waits.
        wallclock: Unix time (state timestamps).
        disk_pace: makes each frame folder's :class:`DiskPace`.
    """

    def __init__(
        self,
        fetcher: Fetcher,
        limiter: AdaptiveLimiter,
        options: DownloadOptions,
        *,
        relist: Callable[[FrameConfig], Awaitable[list[Asset]]],
        on_event: EventHandler,
        sleep: Callable[[float], Awaitable[Any]],
        wallclock: Callable[[], float],
        disk_pace: Callable[[], DiskPace],
    ) -> None:
        self._fetcher = fetcher
        self.limiter = limiter
        self.options = options
        self._relist = relist
        self._emit = on_event
        self._sleep = sleep
        self._wallclock = wallclock
        self._new_pace = disk_pace
        self._paces: dict[Path, DiskPace] = {}  # per frame folder: its disk may be a share
        self._fresh_urls: dict[str, str] = {}
        self._refresh_lock = asyncio.Lock()
        self._folders: set[Path] = set()

    def _finish_for(self, frame: FrameConfig, job: Job) -> Finish:
        sidecars: tuple[tuple[str, bytes], ...] = ()
        if self.options.sidecars:
            render = sidecar_xmp if self.options.sidecars == "xmp" else sidecar_json
            sidecars = ((SIDECAR_SUFFIX[self.options.sidecars], render(job.asset, frame.name)),)
        return Finish(
            exif=self.options.write_exif and job.kind is MediaKind.PHOTO, sidecars=sidecars
        )

    async def missing_sidecars(self, frame: FrameConfig, plan: Plan) -> None:
        """Give files already here (``--sidecars`` on an old folder) and duplicates just
        linked the sidecars they lack, each with its own asset's details."""
        if not self.options.sidecars:
            return
        suffix = SIDECAR_SUFFIX[self.options.sidecars]

        def write() -> None:
            for job in [*plan.present, *(job for job, _ in plan.duplicates)]:
                final = frame.file_path / job.relpath
                sidecar = final.with_name(final.name + suffix)
                if final.exists() and not sidecar.exists():
                    for name, content in self._finish_for(frame, job).sidecars:
                        write_atomic(final.with_name(final.name + name), content)

        try:
            await asyncio.to_thread(write)
        except OSError as exc:
            raise StorageError(f"cannot write sidecars in {frame.file_path}: {exc}") from exc

    async def fetch_all(
        self,
        frame: FrameConfig,
        plan: Plan,
        report: FrameReport,
        writer: StateWriter,
        parts: Collection[str] = (),
    ) -> None:
        """Fetch the plan's jobs with ``concurrency`` workers, recording each file.

        Args:
            frame: the frame (its folder).
            plan: what to fetch.
            report: counts, failures and throttles, filled as it goes.
            writer: receives the record of each file fetched.
            parts: relpaths with a ``.part`` on disk (their downloads resume).

        Raises:
            AuraError: a fatal error (disk, auth, endless throttling) stopped every worker.
        """
        queue: asyncio.Queue[Job] = asyncio.Queue()
        for job in plan.jobs:
            queue.put_nowait(job)

        async def worker() -> None:
            while not queue.empty():
                job = queue.get_nowait()
                await self._run_job(frame, job, report, writer, job.relpath in parts)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(max(1, self.options.concurrency)):
                    group.create_task(worker())
        except BaseExceptionGroup as group_error:
            # One fatal error (disk, auth, endless throttling) stops every worker: raise it
            # as itself, not wrapped.
            fatal = [e for e in group_error.exceptions if isinstance(e, AuraError)]
            if fatal:
                raise fatal[0] from None
            raise

    async def _run_job(
        self,
        frame: FrameConfig,
        job: Job,
        report: FrameReport,
        writer: StateWriter,
        maybe_part: bool,
    ) -> None:
        final = frame.file_path / job.relpath
        try:
            await self._ensure_folder(final.parent)
            fetched = await self._fetch(frame, job, report, final, maybe_part)
        except (RateLimited, StorageError, AuthError) as exc:
            report.failed += 1
            report.failures.append((job.relpath, str(exc)))
            raise
        except ApiError as exc:
            report.failed += 1
            report.failures.append((job.relpath, str(exc)))
            self._emit(FileFailed(job.relpath, str(exc)))
            return
        now = self._wallclock()
        writer.add(
            FileRecord.from_asset(
                job.asset,
                job.kind,
                job.relpath,
                now=now,
                size=fetched.size,
                sha256=fetched.sha256,
                downloaded_at=now,
            )
        )
        report.downloaded += 1
        report.bytes += fetched.received
        self._emit(FileDone(job.relpath, fetched.received))

    async def _ensure_folder(self, folder: Path) -> None:
        if folder in self._folders:
            return
        try:
            await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {folder}: {exc.strerror or exc}") from exc
        self._folders.add(folder)

    async def _fetch(
        self, frame: FrameConfig, job: Job, report: FrameReport, final: Path, maybe_part: bool
    ) -> Fetched:
        url = job.url
        refreshes = 0
        finish = self._finish_for(frame, job)
        pace = self.pace_for(frame.file_path)

        async def attempt() -> Fetched:
            nonlocal maybe_part
            await self.limiter.acquire()
            try:
                fetched = await self._fetcher.fetch(
                    job, url, final, finish, maybe_part=maybe_part, pace=pace
                )
            except ApiError as exc:
                maybe_part = True  # a failed attempt may have left a .part
                if isinstance(exc, RateLimited):
                    self._throttled(exc, report)
                elif is_retryable(exc):
                    self._emit(Retrying(job.relpath, str(exc)))
                raise
            self.limiter.on_success()
            return fetched

        while True:
            try:
                return await retry.call(self.options.policy, attempt, sleep=self._sleep)
            except ExpiredUrl:
                # A signed clip URL expired: get a newer one from the listing (twice at most,
                # for a run longer than the URLs live).
                fresh = await self._fresh_url(frame, job.asset.id, url)
                if job.kind is MediaKind.PHOTO or refreshes >= 2 or fresh == url:
                    raise
                refreshes += 1
                url = fresh

    def pace_for(self, folder: Path) -> DiskPace:
        """The :class:`DiskPace` of a frame folder: its files and its state database."""
        pace = self._paces.get(folder)
        if pace is None:
            pace = self._paces[folder] = self._new_pace()
        return pace

    def _throttled(self, exc: RateLimited, report: FrameReport) -> None:
        report.throttled += 1
        self.limiter.on_throttle(exc.retry_after)
        wait = exc.retry_after if exc.retry_after is not None else 0.0
        self._emit(Throttled(exc.status, wait, self.limiter.rate))

    async def _fresh_url(self, frame: FrameConfig, asset_id: str, failed: str) -> str:
        """A newer signed URL for the asset's clip than ``failed``: from the last re-listing
        if it has one, else from a new one shared by every worker."""
        async with self._refresh_lock:
            if self._fresh_urls.get(asset_id, failed) == failed:
                for asset in await self._relist(frame):
                    if asset.video_url:
                        self._fresh_urls[asset.id] = asset.video_url
        return self._fresh_urls.get(asset_id, failed)

    async def link_duplicates(
        self, frame: FrameConfig, plan: Plan, report: FrameReport, writer: StateWriter
    ) -> None:
        """Give each duplicate photo its own name as a hard link (a copy where links fail)."""
        if not plan.duplicates:
            return
        root = frame.file_path

        def link(job: Job, source: str) -> int | None:
            src, dst = root / source, root / job.relpath
            if not src.exists():
                return None  # the first copy failed to download: nothing to link to
            dst.parent.mkdir(parents=True, exist_ok=True)
            temp = dst.with_name(dst.name + PART_SUFFIX)
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            try:
                try:
                    os.link(src, temp)
                except OSError:  # FAT, exFAT and many NAS shares have no hard links
                    shutil.copy2(src, temp)
                temp.replace(dst)  # like every download: complete, or not there at all
            except OSError:
                with contextlib.suppress(OSError):
                    temp.unlink()
                raise
            return dst.stat().st_size

        for job, source in plan.duplicates:
            try:
                size = await asyncio.to_thread(link, job, source)
            except OSError as exc:
                raise StorageError(f"cannot link {root / job.relpath}: {exc}") from exc
            if size is None:
                continue
            now = self._wallclock()
            writer.add(
                FileRecord.from_asset(
                    job.asset, job.kind, job.relpath, now=now, size=size, downloaded_at=now
                )
            )
            report.linked += 1
