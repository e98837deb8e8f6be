"""One run: a session, a login, a limiter and a downloader shared by every frame.

This is the library's front door; the CLI is a thin layer over it::

    async with Runner(settings, RunOptions()) as run:
        report = FrameReport("myframe")
        await run.download(settings.frame("myframe"), report)
"""

from __future__ import annotations

import contextlib
from types import TracebackType

import aiohttp

from aura_async.api.client import AuraClient
from aura_async.api.http import USER_AGENT
from aura_async.config import FrameConfig, Settings
from aura_async.download.frame import Downloader
from aura_async.models import Frame
from aura_async.options import RunOptions
from aura_async.pacing.limiter import AdaptiveLimiter
from aura_async.plan.counting import AssetCount
from aura_async.plan.planner import Plan
from aura_async.report import EventHandler, FrameReport
from aura_async.seams import Seams

__all__ = ["Runner", "list_frames", "run_frames"]


class Runner:
    """An open session with Aura: log in once, then list, count and download frames.

    Args:
        settings: validated settings.
        options: run options.
        on_event: progress callback.
        seams: sleep, wall clock, disk and disk pace, for every part of the run (tests
            inject them).
    """

    def __init__(
        self,
        settings: Settings,
        options: RunOptions | None = None,
        *,
        on_event: EventHandler | None = None,
        seams: Seams | None = None,
    ) -> None:
        self.settings = settings
        self.options = options or RunOptions()
        self._on_event = on_event
        self.seams = seams or Seams()
        self._session: aiohttp.ClientSession | None = None
        self.limiter = AdaptiveLimiter(
            self.options.rate,
            max_wait=self.options.max_wait,
            clock=self.seams.clock,
            sleep=self.seams.sleep,
        )
        self._client: AuraClient | None = None
        self._downloader: Downloader | None = None

    async def __aenter__(self) -> Runner:
        connector = aiohttp.TCPConnector(limit=self.options.download.concurrency + 4)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self.options.timeouts.client_timeout(),
            headers={"User-Agent": USER_AGENT},
        )
        self._client = AuraClient(
            self._session,
            self.settings.api_url,
            self.settings.email,
            self.settings.password,
            sleep=self.seams.sleep,
            wallclock=self.seams.wallclock,
            on_event=self._on_event,
        )
        self._downloader = Downloader(
            self._client,
            self.limiter,
            self.options.download,
            image_url=self.settings.image_url,
            on_event=self._on_event,
            seams=self.seams,
        )
        try:
            await self._client.login()
        except BaseException:
            await self._session.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def client(self) -> AuraClient:
        """The logged-in client."""
        assert self._client is not None, "use Runner as 'async with'"
        return self._client

    @property
    def downloader(self) -> Downloader:
        """The shared downloader."""
        assert self._downloader is not None, "use Runner as 'async with'"
        return self._downloader

    async def frames(self) -> list[Frame]:
        """The account's frames."""
        return await self.client.frames()

    async def count(self, frame: FrameConfig) -> AssetCount:
        """Count the frame's listing under the run's selection, page by page (memory is
        bounded by a page, not by the frame).

        Raises:
            NotFound: the frame id is wrong or not visible to this account.
        """
        options = self.options.download
        counted = AssetCount(frame.name)
        pages = self.client.asset_pages(
            frame.frame_id, page_size=options.page_size, include_hidden=options.include_hidden
        )
        async with contextlib.aclosing(pages):
            async for page in pages:
                counted.add(page.assets, options.selection)
        return counted

    async def download(self, frame: FrameConfig, report: FrameReport) -> Plan:
        """Download one frame into its folder, filling ``report``; return its plan (a wrong
        frame id fails on the listing's first page, before anything is written)."""
        return await self.downloader.run(frame, report)


async def list_frames(settings: Settings, options: RunOptions | None = None) -> list[Frame]:
    """Log in and return the account's frames."""
    async with Runner(settings, options) as run:
        return await run.frames()


async def run_frames(
    settings: Settings,
    names: list[str],
    options: RunOptions | None = None,
    *,
    on_event: EventHandler | None = None,
) -> list[FrameReport]:
    """Download the named frames with one login and one limiter.

    Raises:
        ConfigError: a name has no valid section (checked before any request).
        AuraError: the first failure that stops a frame.
    """
    frames = [settings.frame(name) for name in names]
    reports = []
    async with Runner(settings, options, on_event=on_event) as run:
        for frame in frames:
            report = FrameReport(frame.name, frame.frame_id)
            reports.append(report)
            await run.download(frame, report)
    return reports
