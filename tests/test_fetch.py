"""download/fetch.py: one attempt at one file against the emulator (fresh, resumed, stale,
416, refused types, short bodies), and table tests of its pure helpers."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from aura_async.download.fetch import (
    RESUME_OVERLAP,
    Fetcher,
    Streamed,
    _after_prefix,
    _check_type,
    _content_range,
    _StalePart,
)
from aura_async.download.partfile import CHUNK_SIZE
from aura_async.download.target import Finish, TargetFile
from aura_async.emulator import Emulator, EmulatorConfig, Faults, FrameSpec
from aura_async.exceptions import (
    ExpiredUrl,
    NotFound,
    ServerError,
    StorageError,
    TransportError,
)
from aura_async.models import Asset, MediaKind
from aura_async.pacing.retry import RetryPolicy
from aura_async.plan.planner import Job
from aura_async.report import BytesReceived, Event, FileDone
from aura_async.seams import Disk

from .conftest import FullDisk, first_frame_id, small_config
from .test_downloader import download, expected_files, files_on_disk

ONE_PHOTO_ONE_VIDEO = FrameSpec(photos=1, videos=1, live_photos=0, placeholders=0, hidden=0)


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    # a photo of several overlaps, a video of several batches (1 MiB each)
    return small_config(
        frames=[ONE_PHOTO_ONE_VIDEO], photo_size=5 * RESUME_OVERLAP, video_size=2 * CHUNK_SIZE + 777
    )


class Served:
    """The emulator's photo and video of the one-photo frame, and a job for each."""

    def __init__(self, emu: Emulator) -> None:
        frame = emu.library.frames[first_frame_id(emu)]
        photo = next(a for a in frame.assets if not a["video_url"])
        video = next(a for a in frame.assets if a["video_url"])
        self.photo_bytes = emu.library.expected_bytes(photo)
        self.video_bytes = emu.library.expected_bytes(video, clip=True)
        self.photo = Job(
            Asset(photo["id"]),
            MediaKind.PHOTO,
            "photo.jpg",
            f"{emu.image_url}/{photo['user_id']}/{photo['file_name']}",
        )
        self.video = Job(
            Asset(video["id"]), MediaKind.VIDEO, "clip.mp4", emu.sign(video["video_file_name"])
        )


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


class Run:
    """A fetcher on the test's session, the events it emitted, and the files it writes."""

    def __init__(self, session: aiohttp.ClientSession, folder: Path, disk: Disk) -> None:
        self.events: list[Event] = []
        self.fetcher = Fetcher(session, on_event=self.events.append)
        self.folder = folder
        self.disk = disk

    def target(self, job: Job) -> TargetFile:
        return TargetFile(
            job.asset,
            self.folder / job.relpath,
            Finish(),
            disk=self.disk,
            pace=None,
            maybe_part=True,
        )

    async def fetch(self, job: Job, url: str | None = None) -> tuple[Streamed, TargetFile]:
        target = self.target(job)
        streamed = await self.fetcher.fetch(job, url or job.url, target)
        return streamed, target

    def received(self) -> list[int]:
        return [e.count for e in self.events if isinstance(e, BytesReceived)]


@pytest.fixture
def run(session: aiohttp.ClientSession, tmp_path: Path) -> Run:
    return Run(session, tmp_path, Disk())


def streamed(data: bytes, received: int | None = None) -> Streamed:
    return Streamed(
        len(data) if received is None else received, len(data), hashlib.sha256(data).hexdigest()
    )


class TestFresh:
    async def test_a_photo_arrives_whole_in_its_part(self, emulator: Emulator, run: Run) -> None:
        """A 200 streams the body into the .part; size and hash are computed on the way."""
        served = Served(emulator)
        result, target = await run.fetch(served.photo)
        assert result == streamed(served.photo_bytes)
        assert target.part.read_bytes() == served.photo_bytes
        assert not target.final.exists()  # the commit gives the name, not the fetch
        assert emulator.counters.count("image", 200) == 1

    async def test_bytes_are_reported_per_batch(self, emulator: Emulator, run: Run) -> None:
        """Progress comes in steps of at least a batch, then the rest: every byte once."""
        served = Served(emulator)
        result, _ = await run.fetch(served.video)
        assert result == streamed(served.video_bytes)
        counts = run.received()
        assert sum(counts) == len(served.video_bytes)
        assert all(count >= CHUNK_SIZE for count in counts[:-1])
        assert len(counts) >= 2

    async def test_an_existing_part_is_replaced_when_the_server_ignores_range(
        self, run: Run, tmp_path: Path
    ) -> None:
        """A server without Range support answers 200 to a resume: the .part starts anew."""
        async with Emulator(
            small_config(
                frames=[ONE_PHOTO_ONE_VIDEO], photo_size=4 * RESUME_OVERLAP, range_support=False
            )
        ) as emu:
            served = Served(emu)
            run.target(served.photo).part.write_bytes(served.photo_bytes[:1000])
            result, target = await run.fetch(served.photo)
            assert emu.counters.count("image", 200) == 1
        assert result == streamed(served.photo_bytes)
        assert target.part.read_bytes() == served.photo_bytes


def _flip(data: bytes, at: int) -> bytes:
    """``data`` with one bit of byte ``at`` flipped."""
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


class TestResume:
    @pytest.mark.parametrize(
        "kept", [RESUME_OVERLAP // 2, RESUME_OVERLAP, 3 * RESUME_OVERLAP + 5, 5 * RESUME_OVERLAP]
    )
    async def test_a_true_prefix_is_completed_with_one_range_request(
        self, emulator: Emulator, run: Run, kept: int
    ) -> None:
        """A .part holding a prefix is resumed from up to 16 KiB before its end (those
        bytes compared, not written again); a complete one costs only the overlap."""
        served = Served(emulator)
        run.target(served.photo).part.write_bytes(served.photo_bytes[:kept])
        result, target = await run.fetch(served.photo)
        assert result == streamed(served.photo_bytes, received=len(served.photo_bytes) - kept)
        assert target.part.read_bytes() == served.photo_bytes
        assert emulator.counters.count("image", 206) == 1
        assert emulator.counters.bytes_sent == len(served.photo_bytes) - kept + min(
            kept, RESUME_OVERLAP
        )

    async def test_a_video_is_resumed_across_batches(self, emulator: Emulator, run: Run) -> None:
        """A clip cut after its first batch is completed, hashed whole."""
        served = Served(emulator)
        kept = CHUNK_SIZE + 4321
        run.target(served.video).part.write_bytes(served.video_bytes[:kept])
        result, target = await run.fetch(served.video)
        assert result == streamed(served.video_bytes, received=len(served.video_bytes) - kept)
        assert target.part.read_bytes() == served.video_bytes
        assert emulator.counters.count("video", 206) == 1

    @pytest.mark.parametrize(
        ("make_part", "why"),
        [
            (lambda data: b"x" * (2 * RESUME_OVERLAP), "does not match the server's bytes"),
            (lambda data: _flip(data[:3000], 100), "does not match the server's bytes"),
            (lambda data: data + b"extra", "does not fit the server's file"),
            (lambda data: data + b"e" * (RESUME_OVERLAP + 1), "longer than the file"),
        ],
        ids=["foreign", "one-byte-differs", "a-bit-longer", "longer-by-more-than-the-overlap"],
    )
    async def test_a_stale_part_is_discarded_and_the_next_attempt_starts_over(
        self,
        emulator: Emulator,
        run: Run,
        make_part: Callable[[bytes], bytes],
        why: str,
    ) -> None:
        """A .part that is not a prefix of the server's file (foreign bytes, longer: 206
        that does not fit, or 416) is removed and the attempt fails retryably; the next
        one fetches the whole file."""
        served = Served(emulator)
        run.target(served.photo).part.write_bytes(make_part(served.photo_bytes))
        with pytest.raises(TransportError, match=f"{why}, starting over: http://") as info:
            await run.fetch(served.photo)
        assert info.value.retryable
        assert "Signature" not in str(info.value)
        assert not run.target(served.photo).part.exists()
        status = 416 if "longer than" in why else 206
        assert emulator.counters.count("image", status) == 1
        result, _ = await run.fetch(served.photo)
        assert result == streamed(served.photo_bytes)
        assert emulator.counters.count("image", 200) == 1

    async def test_a_part_seen_by_nobody_is_not_looked_for(
        self, emulator: Emulator, run: Run
    ) -> None:
        """When the scan found no .part, the first attempt sends no Range at all."""
        served = Served(emulator)
        target = TargetFile(
            served.photo.asset,
            run.folder / "photo.jpg",
            Finish(),
            disk=Disk(),
            pace=None,
            maybe_part=False,
        )
        target.part.write_bytes(b"not looked at")
        result = await run.fetcher.fetch(served.photo, served.photo.url, target)
        assert result == streamed(served.photo_bytes)
        assert emulator.counters.count("image", 206) == 0


class TestRefused:
    async def test_an_html_page_under_200_is_never_written(self, run: Run) -> None:
        """A 200 with an HTML body for a photo is a retryable server error; no .part."""
        config = small_config(frames=[ONE_PHOTO_ONE_VIDEO], faults=Faults(html_error=1.0))
        async with Emulator(config) as emu:
            served = Served(emu)
            with pytest.raises(ServerError, match="text/html instead of a photo") as info:
                await run.fetch(served.photo)
        assert (info.value.status, info.value.retryable) == (200, True)
        assert not run.target(served.photo).part.exists()

    async def test_a_refused_type_leaves_an_existing_part_alone(self, run: Run) -> None:
        """Refusing a body does not touch what an earlier attempt kept."""
        config = small_config(frames=[ONE_PHOTO_ONE_VIDEO], faults=Faults(html_error=1.0))
        async with Emulator(config) as emu:
            served = Served(emu)
            part = run.target(served.photo).part
            part.write_bytes(served.photo_bytes[:500])
            with pytest.raises(ServerError):
                await run.fetch(served.photo)
        assert part.read_bytes() == served.photo_bytes[:500]

    @pytest.mark.parametrize("swap", ["video-for-photo", "photo-for-clip"])
    async def test_the_other_kind_of_media_is_refused(
        self, emulator: Emulator, run: Run, swap: str
    ) -> None:
        """A video where a photo is expected, or an image where a clip is, is refused."""
        served = Served(emulator)
        if swap == "video-for-photo":
            job, url, what = served.photo, served.video.url, "video/mp4 instead of a photo"
        else:
            job, url, what = served.video, served.photo.url, "image/jpeg instead of a video"
        with pytest.raises(ServerError, match=what):
            await run.fetch(job, url)
        assert not run.target(job).part.exists()

    @pytest.mark.parametrize(
        ("url_of", "error", "match"),
        [
            (lambda s: s.photo.url.rsplit("/", 1)[0] + "/missing.jpg", NotFound, "HTTP 404"),
            (lambda s: s.video.url.replace("Signature=", "Signature=0"), ExpiredUrl, "HTTP 403"),
        ],
        ids=["404", "403-signed"],
    )
    async def test_an_error_status_is_our_error(
        self,
        emulator: Emulator,
        run: Run,
        url_of: Callable[[Served], str],
        error: type[Exception],
        match: str,
    ) -> None:
        """A status other than 200 (or 206 on a resume) is raised as the tree's error, the
        URL's signature redacted; nothing is written."""
        served = Served(emulator)
        job = served.video if error is ExpiredUrl else served.photo
        with pytest.raises(error, match=match) as info:
            await run.fetch(job, url_of(served))
        assert "Signature" not in str(info.value)
        assert not run.target(job).part.exists()

    async def test_a_server_error_is_retryable(self, run: Run) -> None:
        """A 500 is a retryable ServerError."""
        config = small_config(frames=[ONE_PHOTO_ONE_VIDEO], faults=Faults(http_500=1.0))
        async with Emulator(config) as emu:
            with pytest.raises(ServerError, match="HTTP 500") as info:
                await run.fetch(Served(emu).photo)
        assert info.value.retryable


class TestShortAndWrong:
    async def test_a_body_cut_short_keeps_what_arrived_for_the_retry(
        self, run: Run, tmp_path: Path
    ) -> None:
        """The connection closed mid-body: a retryable error, the bytes received stay in
        the .part, and the next attempt resumes from them."""
        config = small_config(
            frames=[ONE_PHOTO_ONE_VIDEO], photo_size=5 * RESUME_OVERLAP, faults=Faults(truncate=1.0)
        )
        async with Emulator(config) as emu:
            served = Served(emu)
            with pytest.raises(TransportError, match="response cut short") as info:
                await run.fetch(served.photo)
            assert info.value.retryable
            kept = run.target(served.photo).part.read_bytes()
            assert kept
            assert served.photo_bytes.startswith(kept)
            emu.config.faults.truncate = 0.0
            result, target = await run.fetch(served.photo)
            assert emu.counters.count("image", 206) == 1
        assert result == streamed(served.photo_bytes, received=len(served.photo_bytes) - len(kept))
        assert target.part.read_bytes() == served.photo_bytes

    @pytest.mark.parametrize(
        ("rewrite", "error", "match"),
        [
            (
                lambda start, end, total: f"bytes {start}-{end}/{total + 100}",
                TransportError,
                r"got \d+ of \d+ bytes",
            ),
            (lambda start, end, total: f"bytes {start + 1}-{end}/{total}", _StalePart, "fit"),
            (lambda start, end, total: f"bytes */{total}", _StalePart, "fit"),
        ],
        ids=["total-too-big", "other-start", "unparseable"],
    )
    async def test_a_content_range_that_does_not_add_up(
        self,
        run: Run,
        rewrite: Callable[[int, int, int], str],
        error: type[Exception],
        match: str,
    ) -> None:
        """A 206 whose Content-Range promises more than the body brings is a length
        mismatch (the bytes kept for the retry); one that starts elsewhere, or cannot be
        read, does not fit the .part, which is discarded."""
        emu = Emulator(small_config(frames=[ONE_PHOTO_ONE_VIDEO], photo_size=4 * RESUME_OVERLAP))

        async def lie(request: web.Request, response: web.StreamResponse) -> None:
            header = response.headers.get("Content-Range")
            if header is not None:
                span, _, total = header[len("bytes ") :].partition("/")
                start, _, end = span.partition("-")
                response.headers["Content-Range"] = rewrite(int(start), int(end), int(total))

        emu.app.on_response_prepare.append(lie)
        async with emu:
            served = Served(emu)
            part = run.target(served.photo).part
            part.write_bytes(served.photo_bytes[: 2 * RESUME_OVERLAP])
            with pytest.raises(TransportError, match=match) as info:
                await run.fetch(served.photo)
        stale = error is _StalePart
        assert isinstance(info.value.__cause__, _StalePart) == stale
        if stale:
            assert not part.exists()
        else:
            assert part.read_bytes() == served.photo_bytes

    async def test_a_disk_that_refuses_the_write_is_a_storage_error(
        self, emulator: Emulator, session: aiohttp.ClientSession, tmp_path: Path
    ) -> None:
        """A write failing (disk full) is a StorageError naming the .part, which is
        removed: not a network error to retry."""

        run = Run(session, tmp_path, FullDisk())
        served = Served(emulator)
        with pytest.raises(
            StorageError, match=r"cannot write .*photo\.jpg\.part: No space"
        ) as info:
            await run.fetch(served.photo)
        assert isinstance(info.value, OSError)
        assert not run.target(served.photo).part.exists()


class TestThroughARun:
    """The same rules seen through a whole run (moved here from the scenario files)."""

    @pytest.fixture
    def emulator_config(self) -> EmulatorConfig:
        return small_config()

    async def test_part_file_is_resumed_with_range(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """A .part holding a true prefix is completed with one Range request, byte-identical."""
        root = tmp_path / "myframe"
        root.mkdir()
        expected = expected_files(emulator)
        name = next(n for n in sorted(expected) if n.endswith(".mov"))
        half = len(expected[name]) // 2
        (root / (name + ".part")).write_bytes(expected[name][:half])
        emulator.counters.reset()
        _, events = await download(emulator, tmp_path)
        (done,) = [e for e in events if isinstance(e, FileDone) and e.relpath == name]
        assert (done.size, done.resumed_from) == (len(expected[name]) - half, half)
        assert emulator.counters.count("video", 206) == 1
        assert (
            emulator.counters.count("video", 200)
            == sum(n.endswith((".mov", ".mp4")) for n in expected) - 1
        )
        assert files_on_disk(root) == expected

    @pytest.mark.parametrize("range_support", [True, False])
    async def test_part_longer_than_file_or_no_range(
        self, tmp_path: Path, range_support: bool
    ) -> None:
        """A .part longer than the file (416), or a server without Range, still ends right."""
        config = small_config(range_support=range_support)
        async with Emulator(config) as emu:
            root = tmp_path / "myframe"
            root.mkdir()
            expected = expected_files(emu)
            name = sorted(expected)[0]
            (root / (name + ".part")).write_bytes(expected[name] + b"extra")
            await download(emu, tmp_path)
            assert files_on_disk(root) == expected

    async def test_a_complete_part_is_finished_not_fetched_again(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """A .part holding the whole file (killed before the rename) costs only the overlap."""
        root = tmp_path / "myframe"
        root.mkdir()
        expected = expected_files(emulator)
        name = next(n for n in sorted(expected) if n.endswith(".mov"))
        (root / (name + ".part")).write_bytes(expected[name])
        await download(emulator, tmp_path)
        assert files_on_disk(root) == expected
        assert emulator.counters.count("video", 206) == 1

    async def test_html_page_is_never_saved(self, tmp_path: Path) -> None:
        """A 200 HTML error page is retried, never saved as a photo."""
        config = small_config(
            frames=[FrameSpec(photos=5, videos=0, live_photos=0, placeholders=0, hidden=0)]
        )
        config.faults.html_error = 1.0
        async with Emulator(config) as emu:
            report, _ = await download(emu, tmp_path, policy=RetryPolicy(attempts=2, backoff=0.001))
        assert report.failed == 5
        assert "text/html instead of a photo" in report.failures[0][1]
        assert files_on_disk(tmp_path / "myframe") == {}


async def _stream(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def _after(chunks: list[bytes], prefix: bytes) -> list[bytes]:
    return [chunk async for chunk in _after_prefix(_stream(chunks), prefix)]


@pytest.mark.parametrize(
    ("chunks", "prefix", "rest"),
    [
        ([b"abc", b"def"], b"ab", [b"c", b"def"]),
        ([b"ab", b"cd"], b"ab", [b"cd"]),
        ([b"a", b"bc", b"d"], b"abc", [b"d"]),
        ([b"a", b"b", b"c", b"defg"], b"abcd", [b"efg"]),
        ([b"abc"], b"abc", []),
        ([b"", b"ab", b"", b"cd"], b"a", [b"b", b"cd"]),
        ([b"xy", b"z"], b"", [b"xy", b"z"]),
        ([], b"", []),
    ],
)
async def test_after_prefix(chunks: list[bytes], prefix: bytes, rest: list[bytes]) -> None:
    """The stream after a prefix that matches: every other byte, in order, no empty chunks."""
    assert await _after(chunks, prefix) == rest


@pytest.mark.parametrize(
    ("chunks", "prefix", "stale"),
    [
        ([b"abX", b"d"], b"abc", True),
        ([b"a", b"bX"], b"abc", True),
        ([b"Xbcdef"], b"abc", True),
        ([b"ab"], b"abc", False),
        ([b"a", b"b"], b"abc", False),
        ([], b"abc", False),
    ],
)
async def test_after_prefix_refuses(chunks: list[bytes], prefix: bytes, stale: bool) -> None:
    """Bytes that differ from the prefix mean a stale .part (start over); a body that ends
    before the prefix does is cut short (retry)."""
    with pytest.raises(TransportError) as info:
        await _after(chunks, prefix)
    assert isinstance(info.value, _StalePart) == stale
    assert ("does not match" if stale else "cut short before the resume point") in str(info.value)


@pytest.mark.parametrize(
    ("header", "span"),
    [
        ("bytes 0-99/100", (0, 100)),
        ("bytes 16384-65535/65536", (16384, 65536)),
        ("bytes 99-99/100", (99, 100)),
        (None, None),
        ("", None),
        ("bytes */100", None),
        ("bytes 0-99/*", None),
        ("bytes 0-99", None),
        ("items 0-99/100", None),
        ("bytes -1-99/100", None),
        ("bytes  0-99/100", None),
        ("Bytes 0-99/100", None),
    ],
)
def test_content_range(header: str | None, span: tuple[int, int] | None) -> None:
    """``bytes START-END/TOTAL`` gives (START, TOTAL) (RFC 9110 14.4); anything else None."""
    assert _content_range(header) == span


PHOTO, VIDEO, LIVE = MediaKind.PHOTO, MediaKind.VIDEO, MediaKind.LIVE


@pytest.mark.parametrize(
    ("kind", "content_type", "accepted"),
    [
        (PHOTO, "image/jpeg", True),
        (PHOTO, "image/heic", True),
        (PHOTO, "image/png", True),
        (PHOTO, "text/html", False),
        (PHOTO, "application/json", False),
        (PHOTO, "application/octet-stream", False),
        (PHOTO, "video/mp4", False),
        (PHOTO, "", False),
        (VIDEO, "video/mp4", True),
        (VIDEO, "video/quicktime", True),
        (VIDEO, "application/octet-stream", True),
        (VIDEO, "binary/octet-stream", True),
        (VIDEO, "image/jpeg", False),
        (VIDEO, "text/xml", False),
        (VIDEO, "application/json", False),
        (VIDEO, "", False),
        (LIVE, "video/quicktime", True),
        (LIVE, "application/octet-stream", True),
        (LIVE, "text/html", False),
    ],
)
def test_check_type(kind: MediaKind, content_type: str, accepted: bool) -> None:
    """Photos must be images; clips videos or octet streams; else a retryable refusal
    naming what came, with the URL's signature redacted."""
    job = Job(Asset("a1"), kind, "a1.bin", "")
    url = "https://cdn.example/v/a1.mov?Expires=1&Signature=secret"
    if accepted:
        _check_type(job, content_type, url)
        return
    with pytest.raises(ServerError) as info:
        _check_type(job, content_type, url)
    message = str(info.value)
    assert f"{content_type or 'no content type'} instead of a {kind.value}" in message
    assert "secret" not in message
    assert (info.value.url, info.value.status) == ("https://cdn.example/v/a1.mov", 200)
