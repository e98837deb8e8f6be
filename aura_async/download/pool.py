"""Fetching a frame's planned files: a pool of workers sharing the rate limiter.

:class:`Transfers` takes the jobs of a :class:`~aura_async.plan.planner.Plan` and fetches
them with ``concurrency`` workers: each file is a
:class:`~aura_async.download.target.TargetFile`, fetched by
:class:`~aura_async.download.fetch.Fetcher` (each request retried by
:mod:`aura_async.pacing.retry`, expired clip URLs renewed from a new listing), then
committed durably in a worker thread while its worker streams the next file. Every file is
recorded through the :class:`~aura_async.store.writer.StateWriter`, which makes the
batch's folders durable before it commits; duplicates are linked, and the sidecars files
lack are written. What happens is told through events (:mod:`aura_async.report`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from aura_async.api.client import AuraClient
from aura_async.config import FrameConfig
from aura_async.download.commit import Committer, Outcome
from aura_async.download.fetch import Fetcher, Streamed
from aura_async.download.target import Finish, TargetFile, write_durably
from aura_async.exceptions import (
    ApiError,
    AuraError,
    ExpiredUrl,
    RateLimited,
    StorageError,
    WaitedTooLong,
)
from aura_async.metadata.sidecar import SIDECAR_SUFFIX, sidecar_json, sidecar_xmp
from aura_async.models import MediaKind
from aura_async.options import DownloadOptions
from aura_async.pacing import retry
from aura_async.pacing.limiter import AdaptiveLimiter, Ticket
from aura_async.plan.paths import PART_SUFFIX
from aura_async.plan.planner import Job, Plan
from aura_async.report import (
    DiskWarning,
    EventHandler,
    FileDone,
    FileFailed,
    FileLinked,
    Paced,
    Retrying,
    Throttled,
)
from aura_async.seams import DiskPace, Seams, sync_unsupported
from aura_async.store.records import FileRecord
from aura_async.store.writer import StateWriter

__all__ = ["Destination", "Transfers"]


@dataclass(frozen=True)
class Destination:
    """Where one frame's files go, and who hears about them.

    Attributes:
        frame: the frame (its name and folder).
        writer: receives the record of each file that reached its final name.
        pace: the folder's disk pace (shared with its state database).
        emit: the frame's event handler.
    """

    frame: FrameConfig
    writer: StateWriter
    pace: DiskPace
    emit: EventHandler

    @property
    def root(self) -> Path:
        """The frame's download folder."""
        return self.frame.file_path


class Transfers:
    """Fetches planned files for the frames of one run, sharing its limiter and fetcher.

    Args:
        client: the logged-in client (a fresh listing renews expired clip URLs).
        fetcher: one attempt at one file.
        limiter: the run's token bucket.
        options: concurrency, retry policy, EXIF and sidecars.
        seams: sleep, wall clock and disk.
    """

    def __init__(
        self,
        client: AuraClient,
        fetcher: Fetcher,
        limiter: AdaptiveLimiter,
        options: DownloadOptions,
        seams: Seams,
    ) -> None:
        self._client = client
        self._fetcher = fetcher
        self.limiter = limiter
        self.options = options
        self._seams = seams
        self._disk = seams.disk
        self._fresh_urls: dict[str, str] = {}
        self._refresh_lock = asyncio.Lock()
        self._folders: set[Path] = set()
        self._unsynced: set[Path] = set()  # folders whose file system cannot fsync: warned
        self._paced = (limiter.ceiling, limiter.lost)  # the pace last told (Paced events)

    def _finish_for(self, frame: FrameConfig, job: Job) -> Finish:
        sidecars: tuple[tuple[str, bytes], ...] = ()
        if self.options.sidecars:
            render = sidecar_xmp if self.options.sidecars == "xmp" else sidecar_json
            sidecars = ((SIDECAR_SUFFIX[self.options.sidecars], render(job.asset, frame.name)),)
        return Finish(
            exif=self.options.write_exif and job.kind is MediaKind.PHOTO, sidecars=sidecars
        )

    def sync_folders(self, root: Path, records: list[FileRecord]) -> None:
        """Make durable the folders holding ``records``' files (blocking): the
        :class:`StateWriter`'s ``prepare`` step, so no record outlives its file's name.

        Raises:
            StorageError: a folder cannot be synced (an I/O error, not "unsupported").
        """
        for folder in {record.path(root).parent for record in records}:
            try:
                self._disk.sync_folder(folder)
            except OSError as exc:
                if not sync_unsupported(exc):
                    raise StorageError(f"cannot sync {folder}: {exc.strerror or exc}") from exc

    @property
    def workers(self) -> int:
        """Files fetched at once."""
        return max(1, self.options.concurrency)

    async def missing_sidecars(self, frame: FrameConfig, jobs: Collection[Job]) -> None:
        """Give files already here (``--sidecars`` on an old folder) and duplicates just
        linked the sidecars they lack, each with its own asset's details."""
        if not self.options.sidecars or not jobs:
            return
        suffix = SIDECAR_SUFFIX[self.options.sidecars]

        def write() -> None:
            for job in jobs:
                final = frame.file_path / job.relpath
                sidecar = final.with_name(final.name + suffix)
                if final.exists() and not sidecar.exists():
                    for name, content in self._finish_for(frame, job).sidecars:
                        write_durably(self._disk, final.with_name(final.name + name), content)

        try:
            await asyncio.to_thread(write)
        except OSError as exc:
            raise StorageError(f"cannot write sidecars in {frame.file_path}: {exc}") from exc

    async def fetch_all(self, to: Destination, plan: Plan, parts: Collection[str] = ()) -> None:
        """Fetch the plan's jobs with ``concurrency`` workers, recording each file.

        Raises:
            AuraError: a fatal error (disk, auth, endless throttling) stopped every worker.
        """
        queue: asyncio.Queue[Job | None] = asyncio.Queue()
        for job in plan.jobs:
            queue.put_nowait(job)
        for _ in range(self.workers):
            queue.put_nowait(None)
        await self.fetch_queued(to, queue, parts)

    async def fetch_queued(
        self, to: Destination, queue: asyncio.Queue[Job | None], parts: Collection[str] = ()
    ) -> None:
        """Fetch jobs from ``queue`` with ``concurrency`` workers as they are planned, until
        each worker takes a ``None``, recording each file.

        Args:
            to: the frame's folder, state writer, pace and events.
            queue: the jobs, then one ``None`` per worker.
            parts: relpaths with a ``.part`` on disk (their downloads resume).

        Raises:
            AuraError: a fatal error (disk, auth, endless throttling) stopped every worker.
        """

        committer = Committer(threads=min(4, self.workers))
        errors: list[AuraError] = []  # from commits, told on the loop

        def then(job: Job, target: TargetFile, streamed: Streamed) -> Callable[[Outcome], None]:
            def done(outcome: Outcome) -> None:
                try:
                    self._committed(to, job, target, streamed, outcome)
                except AuraError as exc:
                    errors.append(exc)

            return done

        async def worker() -> None:
            # Each worker streams its next file while the committer makes the last ones
            # durable in its threads (an fsync takes a disk milliseconds).
            while (job := await queue.get()) is not None:
                if errors:
                    raise errors[0]  # a commit failed: the disk, for every worker
                fetched = await self._download(to, job, job.relpath in parts)
                if fetched is not None:
                    target, streamed = fetched
                    written = (streamed.size, streamed.sha256)
                    committer.submit(target, written, then(job, target, streamed))

        gave_up: WaitedTooLong | None = None
        try:
            async with committer:
                try:
                    async with asyncio.TaskGroup() as group:
                        for _ in range(self.workers):
                            group.create_task(worker())
                except* WaitedTooLong as stopped:
                    # The run stops waiting for Aura: what was fetched is still committed
                    # and recorded (the block waits for it) before the run says so.
                    gave_up = next(e for e in stopped.exceptions if isinstance(e, WaitedTooLong))
        except BaseExceptionGroup as group_error:
            # One fatal error (disk, auth) stops every worker: raise it as itself, not
            # wrapped.
            fatal = [e for e in group_error.exceptions if isinstance(e, AuraError)]
            if fatal:
                raise fatal[0] from None
            raise
        if errors:
            raise errors[0]
        if gave_up is not None:
            raise gave_up

    async def _download(
        self, to: Destination, job: Job, maybe_part: bool
    ) -> tuple[TargetFile, Streamed] | None:
        """Fetch one file into its ``.part``; ``None`` if it failed (and was reported)."""
        final = to.root / job.relpath
        target = TargetFile(
            job.asset,
            final,
            self._finish_for(to.frame, job),
            disk=self._disk,
            pace=to.pace,
            maybe_part=maybe_part,
        )
        try:
            await self._ensure_folder(final.parent)
            streamed = await self._fetch(to, job, target)
        except WaitedTooLong:
            raise  # the run stops waiting for Aura: this file is left for the next, not failed
        except AuraError as exc:
            to.emit(FileFailed(job.relpath, str(exc), fatal=exc.fatal))
            if exc.fatal:
                raise
            return None
        return target, streamed

    def _committed(
        self, to: Destination, job: Job, target: TargetFile, streamed: Streamed, outcome: Outcome
    ) -> None:
        """Record a file the committer gave its name (on the loop), or report why not."""
        if isinstance(outcome, OSError):
            error = StorageError(f"cannot write {target.final}: {outcome.strerror or outcome}")
            to.emit(FileFailed(job.relpath, str(error), fatal=True))
            raise error from outcome
        if not outcome.synced and to.root not in self._unsynced:
            self._unsynced.add(to.root)
            to.emit(
                DiskWarning(
                    f"the file system of {to.root} cannot make files durable (fsync): "
                    "a power cut may damage the newest files; the next run checks them"
                )
            )
        now = self._seams.wallclock()
        to.writer.add(
            FileRecord.from_asset(
                job.asset,
                job.kind,
                job.relpath,
                now=now,
                size=outcome.size,
                sha256=outcome.sha256,
                downloaded_at=now,
            )
        )
        to.emit(FileDone(job.relpath, streamed.received, streamed.size - streamed.received))

    async def _ensure_folder(self, folder: Path) -> None:
        if folder in self._folders:
            return
        try:
            await asyncio.to_thread(self._disk.make_folders, folder)
        except OSError as exc:
            raise StorageError(f"cannot create {folder}: {exc.strerror or exc}") from exc
        self._folders.add(folder)

    async def _fetch(self, to: Destination, job: Job, target: TargetFile) -> Streamed:
        url = job.url
        refreshes = 0

        async def attempt() -> Streamed:
            # Throttling is the limiter's: a throttled request goes back to it, which
            # holds every worker as long as the server asked (or gives up past
            # --max-wait); the retry policy sees only the other failures.
            while True:
                ticket = await self.limiter.acquire()
                answered = False
                try:
                    streamed = await self._fetcher.fetch(job, url, target)
                    answered = True
                except RateLimited as exc:
                    answered = True
                    self._throttled(exc, ticket, to, job.relpath)
                    continue
                except ApiError as exc:
                    if exc.retryable:
                        to.emit(Retrying(job.relpath, str(exc)))
                    raise
                finally:
                    if not answered:
                        self.limiter.on_failure(ticket)
                self.limiter.on_success(ticket)
                pace = (self.limiter.ceiling, self.limiter.lost)
                if pace != self._paced:
                    self._paced = pace
                    to.emit(Paced(*pace))
                return streamed

        while True:
            try:
                return await retry.call(self.options.policy, attempt, sleep=self._seams.sleep)
            except ExpiredUrl:
                # A signed clip URL expired: get a newer one from the listing (twice at most,
                # for a run longer than the URLs live).
                fresh = await self._fresh_url(to.frame, job.asset.id, url)
                if job.kind is MediaKind.PHOTO or refreshes >= 2 or fresh == url:
                    raise
                refreshes += 1
                url = fresh

    def _throttled(self, exc: RateLimited, ticket: Ticket, to: Destination, relpath: str) -> None:
        verdict = self.limiter.on_throttle(ticket, exc.retry_after, whole_seconds=exc.whole_seconds)
        self._paced = (self.limiter.ceiling, self.limiter.lost)
        to.emit(
            Throttled(
                exc.status,
                verdict.wait,
                self.limiter.ceiling,
                relpath,
                lost=self.limiter.lost,
                told=verdict.told,
                new=verdict.new,
                early=verdict.early,
                gives_up=self.limiter.past_max_wait(verdict.wait),
            )
        )

    async def _fresh_url(self, frame: FrameConfig, asset_id: str, failed: str) -> str:
        """A newer signed URL for the asset's clip than ``failed``: from the last re-listing
        if it has one, else from a new one shared by every worker."""
        async with self._refresh_lock:
            if self._fresh_urls.get(asset_id, failed) == failed:
                pages = self._client.asset_pages(
                    frame.frame_id,
                    page_size=self.options.page_size,
                    include_hidden=self.options.include_hidden,
                )
                async with contextlib.aclosing(pages):
                    async for page in pages:  # only the clips' URLs are kept
                        for asset in page.assets:
                            if asset.video_url:
                                self._fresh_urls[asset.id] = asset.video_url
        return self._fresh_urls.get(asset_id, failed)

    async def link_duplicates(self, to: Destination, plan: Plan) -> None:
        """Give each duplicate photo its own name as a hard link (a copy where links fail)."""
        if not plan.duplicates:
            return
        root = to.root
        disk = self._disk

        def link(job: Job, source: str) -> int | None:
            src, dst = root / source, root / job.relpath
            if not src.exists():
                return None  # the first copy failed to download: nothing to link to
            disk.make_folders(dst.parent)
            temp = dst.with_name(dst.name + PART_SUFFIX)
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            try:
                try:
                    os.link(src, temp)  # the same, already durable, bytes
                except OSError:  # FAT, exFAT and many NAS shares have no hard links
                    shutil.copy2(src, temp)
                    with contextlib.suppress(OSError):  # unsupported: warned for downloads
                        disk.sync(temp)
                disk.replace(temp, dst)  # like every download: complete, or not there at all
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
            now = self._seams.wallclock()
            to.writer.add(
                FileRecord.from_asset(
                    job.asset, job.kind, job.relpath, now=now, size=size, downloaded_at=now
                )
            )
            to.emit(FileLinked(job.relpath))
