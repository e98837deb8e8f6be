"""What happened during a run: progress events and per-frame summaries (pure data).

The library never prints. It calls an ``on_event`` callback with the events below, and
fills a :class:`FrameReport` per frame from the same events, through one
:class:`Recorder`; the CLI renders both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "BytesReceived",
    "DiskWarning",
    "Event",
    "EventHandler",
    "FileDone",
    "FileFailed",
    "FileLinked",
    "FrameEnded",
    "FrameReport",
    "JobsQueued",
    "ListingRecorded",
    "LoggedIn",
    "Notice",
    "Paced",
    "PageListed",
    "PlanReady",
    "Recorder",
    "Retrying",
    "Throttled",
    "WouldDownload",
    "human_bytes",
    "local_time",
    "plural",
]


@dataclass(frozen=True, slots=True)
class PlanReady:
    """The listing is in and the work is known."""

    frame: str
    to_fetch: int
    present: int
    placeholders: int
    rate: float = float("inf")
    """The limiter's requests per second as the downloads start (inf: no limit)."""
    listed: int = 0
    """Rows of the listing read (placeholders included)."""
    excluded: int = 0
    """Files left out by the selection."""
    missing: int = 0
    """Files downloaded once, since moved or deleted locally."""
    duplicates_skipped: int = 0
    """Duplicate photos skipped (``--dedupe skip``)."""
    uploaders: tuple[str, ...] = ()
    """The uploaders' names in the listing read, sorted."""
    damaged: int = 0
    """Files found empty or cut short on disk (a power cut, a copy that stopped): among
    ``to_fetch``, fetched again."""
    edited: tuple[str, ...] = ()
    """Files whose bytes changed on disk but are whole: the user's edits, kept."""
    listing_complete: bool = True
    """Every page of the listing was read (``False``: ``--until-found`` stopped it, or the
    run was stopped)."""
    not_ready: int = 0
    """Videos the server has not finished yet (no ``video_url``): fetched by a later run."""
    cut_short: bool = False
    """The listing was stopped (interrupted, or an error): the counts are of the pages read
    so far, for the run's summary (the command announces no plan for it)."""


@dataclass(frozen=True, slots=True)
class JobsQueued:
    """A page of the listing gave ``count`` more files to download (downloads begin with
    the first page; :class:`PlanReady` comes once the listing is read)."""

    frame: str
    count: int


@dataclass(frozen=True, slots=True)
class WouldDownload:
    """``--dry-run``: this file would be downloaded."""

    folder: Path
    relpath: str


@dataclass(frozen=True, slots=True)
class BytesReceived:
    """A chunk of some file arrived."""

    count: int


@dataclass(frozen=True, slots=True)
class FileDone:
    """A file was verified and moved to its final name."""

    relpath: str
    size: int
    """Bytes received for it by this run."""
    resumed_from: int = 0
    """Bytes a ``.part`` already held when this run resumed it (the file is both)."""


@dataclass(frozen=True, slots=True)
class FileFailed:
    """A file could not be fetched, after retries."""

    relpath: str
    reason: str
    fatal: bool = False
    """The error stops the frame too (the disk, the account, endless throttling): it is
    reported as the frame's error, not as one more failed file."""


@dataclass(frozen=True, slots=True)
class FileLinked:
    """A duplicate photo got its own name as a link to (or copy of) its first copy."""

    relpath: str


@dataclass(frozen=True, slots=True)
class DiskWarning:
    """Something about the folder's disk the user should know (said once per folder)."""

    message: str


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should read once, such as why a run does more than asked."""

    message: str


@dataclass(frozen=True, slots=True)
class ListingRecorded:
    """The listing was noted in the state; ``removed`` are the files whose assets the frame
    no longer lists (nothing is deleted)."""

    removed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FrameEnded:
    """A frame's run ended, done or not."""

    seconds: float
    interrupted: bool = False
    error: str | None = None
    started_at: float | None = None
    """Unix time the frame's run began (from the run's injected wall clock)."""
    finished_at: float | None = None
    """Unix time it ended."""
    exit_code: int | None = None
    """The exit code the frame gives (:class:`~aura_async.exceptions.ExitCode`)."""
    dry_run: bool = False
    """Nothing was meant to be fetched: no file counts as not attempted."""


@dataclass(frozen=True, slots=True)
class Retrying:
    """An attempt at a file failed in a way worth another try."""

    relpath: str
    reason: str


@dataclass(frozen=True, slots=True)
class Throttled:
    """The server throttled a request (429 or 503)."""

    status: int | None
    wait: float
    """Seconds until requests may start again, as far as known (0: only spaced out)."""
    rate: float
    """The rate requests are spaced at from now on (inf: a quota window's burst)."""
    relpath: str = ""
    """The file whose request was throttled."""
    lost: float = 0.0
    """Wall-clock seconds the run has lost to the server's throttling so far (counted
    once, however many workers waited), this wait not included."""
    told: bool = True
    """``wait`` is what the server asked (``Retry-After``), not a guess."""
    new: bool = True
    """It began a new episode (not one more answer to requests already in flight)."""
    early: bool = False
    """When ``wait`` ends, one request tries before the ``Retry-After`` does; the others
    wait for its answer."""
    gives_up: bool = False
    """The wait is longer than ``--max-wait`` leaves: the run stops instead of waiting."""


@dataclass(frozen=True, slots=True)
class LoggedIn:
    """The client logged in; ``relogin``: again, after the server refused its token."""

    relogin: bool = False


@dataclass(frozen=True, slots=True)
class PageListed:
    """A page of a frame's listing arrived: ``assets`` rows, ``total`` so far."""

    frame_id: str
    page: int
    assets: int
    total: int
    more: bool


@dataclass(frozen=True, slots=True)
class Paced:
    """The pace changed since the last throttle: the rate requests are spaced at (it
    rises while nothing is throttled), or the time lost waiting (a wait ended)."""

    rate: float
    """Requests per second (inf: a quota window's burst, or no ceiling)."""
    lost: float = 0.0
    """Wall-clock seconds the run has lost to the server's throttling so far."""


Event = (
    PlanReady
    | JobsQueued
    | WouldDownload
    | BytesReceived
    | FileDone
    | FileFailed
    | FileLinked
    | Retrying
    | Throttled
    | Paced
    | DiskWarning
    | Notice
    | ListingRecorded
    | FrameEnded
    | LoggedIn
    | PageListed
)
EventHandler = Callable[[Event], None]


@dataclass
class FrameReport:
    """Counts for one frame; the figures of the one-line summary and of ``--json``.

    ``skipped`` counts files already present; ``placeholders`` counts listing rows with
    nothing to download (uploads that never completed); ``excluded`` counts files left out
    on purpose (``--no-videos``, ``--videos-only``, dates, uploaders); ``missing`` counts
    files downloaded once and since moved or deleted locally; ``linked`` counts duplicate
    photos given their name as a hard link, ``duplicates`` those skipped (``--dedupe skip``);
    ``removed`` lists files whose assets the frame no longer lists (nothing is deleted).
    ``damaged`` counts files found empty or cut short on disk and fetched again;
    ``changed`` lists files whose bytes changed on disk but are whole (the user's edits, kept).
    """

    frame: str
    frame_id: str = ""
    started_at: float | None = None
    """Unix time the frame's run began; ``None`` before it did."""
    finished_at: float | None = None
    """Unix time it ended; ``None`` while it runs."""
    exit_code: int | None = None
    """The exit code the frame gives; ``None`` while it runs."""
    listed: int = 0
    downloaded: int = 0
    skipped: int = 0
    placeholders: int = 0
    excluded: int = 0
    failed: int = 0
    bytes: int = 0
    seconds: float = 0.0
    throttled: int = 0
    missing: int = 0
    duplicates: int = 0
    linked: int = 0
    damaged: int = 0
    not_ready: int = 0
    """Videos still being processed by Aura (no URL yet): a later run fetches them."""
    not_attempted: int = 0
    """Files planned but never tried: the run stopped first (the next run fetches them)."""
    listing_complete: bool = True
    """Every page of the listing was read (``False``: ``--until-found`` stopped early, or
    the run was stopped before the last page)."""
    interrupted: bool = False
    error: str | None = None
    """Why the frame could not be done (not found, folder locked, disk); None if it was."""
    failures: list[tuple[str, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def summary_line(self) -> str:
        """One line for logs and terminals."""
        line = (
            f"{self.frame}: {self.downloaded} downloaded, {self.skipped} skipped, "
            f"{self.failed} failed, {human_bytes(self.bytes)}, {self.seconds:.1f}s, "
            f"{self.throttled} throttled"
        )
        extras = []
        if self.placeholders:
            extras.append(plural(self.placeholders, "placeholder"))
        if self.excluded:
            extras.append(f"{self.excluded} excluded")
        if self.missing:
            extras.append(f"{self.missing} missing locally")
        if self.linked:
            extras.append(f"{plural(self.linked, 'duplicate')} linked")
        if self.duplicates:
            extras.append(f"{plural(self.duplicates, 'duplicate')} skipped")
        if self.removed:
            extras.append(f"{len(self.removed)} removed from the frame")
        if self.damaged:
            extras.append(f"{self.damaged} damaged on disk, fetched again")
        if self.changed:
            extras.append(f"{len(self.changed)} changed locally, kept (see --verify)")
        if not self.listing_complete and not self.interrupted and self.error is None:
            extras.append("listing stopped early by --until-found")  # not by the run's end
        if self.not_ready:
            extras.append(f"{plural(self.not_ready, 'video')} not ready on Aura yet, fetched later")
        if self.not_attempted:
            extras.append(f"{self.not_attempted} not attempted: the next run fetches them")
        if self.interrupted:
            extras.append("interrupted")
        return f"{line} ({', '.join(extras)})" if extras else line

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object for this frame (schema documented in the README)."""
        return {
            "frame": self.frame,
            "frame_id": self.frame_id,
            "started_at": local_time(self.started_at),
            "finished_at": local_time(self.finished_at),
            "exit_code": self.exit_code,
            "listed": self.listed,
            "downloaded": self.downloaded,
            "skipped": self.skipped,
            "placeholders": self.placeholders,
            "excluded": self.excluded,
            "failed": self.failed,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "throttled": self.throttled,
            "missing_locally": self.missing,
            "duplicates_linked": self.linked,
            "duplicates_skipped": self.duplicates,
            "interrupted": self.interrupted,
            "error": self.error,
            "failures": [{"path": p, "reason": r} for p, r in self.failures],
            "removed": self.removed,
            "listing_complete": self.listing_complete,
            "not_attempted": self.not_attempted,
            "not_ready": self.not_ready,
            "damaged_refetched": self.damaged,
            "changed_locally": self.changed,
        }


class Recorder:
    """Builds a frame's :class:`FrameReport` from its events: the one place a report is
    filled, so an interrupted frame still has every figure up to that moment.

    Args:
        report: the report to fill.
        then: the run's own event handler (the display), called after the report is
            updated.
    """

    def __init__(self, report: FrameReport, then: EventHandler | None = None) -> None:
        self.report = report
        self._then = then
        self._to_fetch = 0

    def __call__(self, event: Event) -> None:
        """Note ``event`` in the report, then pass it on."""
        report = self.report
        if isinstance(event, FileDone):
            report.downloaded += 1
            report.bytes += event.size
        elif isinstance(event, FileFailed):
            report.failed += 1
            report.failures.append((event.relpath, event.reason))
        elif isinstance(event, FileLinked):
            report.linked += 1
        elif isinstance(event, Throttled):
            report.throttled += 1
        elif isinstance(event, JobsQueued):
            self._to_fetch += event.count
        elif isinstance(event, PlanReady):
            report.listed = event.listed
            report.skipped = event.present
            report.placeholders = event.placeholders
            report.excluded = event.excluded
            report.missing = event.missing
            report.duplicates = event.duplicates_skipped
            report.damaged = event.damaged
            report.changed = list(event.edited)
            report.listing_complete = event.listing_complete
            report.not_ready = event.not_ready
            self._to_fetch = event.to_fetch
        elif isinstance(event, ListingRecorded):
            report.removed = list(event.removed)
        elif isinstance(event, FrameEnded):
            report.seconds = event.seconds
            report.interrupted = report.interrupted or event.interrupted
            report.error = event.error if event.error is not None else report.error
            report.started_at = report.started_at or event.started_at
            report.finished_at = event.finished_at or report.finished_at
            if event.exit_code is not None:
                report.exit_code = event.exit_code
            if not event.dry_run:
                done = report.downloaded + report.failed
                report.not_attempted = max(0, self._to_fetch - done)
        if self._then is not None:
            self._then(event)


def human_bytes(count: int) -> str:
    """``1536`` -> ``1.5 KiB``: binary multiples, named as such (IEC), one decimal."""
    if count < 1024:
        return f"{count} B"
    value = count / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def local_time(when: float | None) -> str | None:
    """Unix time as ISO 8601 local time with its UTC offset, to the second
    (``2026-11-27T03:00:04+01:00``): which night a line of a log is, at a glance."""
    if when is None:
        return None
    return datetime.fromtimestamp(when).astimezone().isoformat(timespec="seconds")


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 placeholder``, ``3 placeholders`` (``words``: the plural when not word + s)."""
    return f"{count} {word if count == 1 else words or word + 's'}"
