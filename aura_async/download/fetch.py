"""One attempt at one file over HTTP: GET (or resume with Range), check, stream to its ``.part``.

The rules that keep a family's photos intact on the network side live here:

* the HTTP status and Content-Type are checked before a byte is written, so an error page
  or a JSON body is never saved as a photo;
* bytes go to ``<name>.part`` beside the final path; a ``.part`` left by an earlier attempt
  or a killed run is resumed with a Range request, after the server's copy of its last
  16 KB has been compared with the disk's (a ``.part`` that is not a prefix of the file is
  discarded, never completed wrongly);
* the length is checked against Content-Length / Content-Range;
* only a ``.part`` that passed every check is handed back, for
  :meth:`aura_async.download.target.TargetFile.commit` to make durable and rename.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp

from aura_async.api.http import error_for_status, redact, translate_errors
from aura_async.download.partfile import CHUNK_SIZE
from aura_async.download.target import TargetFile
from aura_async.exceptions import ServerError, StorageError, TransportError
from aura_async.models import MediaKind
from aura_async.plan.planner import Job
from aura_async.report import BytesReceived, EventHandler

__all__ = ["Fetcher", "Streamed"]

RESUME_OVERLAP = 16 * 1024
"""Bytes of an existing ``.part`` fetched again and compared before resuming it."""


@dataclass(frozen=True)
class Streamed:
    """A body that arrived whole in its ``.part``.

    Attributes:
        received: bytes received by this attempt (less than ``size`` after a resume).
        size: bytes of the complete ``.part``.
        sha256: hex SHA-256 of the complete ``.part``.
    """

    received: int
    size: int
    sha256: str


class _StalePart(TransportError):
    """The ``.part`` on disk does not match what the server sends: start over."""


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
    """One attempt at one file: GET (or resume), check, stream into its ``.part``.

    Args:
        session: the shared aiohttp session (image requests carry no auth headers).
        on_event: progress callback (bytes received).
        wallclock: Unix time, for Retry-After dates.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        on_event: EventHandler,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self.session = session
        self._emit = on_event
        self._wallclock = wallclock

    async def fetch(self, job: Job, url: str, target: TargetFile) -> Streamed:
        """Fetch ``url`` into ``target``'s ``.part``, resuming what an earlier attempt left.

        Args:
            job: the file (its kind decides the content types accepted).
            url: where from (a refreshed URL for an expired clip).
            target: the file being written.

        Returns:
            The complete ``.part``'s figures; :meth:`TargetFile.commit` gives it its name.

        Raises:
            ApiError: HTTP or transport trouble (the caller's retry policy decides).
            StorageError: the ``.part`` cannot be written.
        """
        offset = await target.resume_offset()
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
                        chunks = _after_prefix(chunks, await target.read_tail(overlap))
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
                    return await self._stream(target, chunks, offset > 0, expected)
        except _StalePart as exc:
            await target.discard()
            raise TransportError(f"{exc}, starting over: {redact(url)}", url=redact(url)) from exc

    async def _stream(
        self,
        target: TargetFile,
        chunks: AsyncIterator[bytes],
        append: bool,
        expected: int | None,
    ) -> Streamed:
        """Write the body to the ``.part`` and check its length. On network trouble, what
        arrived stays in the ``.part`` (the writer keeps it) for the retry to resume."""
        written = 0
        unreported = 0
        try:
            async with target.writer(append) as out:
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
            await target.discard()
            raise StorageError(f"cannot write {target.part}: {exc.strerror or exc}") from exc
        assert out.result is not None  # set by a clean exit from the block
        size, sha256 = out.result
        return Streamed(received=written, size=size, sha256=sha256)
