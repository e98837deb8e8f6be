"""Fetching one file safely: stream to ``.part`` (resuming it), verify, finish, rename.

The rules that keep a family's photos intact live here:

* the HTTP status and Content-Type are checked before a byte is written, so an error page
  or a JSON body is never saved as a photo;
* bytes go to ``<name>.part`` beside the final path; a ``.part`` left by an earlier attempt
  or a killed run is resumed with a Range request, after the server's copy of its last
  16 KB has been compared with the disk's (a ``.part`` that is not a prefix of the file is
  discarded, never completed wrongly);
* the length is checked against Content-Length / Content-Range;
* only then is the file finished (EXIF added when asked, hashed, dated to ``taken_at``) and
  renamed atomically to its final name, so a final name never holds a partial file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from aura_async.api.http import error_for_status, redact, translate_errors
from aura_async.download.finish import Finish, finish_file
from aura_async.download.partfile import CHUNK_SIZE, Opener, PartWriter, open_part
from aura_async.exceptions import ServerError, StorageError, TransportError
from aura_async.models import MediaKind
from aura_async.plan.paths import PART_SUFFIX
from aura_async.plan.planner import Job
from aura_async.report import BytesReceived, EventHandler
from aura_async.seams import DiskPace

__all__ = [
    "Fetched",
    "Fetcher",
    "Finish",
]

RESUME_OVERLAP = 16 * 1024
"""Bytes of an existing ``.part`` fetched again and compared before resuming it."""


@dataclass(frozen=True)
class Fetched:
    """A file that reached its final name."""

    received: int
    size: int
    sha256: str


class _StalePart(TransportError):
    """The ``.part`` on disk does not match what the server sends: start over."""


def _part_size(part: Path) -> int:
    try:
        return part.stat().st_size
    except FileNotFoundError:
        return 0


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


def _check_type(job: Job, content_type: str, url: str) -> None:
    # An error page or a JSON error under a 200 must never be saved as a photo.
    major = content_type.split("/", 1)[0]
    if job.kind is MediaKind.PHOTO:
        ok = major == "image"
    else:
        ok = major == "video" or content_type in (
            "application/octet-stream",
            "binary/octet-stream",
        )
    if not ok:
        raise ServerError(
            f"server sent {content_type or 'no content type'} instead of a {job.kind.value}: "
            f"{redact(url)}",
            url=redact(url),
            status=200,
        )


class Fetcher:
    """One attempt at one file: GET (or resume), verify, finish, rename.

    Args:
        session: the shared aiohttp session (image requests carry no auth headers).
        on_event: progress callback (bytes received).
        opener: opens ``.part`` files (tests inject failing writers).
        wallclock: Unix time, for Retry-After dates.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        on_event: EventHandler,
        opener: Opener = open_part,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self.session = session
        self._emit = on_event
        self._opener = opener
        self._wallclock = wallclock

    async def fetch(
        self,
        job: Job,
        url: str,
        final: Path,
        finish: Finish,
        *,
        maybe_part: bool = True,
        pace: DiskPace | None = None,
    ) -> Fetched:
        """Fetch ``url`` into ``final``.

        Args:
            job: the file.
            url: where from (a refreshed URL for an expired clip).
            final: where to.
            finish: what to add before the rename.
            maybe_part: a ``.part`` may exist; ``False`` (the folder scan saw none, and no
                attempt has failed yet) saves a look at the disk.
            pace: the destination folder's :class:`DiskPace`, shared by its downloads;
                ``None`` keeps all disk work in worker threads.

        Raises:
            ApiError: HTTP or transport trouble (the caller's retry policy decides).
            StorageError: the file cannot be written.
        """
        part = final.with_name(final.name + PART_SUFFIX)
        offset = await asyncio.to_thread(_part_size, part) if maybe_part else 0
        overlap = min(offset, RESUME_OVERLAP)
        headers = {"Range": f"bytes={offset - overlap}-"} if offset else None
        try:
            with translate_errors(url):
                async with self.session.get(url, headers=headers) as response:
                    total = response.content_length
                    chunks: AsyncIterator[bytes] = response.content.iter_any()
                    if response.status == 206 and offset:
                        span = _content_range(response.headers.get("Content-Range"))
                        if span is None or span[0] != offset - overlap or span[1] < offset:
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
                    expected = None if total is None else total - offset
                    written, done = await self._stream(
                        part,
                        chunks,
                        pace=pace,
                        append=offset > 0,
                        expected=expected,
                        then=lambda known: finish_file(part, final, job.asset, finish, known),
                    )
        except _StalePart as exc:
            await self._discard(part)
            raise TransportError(f"{exc}, starting over: {redact(url)}", url=redact(url)) from exc
        if done is None:  # the writer could not finish the file itself
            try:
                done = await asyncio.to_thread(finish_file, part, final, job.asset, finish)
            except OSError as exc:
                raise StorageError(f"cannot write {final}: {exc.strerror or exc}") from exc
        size, sha256 = done
        return Fetched(received=written, size=size, sha256=sha256)

    async def _discard(self, part: Path) -> None:
        with contextlib.suppress(OSError):
            await asyncio.to_thread(part.unlink)

    async def _stream(
        self,
        part: Path,
        chunks: AsyncIterator[bytes],
        *,
        pace: DiskPace | None,
        append: bool,
        expected: int | None,
        then: Callable[[tuple[int, str]], tuple[int, str]],
    ) -> tuple[int, tuple[int, str] | None]:
        """Write the body to ``part``, check its length, and finish it when the writer can
        (see :class:`PartWriter`). On network trouble, what arrived stays in the ``.part``
        (the writer keeps it) for the retry to resume.

        Returns:
            The bytes received, and the final ``(size, sha256)`` if the file was finished.
        """
        written = 0
        unreported = 0
        try:
            async with self._opener(part, append) as out:
                if isinstance(out, PartWriter):
                    out.pace = pace
                    out.then = then  # run only if the block below ends without an error
                async for chunk in chunks:
                    await out.write(chunk)
                    written += len(chunk)
                    unreported += len(chunk)
                    if unreported >= CHUNK_SIZE:
                        self._emit(BytesReceived(unreported))
                        unreported = 0
                if unreported:
                    self._emit(BytesReceived(unreported))
                if expected is not None and written != expected:
                    raise TransportError(f"got {written} of {expected} bytes")
        except (aiohttp.ClientError, TimeoutError):
            raise  # network trouble (some are OSErrors too): translated and retried by the caller
        except OSError as exc:
            await self._discard(part)
            raise StorageError(f"cannot write {part}: {exc.strerror or exc}") from exc
        return written, out.result if isinstance(out, PartWriter) else None
