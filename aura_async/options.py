"""The frozen option objects a run is given: what to download, how fast, how patient."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from aura_async.pacing.limiter import DEFAULT_MAX_WAIT, START_RATE
from aura_async.pacing.retry import RetryPolicy
from aura_async.plan.selection import Dedupe, Selection
from aura_async.plan.templates import Templates

__all__ = ["DEFAULT_MAX_WAIT", "DEFAULT_RATE", "DownloadOptions", "RunOptions", "Timeouts"]


@dataclass(frozen=True)
class Timeouts:
    """Network timeouts in seconds: to connect, and of silence while reading."""

    connect: float = 30.0
    read: float = 60.0

    def client_timeout(self) -> aiohttp.ClientTimeout:
        """The matching ``aiohttp.ClientTimeout`` (no total: big videos take long)."""
        return aiohttp.ClientTimeout(total=None, sock_connect=self.connect, sock_read=self.read)


@dataclass(frozen=True)
class DownloadOptions:
    """How to run a frame.

    Attributes:
        concurrency: workers, hence the most requests in flight at once.
        layout: folder and name templates (``--years`` is ``Templates(folder="{year}")``).
        selection: stills, clips, dates, uploaders.
        include_hidden: also list assets hidden from the slideshow.
        page_size: assets per listing page.
        until_found: stop listing after this many consecutive assets already here.
        restore_missing: fetch again files the user moved away or deleted.
        dedupe: what to do with a photo identical to one already here.
        sidecars: ``"json"``, ``"xmp"`` or ``None``.
        write_exif: add EXIF to downloaded JPEGs that have none.
        save_assets: write the raw listing as JSON to this file.
        dry_run: plan and report, fetch nothing, write nothing.
        policy: the retry policy of each file.
    """

    concurrency: int = 4
    layout: Templates = field(default_factory=Templates)
    selection: Selection = field(default_factory=Selection)
    include_hidden: bool = False
    page_size: int | None = 500
    until_found: int | None = None
    restore_missing: bool = False
    dedupe: Dedupe = Dedupe.HARDLINK
    sidecars: str | None = None
    write_exif: bool = False
    save_assets: Path | None = None
    dry_run: bool = False
    policy: RetryPolicy = field(default_factory=RetryPolicy)


DEFAULT_RATE = START_RATE
"""Media requests per second at most, by default: 50 times the old script's pace. The
limiter spaces requests at this rate until Aura pushes back, then at what it learns Aura
allows; in a quota window it sends the quota at once when the window opens (the ceiling
then holds on average over ten seconds)."""


@dataclass(frozen=True)
class RunOptions:
    """Options of a whole run.

    Attributes:
        download: the worker pool's options.
        rate: ceiling of media requests per second; ``None`` or 0 for none.
        max_wait: seconds the run may lose to the server's throttling before it gives up
            (``--max-wait``).
        timeouts: connect and read-idle timeouts.
    """

    download: DownloadOptions = field(default_factory=DownloadOptions)
    rate: float | None = DEFAULT_RATE
    max_wait: float = DEFAULT_MAX_WAIT
    timeouts: Timeouts = field(default_factory=Timeouts)
