"""The worker pool: list a frame, plan, then fetch every missing file safely.

Each file is fetched by one of ``concurrency`` workers: wait for the shared limiter, GET,
check the status and Content-Type (an error page is never saved as a photo), stream in
chunks to ``<name>.part`` beside the final path, check the length, rename atomically, set
the mtime to ``taken_at``. Transient failures are retried by the policy in
:mod:`aura_async.retry`; the final name only ever holds a complete file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import aiofiles
import aiohttp

from .client import AuraClient, error_for_status, redact, translate_errors
from .config import FrameConfig
from .exceptions import (
    ApiError,
    AuraError,
    AuthError,
    ExpiredUrl,
    RateLimited,
    ServerError,
    StorageError,
    TransportError,
)
from .limiter import AdaptiveLimiter
from .lock import FolderLock
from .models import Asset, MediaKind
from .plan import Job, Plan, Selection, plan_assets
from .report import (
    BytesReceived,
    EventHandler,
    FileDone,
    FileFailed,
    FrameReport,
    PlanReady,
    Throttled,
)
from .retry import RetryPolicy, retrying

__all__ = ["DownloadOptions", "Downloader", "Writer", "scan_folder"]

PART_SUFFIX = ".part"
RESUME_OVERLAP = 16 * 1024
"""Bytes of an existing ``.part`` fetched again and compared before resuming it, so a
``.part`` that is not a prefix of the file is discarded instead of completed wrongly."""
CHUNK_SIZE = 256 * 1024
"""Bytes buffered before each write: few thread hops per file, little memory per worker."""


class Writer(Protocol):
    """What the downloader needs of an open file (aiofiles' async file object fits)."""

    async def write(self, data: bytes, /) -> int: ...


Opener = Callable[[Path, bool], AbstractAsyncContextManager[Writer]]
"""Opens a ``.part`` file for writing: ``opener(path, append)``."""


def _open_part(path: Path, append: bool) -> AbstractAsyncContextManager[Writer]:
    return aiofiles.open(path, "ab" if append else "wb")


def _part_size(part: Path) -> int:
    try:
        return part.stat().st_size
    except FileNotFoundError:
        return 0


class _StalePart(TransportError):
    """The ``.part`` on disk does not match what the server sends: start over."""


def _read_tail(part: Path, count: int) -> bytes:
    with part.open("rb") as handle:
        handle.seek(-count, os.SEEK_END)
        return handle.read(count)


async def _after_prefix(chunks: AsyncIterator[bytes], prefix: bytes) -> AsyncIterator[bytes]:
    """Yield the stream after its first ``len(prefix)`` bytes, which must equal ``prefix``."""
    got = bytearray()
    async for chunk in chunks:
        if len(got) < len(prefix):
            need = len(prefix) - len(got)
            got += chunk[:need]
            chunk = chunk[need:]
            if len(got) == len(prefix) and got != prefix:
                raise _StalePart("partial file does not match the server's bytes")
        if chunk:
            yield chunk
    if len(got) < len(prefix):
        raise TransportError("response cut short before the resume point")


def _content_range(header: str | None) -> tuple[int, int] | None:
    """``bytes START-END/TOTAL`` -> ``(START, TOTAL)`` (RFC 9110 section 14.4)."""
    if not header or not header.startswith("bytes "):
        return None
    span, _, total = header[6:].partition("/")
    start, _, _ = span.partition("-")
    if not (start.isdigit() and total.isdigit()):
        return None
    return int(start), int(total)


@dataclass(frozen=True)
class DownloadOptions:
    """How to run the pool.

    Attributes:
        concurrency: workers, hence the most requests in flight at once.
        years: put files under ``<year>/`` (the old ``--years``).
        selection: stills, clips or both.
        include_hidden: also fetch assets hidden from the slideshow.
        page_size: assets per listing page.
        dry_run: plan and report, fetch nothing, write nothing.
        policy: the retry policy of each file.
    """

    concurrency: int = 4
    years: bool = False
    selection: Selection = field(default_factory=Selection)
    include_hidden: bool = False
    page_size: int | None = 500
    dry_run: bool = False
    policy: RetryPolicy = field(default_factory=RetryPolicy)


def scan_folder(root: Path) -> set[str]:
    """Names of the files in ``root`` and in its direct sub-folders (year folders).

    The old script's files may sit in either place; ``.part`` files and hidden folders do
    not count.
    """
    names: set[str] = set()
    if not root.is_dir():
        return names
    with os.scandir(root) as top:
        for entry in top:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                with os.scandir(entry.path) as sub:
                    names.update(e.name for e in sub if e.is_file())
            elif entry.is_file():
                names.add(entry.name)
    return {n for n in names if not n.endswith(PART_SUFFIX)}


def _mtime(taken_at: str | None) -> float | None:
    if not taken_at:
        return None
    try:
        return datetime.fromisoformat(taken_at).timestamp()
    except (ValueError, OverflowError):
        return None


def _finish(part: Path, final: Path, mtime: float | None) -> None:
    if mtime is not None:
        with contextlib.suppress(OSError, OverflowError, ValueError):
            os.utime(part, (mtime, mtime))
    part.replace(final)


class Downloader:
    """Downloads frames with one client and one limiter shared by every frame of a run.

    Args:
        client: a logged-in (or lazily logging-in) :class:`AuraClient`.
        limiter: the shared token bucket.
        options: pool options.
        on_event: progress callback; must not block.
        sleep: injected sleep for retry waits.
        opener: opens a ``.part`` file for writing (injected by tests to fail writes).
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
        opener: Opener = _open_part,
    ) -> None:
        self.client = client
        self.limiter = limiter
        self.options = options
        self.image_url = image_url
        self._emit: EventHandler = on_event or (lambda event: None)
        self._sleep = sleep
        self._wallclock = wallclock
        self._opener = opener
        self._fresh_urls: dict[str, str] = {}
        self._refresh_lock = asyncio.Lock()

    async def list_assets(self, frame: FrameConfig) -> list[Asset]:
        """The frame's whole listing, every page.

        Raises:
            NotFound: the frame id is wrong or not visible to this account.
        """
        assets: list[Asset] = []
        async for page in self.client.asset_pages(
            frame.frame_id,
            page_size=self.options.page_size,
            include_hidden=self.options.include_hidden,
        ):
            assets.extend(page.assets)
        return assets

    async def plan(self, frame: FrameConfig, assets: list[Asset]) -> Plan:
        """Plan the frame against what its folder already holds."""
        present = await asyncio.to_thread(scan_folder, frame.file_path)
        return plan_assets(
            assets,
            image_base=self.image_url,
            years=self.options.years,
            selection=self.options.selection,
            present_names=present,
        )

    async def run(self, frame: FrameConfig, report: FrameReport) -> Plan:
        """Download one frame, filling ``report`` as it goes (so an interrupted run still
        has its figures).

        Returns:
            The plan that was carried out.

        Raises:
            NotFound: the frame does not exist for this account.
            AuthError: the token stayed invalid after a re-login.
            RateLimited: the server kept throttling past the retry budget.
            StorageError: the folder cannot be written.
        """
        started = asyncio.get_running_loop().time()
        report.frame_id = frame.frame_id
        try:
            if self.options.dry_run:
                return await self._run_locked(frame, report)
            try:
                await asyncio.to_thread(frame.file_path.mkdir, parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create {frame.file_path}: {exc.strerror}") from exc
            with FolderLock(frame.file_path):
                return await self._run_locked(frame, report)
        finally:
            report.seconds = asyncio.get_running_loop().time() - started

    async def _run_locked(self, frame: FrameConfig, report: FrameReport) -> Plan:
        assets = await self.list_assets(frame)
        plan = await self.plan(frame, assets)
        report.listed = plan.listed
        report.skipped = len(plan.present)
        report.placeholders = plan.placeholders
        report.excluded = plan.excluded
        self._emit(PlanReady(frame.name, len(plan.jobs), len(plan.present), plan.placeholders))
        if plan.jobs and not self.options.dry_run:
            await self._pool(frame, plan, report)
        return plan

    async def _pool(self, frame: FrameConfig, plan: Plan, report: FrameReport) -> None:
        queue: asyncio.Queue[Job] = asyncio.Queue()
        for job in plan.jobs:
            queue.put_nowait(job)

        async def worker() -> None:
            while not queue.empty():
                await self._run_job(frame, queue.get_nowait(), report)

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

    async def _run_job(self, frame: FrameConfig, job: Job, report: FrameReport) -> None:
        try:
            size = await self._fetch(frame, job, report)
        except (RateLimited, StorageError, AuthError):
            report.failed += 1
            raise
        except ApiError as exc:
            report.failed += 1
            report.failures.append((job.relpath, str(exc)))
            self._emit(FileFailed(job.relpath, str(exc)))
            return
        report.downloaded += 1
        report.bytes += size
        self._emit(FileDone(job.relpath, size))

    async def _fetch(self, frame: FrameConfig, job: Job, report: FrameReport) -> int:
        url = job.url
        refreshed = False
        while True:
            try:
                async for attempt in retrying(self.options.policy, sleep=self._sleep):
                    with attempt:
                        return await self._attempt(frame, job, url, report)
            except ExpiredUrl:
                if refreshed or job.kind is MediaKind.PHOTO:
                    raise
                refreshed = True
                url = await self._fresh_url(frame, job.asset.id, url)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(self, frame: FrameConfig, job: Job, url: str, report: FrameReport) -> int:
        await self.limiter.acquire()
        try:
            size = await self._get(frame, job, url)
        except RateLimited as exc:
            report.throttled += 1
            self.limiter.on_throttle(exc.retry_after)
            wait = exc.retry_after if exc.retry_after is not None else 0.0
            self._emit(Throttled(exc.status, wait, self.limiter.rate))
            raise
        self.limiter.on_success()
        return size

    async def _fresh_url(self, frame: FrameConfig, asset_id: str, stale: str) -> str:
        """A newly signed URL for the asset's clip, from one shared re-listing."""
        async with self._refresh_lock:
            if self._fresh_urls.get(asset_id, stale) == stale:
                for asset in await self.list_assets(frame):
                    if asset.video_url:
                        self._fresh_urls[asset.id] = asset.video_url
        return self._fresh_urls.get(asset_id, stale)

    async def _get(self, frame: FrameConfig, job: Job, url: str) -> int:
        """Fetch one file into ``.part`` (resuming it with Range), verify, rename.

        Returns:
            The bytes received by this attempt.
        """
        final = frame.file_path / job.relpath
        part = final.with_name(final.name + PART_SUFFIX)
        offset = await asyncio.to_thread(_part_size, part)
        overlap = min(offset, RESUME_OVERLAP)
        headers = {"Range": f"bytes={offset - overlap}-"} if offset else None
        try:
            with translate_errors(url):
                async with self.client.session.get(url, headers=headers) as response:
                    total = response.content_length
                    chunks: AsyncIterator[bytes] = response.content.iter_chunked(CHUNK_SIZE)
                    if response.status == 206 and offset:
                        span = _content_range(response.headers.get("Content-Range"))
                        if span is None or span[0] != offset - overlap or span[1] <= offset:
                            raise _StalePart("partial file does not fit the server's file")
                        total = span[1]
                        tail = await asyncio.to_thread(_read_tail, part, overlap)
                        chunks = _after_prefix(chunks, tail)
                    elif response.status == 416 and offset:
                        raise _StalePart("partial file longer than the file")
                    elif response.status != 200:
                        raise error_for_status(
                            response.status, url, response.headers, self._wallclock()
                        )
                    else:
                        offset = 0  # a full answer: the server ignored Range, or none was sent
                    _check_type(job, response.content_type, url)
                    written = await self._stream(part, chunks, append=offset > 0)
        except _StalePart as exc:
            await self._discard(part)
            raise TransportError(f"{exc}, starting over: {redact(url)}", url=redact(url)) from exc
        if total is not None and offset + written != total:
            raise TransportError(
                f"got {offset + written} of {total} bytes: {redact(url)}", url=redact(url)
            )
        try:
            await asyncio.to_thread(_finish, part, final, _mtime(job.asset.taken_at))
        except OSError as exc:
            raise StorageError(f"cannot write {final}: {exc.strerror or exc}") from exc
        return written

    async def _discard(self, part: Path) -> None:
        with contextlib.suppress(OSError):
            await asyncio.to_thread(part.unlink)

    async def _stream(self, part: Path, chunks: AsyncIterator[bytes], *, append: bool) -> int:
        written = 0
        buffer = bytearray()
        try:
            if not part.parent.is_dir():
                await asyncio.to_thread(part.parent.mkdir, parents=True, exist_ok=True)
            async with self._opener(part, append) as out:
                async for chunk in chunks:
                    buffer += chunk
                    if len(buffer) >= CHUNK_SIZE:
                        await out.write(bytes(buffer))
                        written += len(buffer)
                        self._emit(BytesReceived(len(buffer)))
                        buffer.clear()
                if buffer:
                    await out.write(bytes(buffer))
                    written += len(buffer)
                    self._emit(BytesReceived(len(buffer)))
        except (aiohttp.ClientError, TimeoutError):
            if buffer:  # keep what arrived: the retry resumes from it
                await self._keep(part, bytes(buffer))
            raise  # network trouble while reading: translated and retried by the caller
        except OSError as exc:
            await self._discard(part)
            raise StorageError(f"cannot write {part}: {exc.strerror or exc}") from exc
        return written

    async def _keep(self, part: Path, data: bytes) -> None:
        with contextlib.suppress(OSError):
            async with self._opener(part, True) as out:
                await out.write(data)


def _check_type(job: Job, content_type: str, url: str) -> None:
    # An error page or a JSON error under a 200 must never be saved as a photo.
    major = content_type.split("/", 1)[0]
    if job.kind is MediaKind.PHOTO:
        ok = major == "image"
    else:
        ok = major == "video" or content_type in ("application/octet-stream", "binary/octet-stream")
    if not ok:
        raise ServerError(
            f"server sent {content_type or 'no content type'} instead of a {job.kind.value}: "
            f"{redact(url)}",
            url=redact(url),
            status=200,
        )
