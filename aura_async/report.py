"""What happened during a run: progress events and per-frame summaries (pure data).

The library never prints. It calls an ``on_event`` callback with the events below, and
fills a :class:`FrameReport` per frame from the same events, through one
:class:`Recorder`; the CLI renders both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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
    "ListingRecorded",
    "Paced",
    "PlanReady",
    "Recorder",
    "Retrying",
    "Throttled",
    "human_bytes",
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


@dataclass(frozen=True, slots=True)
class BytesReceived:
    """A chunk of some file arrived."""

    count: int


@dataclass(frozen=True, slots=True)
class FileDone:
    """A file was verified and moved to its final name."""

    relpath: str
    size: int


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
    lost: float = 0.0
    """Wall-clock seconds the run has lost to the server's throttling so far (counted
    once, however many workers waited), this wait not included."""
    told: bool = True
    """``wait`` is what the server asked (``Retry-After``), not a guess."""
    new: bool = True
    """It began a new episode (not one more answer to requests already in flight)."""


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
    | BytesReceived
    | FileDone
    | FileFailed
    | FileLinked
    | Retrying
    | Throttled
    | Paced
    | DiskWarning
    | ListingRecorded
    | FrameEnded
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
    """

    frame: str
    frame_id: str = ""
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
    interrupted: bool = False
    error: str | None = None
    """Why the frame could not be done (not found, folder locked, disk); None if it was."""
    failures: list[tuple[str, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def summary_line(self) -> str:
        """One line for logs and terminals."""
        line = (
            f"{self.frame}: {self.downloaded} downloaded, {self.skipped} skipped, "
            f"{self.failed} failed, {human_bytes(self.bytes)}, {self.seconds:.1f}s, "
            f"{self.throttled} throttled"
        )
        extras = []
        if self.placeholders:
            extras.append(f"{self.placeholders} placeholders")
        if self.excluded:
            extras.append(f"{self.excluded} excluded")
        if self.missing:
            extras.append(f"{self.missing} missing locally")
        if self.linked:
            extras.append(f"{self.linked} duplicates linked")
        if self.duplicates:
            extras.append(f"{self.duplicates} duplicates skipped")
        if self.removed:
            extras.append(f"{len(self.removed)} removed from the frame")
        if self.interrupted:
            extras.append("interrupted")
        return f"{line} ({', '.join(extras)})" if extras else line

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object for this frame (schema documented in the README)."""
        return {
            "frame": self.frame,
            "frame_id": self.frame_id,
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
        elif isinstance(event, PlanReady):
            report.listed = event.listed
            report.skipped = event.present
            report.placeholders = event.placeholders
            report.excluded = event.excluded
            report.missing = event.missing
            report.duplicates = event.duplicates_skipped
        elif isinstance(event, ListingRecorded):
            report.removed = list(event.removed)
        elif isinstance(event, FrameEnded):
            report.seconds = event.seconds
            report.interrupted = report.interrupted or event.interrupted
            report.error = event.error if event.error is not None else report.error
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
