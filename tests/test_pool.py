"""download/pool.py: Transfers, the worker pool, against the emulator: concurrency, a
file's failure against a fatal one, expired clip URLs, duplicates, sidecars, durability."""

from __future__ import annotations

import asyncio
import errno
import json
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from aura_async.api.client import AuraClient
from aura_async.config import FrameConfig
from aura_async.download.fetch import Fetcher
from aura_async.download.pool import Destination, Transfers
from aura_async.emulator import Emulator, EmulatorConfig, Faults, FrameSpec
from aura_async.exceptions import StorageError
from aura_async.options import DownloadOptions
from aura_async.pacing.limiter import AdaptiveLimiter
from aura_async.pacing.retry import RetryPolicy
from aura_async.plan.planner import Job, Plan, Planner
from aura_async.plan.templates import Templates
from aura_async.report import (
    DiskWarning,
    Event,
    FileDone,
    FileFailed,
    FileLinked,
    Retrying,
)
from aura_async.seams import Disk, DiskPace, File, Mode, Seams
from aura_async.store.records import FileRecord
from aura_async.store.scan import scan_relpaths
from aura_async.store.state import State
from aura_async.store.writer import StateWriter

from .conftest import first_frame_id, no_wait, small_config
from .test_downloader import download, expected_files, files_on_disk

PHOTOS = FrameSpec(photos=12, videos=0, live_photos=0, placeholders=0, hidden=0)
YEARS = Templates(folder="{year}")
QUICK = RetryPolicy(attempts=3, backoff=0.001, backoff_max=0.001)


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return small_config(frames=[PHOTOS])


@dataclass
class Pool:
    """A logged-in client, a plan of the emulator's first frame, and the pool under test."""

    emu: Emulator
    client: AuraClient
    transfers: Transfers
    plan: Plan
    to: Destination
    writer: StateWriter
    state: State
    events: list[Event]

    @property
    def root(self) -> Path:
        return self.to.root

    def here(self) -> list[Job]:
        """The plan's files already here and its duplicates (which may lack sidecars)."""
        return [*self.plan.present, *(job for job, _ in self.plan.duplicates)]

    def of(self, kind: type[Any]) -> list[Any]:
        """The events of one type, in order."""
        return [e for e in self.events if isinstance(e, kind)]

    async def records(self) -> dict[str, FileRecord]:
        """What the state holds after the writer's pending batch, by relpath."""
        await self.writer.flush()
        return {r.relpath: r for r in self.state.files().values()}

    async def replan(self) -> Plan:
        """A new plan of the frame against what is now in the folder."""
        self.plan = await _plan(self.client, self.emu, self.root, self.transfers.options)
        return self.plan


async def _plan(client: AuraClient, emu: Emulator, root: Path, options: DownloadOptions) -> Plan:
    planner = Planner(
        image_base=emu.image_url,
        frame="myframe",
        layout=options.layout,
        found=await asyncio.to_thread(scan_relpaths, root),
        dedupe=options.dedupe,
    )
    for asset in await client.all_assets(first_frame_id(emu), page_size=None):
        planner.add(asset)
    return planner.plan


@asynccontextmanager
async def pool(
    emu: Emulator, folder: Path, *, disk: Disk | None = None, **options: Any
) -> AsyncIterator[Pool]:
    """The pool for the frame, as :class:`~aura_async.download.frame.Downloader` builds it."""
    events: list[Event] = []
    seams = Seams(sleep=no_wait, disk=disk or Disk())
    download_options = DownloadOptions(policy=QUICK, page_size=None, **options)
    root = folder / "myframe"
    async with aiohttp.ClientSession() as session:
        client = AuraClient(
            session, emu.api_url, emu.config.email, emu.config.password, sleep=no_wait
        )
        await client.login()
        transfers = Transfers(
            client,
            Fetcher(session, on_event=events.append),
            AdaptiveLimiter(None, sleep=no_wait),
            download_options,
            seams,
        )
        plan = await _plan(client, emu, root, download_options)
        seams.disk.make_folders(root)
        frame = FrameConfig("myframe", first_frame_id(emu), root)
        with State.open(root) as state:
            pace = DiskPace()
            async with StateWriter(
                state, pace=pace, prepare=lambda batch: transfers.sync_folders(root, batch)
            ) as writer:
                to = Destination(frame, writer, pace, events.append)
                yield Pool(emu, client, transfers, plan, to, writer, state, events)


class TestConcurrency:
    @pytest.fixture
    def emulator_config(self) -> EmulatorConfig:
        # 30 ms per request: even on a loaded machine, every worker is mid-request at once.
        return small_config(
            frames=[FrameSpec(photos=24, videos=0, live_photos=0, placeholders=0, hidden=0)],
            media_latency=0.03,
        )

    @pytest.mark.parametrize("workers", [1, 3, 8])
    async def test_in_flight_never_above_concurrency(
        self, emulator: Emulator, tmp_path: Path, workers: int
    ) -> None:
        """The emulator never sees more than N media requests at once, and sees N."""
        await download(emulator, tmp_path, concurrency=workers)
        assert emulator.counters.max_media_in_flight == workers

    async def test_more_workers_than_files(self, emulator: Emulator, tmp_path: Path) -> None:
        """Workers beyond the number of files end at once; each file is fetched once."""
        async with pool(emulator, tmp_path, concurrency=50) as p:
            await p.transfers.fetch_all(p.to, p.plan)
            assert len(p.of(FileDone)) == len(p.plan.jobs) == 24
            assert emulator.counters.media_requests == 24
            assert files_on_disk(p.root) == expected_files(emulator)


class TestQueue:
    async def test_jobs_are_fetched_as_they_are_queued(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """Workers take jobs as the listing queues them (the first file arrives before the
        rest is even queued) and stop once each has taken its None."""
        async with pool(emulator, tmp_path, concurrency=2) as p:
            queue: asyncio.Queue[Job | None] = asyncio.Queue(maxsize=1)
            fetching = asyncio.create_task(p.transfers.fetch_queued(p.to, queue))
            first, *rest = p.plan.jobs
            await queue.put(first)
            await _until(lambda: bool(p.of(FileDone)))
            assert [e.relpath for e in p.of(FileDone)] == [first.relpath]
            for job in rest:
                await queue.put(job)
            for _ in range(p.transfers.workers):
                await queue.put(None)
            await asyncio.wait_for(fetching, 10)
            assert len(p.of(FileDone)) == len(p.plan.jobs)
            assert files_on_disk(p.root) == expected_files(emulator)

    @pytest.mark.parametrize(("concurrency", "workers"), [(0, 1), (1, 1), (6, 6)])
    async def test_workers(
        self, emulator: Emulator, tmp_path: Path, concurrency: int, workers: int
    ) -> None:
        """The pool runs --concurrency workers, at least one."""
        async with pool(emulator, tmp_path, concurrency=concurrency) as p:
            assert p.transfers.workers == workers


async def _until(condition: Callable[[], bool]) -> None:
    """Until ``condition()`` holds (files arrive over loopback and worker threads)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not condition():
        assert loop.time() < deadline, "never happened"
        await asyncio.sleep(0.001)


class TestFiles:
    async def test_every_file_is_committed_and_recorded(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """Each file lands under its name, dated, and is recorded with its size and hash."""
        async with pool(emulator, tmp_path) as p:
            await p.transfers.fetch_all(p.to, p.plan)
            expected = expected_files(emulator)
            assert files_on_disk(p.root) == expected
            assert sorted(e.relpath for e in p.of(FileDone)) == sorted(expected)
            assert sum(e.size for e in p.of(FileDone)) == sum(map(len, expected.values()))
            records = await p.records()
        assert set(records) == set(expected)
        for relpath, record in records.items():
            assert record.size == len(expected[relpath])
            assert record.sha256 is not None
            assert record.downloaded_at is not None

    async def test_one_failed_file_does_not_stop_the_others(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """A file the server does not have fails alone (not fatal); every other arrives."""
        gone = sorted(emulator.library.images)[0]
        del emulator.library.images[gone]
        async with pool(emulator, tmp_path) as p:
            await p.transfers.fetch_all(p.to, p.plan)
            (failed,) = p.of(FileFailed)
            assert not failed.fatal
            assert failed.reason.startswith("not found (HTTP 404)")
            assert len(p.of(FileDone)) == len(p.plan.jobs) - 1
            records = await p.records()
        assert failed.relpath not in records
        assert len(records) == len(p.plan.jobs) - 1

    async def test_retryable_trouble_is_retried_and_told(self, tmp_path: Path) -> None:
        """Server errors are retried (each retry told as an event) until the file arrives."""
        config = small_config(frames=[PHOTOS], faults=Faults(seed=3, http_500=0.3))
        async with Emulator(config) as emu, pool(emu, tmp_path, concurrency=1) as p:
            await p.transfers.fetch_all(p.to, p.plan)
            retries = p.of(Retrying)
            assert len(retries) == emu.counters.count("image", 500) > 0
            assert all("HTTP 500" in e.reason for e in retries)
            assert files_on_disk(p.root) == expected_files(emu)

    async def test_a_part_left_by_an_earlier_run_is_resumed(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """A relpath the scan found as a .part is resumed with a Range request."""
        async with pool(emulator, tmp_path) as p:
            job = p.plan.jobs[0]
            data = expected_files(emulator)[job.relpath]
            (p.root / (job.relpath + ".part")).write_bytes(data[: len(data) // 2])
            await p.transfers.fetch_all(p.to, p.plan, parts={job.relpath})
            assert emulator.counters.count("image", 206) == 1
            assert files_on_disk(p.root) == expected_files(emulator)


class _BrokenFile:
    def __init__(self, real: File) -> None:
        self.real = real

    def read(self, size: int = -1, /) -> bytes:
        return self.real.read(size)

    def write(self, data: bytes, /) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def close(self) -> None:
        self.real.close()


class BrokenDisk(Disk):
    """A disk failing one kind of step with OSError: ``write``, ``replace`` (the rename),
    ``make_folders``, ``sync`` or ``sync_folder`` (with ``code``); only for the names in
    :attr:`only` when it is set."""

    def __init__(self, step: str, code: int = errno.EIO) -> None:
        self.step = step
        self.code = code
        self.only: set[str] | None = None
        self.calls = 0

    def _maybe_fail(self, step: str, path: Path) -> None:
        if step == self.step and (self.only is None or path.name in self.only):
            self.calls += 1
            raise OSError(self.code, os.strerror(self.code))

    def open(self, path: Path, mode: Mode) -> File:
        real = super().open(path, mode)
        return _BrokenFile(real) if self.step == "write" else real

    def replace(self, source: Path, target: Path) -> None:
        self._maybe_fail("replace", target)
        super().replace(source, target)

    def make_folders(self, folder: Path) -> None:
        if folder.name != "myframe":  # the frame's own folder is made by the test
            self._maybe_fail("make_folders", folder)
        super().make_folders(folder)

    def sync(self, path: Path) -> None:
        self._maybe_fail("sync", path)
        super().sync(path)

    def sync_folder(self, folder: Path) -> None:
        self._maybe_fail("sync_folder", folder)
        super().sync_folder(folder)


class TestFatal:
    @pytest.fixture
    def emulator_config(self) -> EmulatorConfig:
        return small_config(frames=[PHOTOS], media_latency=0.03)

    @pytest.mark.parametrize(
        ("step", "message"),
        [
            ("write", r"cannot write .*\.part: No space left"),
            ("replace", r"cannot write .*myframe/.*: Input/output error"),
            ("make_folders", r"cannot create .*2\d\d\d: Input/output error"),
        ],
    )
    async def test_a_disk_error_stops_every_worker(
        self, emulator: Emulator, tmp_path: Path, step: str, message: str
    ) -> None:
        """A disk error on one file (a write, the rename, a folder) is raised as itself,
        told as a fatal failure, and stops every worker: at once for a write or a folder,
        at each worker's next file for a rename (the committer's thread reports it)."""
        layout = YEARS if step == "make_folders" else Templates()
        disk = BrokenDisk(step)
        async with pool(emulator, tmp_path, disk=disk, concurrency=3, layout=layout) as p:
            with pytest.raises(StorageError, match=message):
                await p.transfers.fetch_all(p.to, p.plan)
            failed = p.of(FileFailed)
            assert failed
            assert all(e.fatal for e in failed)
            assert not p.of(FileDone)
            started = emulator.counters.media_requests
            if step == "replace":  # 30 ms a request: the failed commit is back long before
                assert started < len(p.plan.jobs)
            else:  # each worker's first file raised it
                assert started <= 3
            assert await p.records() == {}
        assert all(n.endswith(".part") for n in files_on_disk(tmp_path / "myframe"))

    async def test_a_bug_is_not_taken_for_a_file_failure(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """An error outside the tree (a bug) is not reported as a failed file: it stops
        the pool and comes out, in the TaskGroup's exception group."""

        class BuggyDisk(Disk):
            def make_folders(self, folder: Path) -> None:
                if folder.name != "myframe":
                    raise RuntimeError("bug")
                super().make_folders(folder)

        async with pool(emulator, tmp_path, disk=BuggyDisk(), layout=YEARS) as p:
            with pytest.raises(ExceptionGroup) as info:
                await p.transfers.fetch_all(p.to, p.plan)
            assert info.group_contains(RuntimeError, match="bug")
            assert not p.of(FileFailed)


class TestDurability:
    @pytest.mark.parametrize("code", [errno.EINVAL, errno.ENOTSUP, errno.ENOSYS])
    async def test_no_fsync_warns_once_and_still_commits(
        self, emulator: Emulator, tmp_path: Path, code: int
    ) -> None:
        """A file system that cannot fsync gets every file, and one warning for the folder."""
        disk = BrokenDisk("sync", code)
        async with pool(emulator, tmp_path, disk=disk) as p:
            await p.transfers.fetch_all(p.to, p.plan)
            (warning,) = p.of(DiskWarning)
            assert "cannot make files durable (fsync)" in warning.message
            assert str(p.root) in warning.message
            assert len(p.of(FileDone)) == len(p.plan.jobs)
            assert disk.calls == len(p.plan.jobs)
            assert files_on_disk(p.root) == expected_files(emulator)

    async def test_folders_are_synced_before_their_records(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """The state's prepare step makes each folder of a batch durable, once, before the
        batch is recorded."""

        class Folders(Disk):
            def __init__(self) -> None:
                self.synced: list[str] = []

            def sync_folder(self, folder: Path) -> None:
                self.synced.append(folder.name)
                super().sync_folder(folder)

        disk = Folders()
        async with pool(emulator, tmp_path, disk=disk, layout=YEARS) as p:
            await p.transfers.fetch_all(p.to, p.plan)
            years = {job.relpath.split("/")[0] for job in p.plan.jobs}
            assert len(years) > 1
            disk.synced.clear()
            assert p.writer.pending == len(p.plan.jobs)  # less than a batch: not yet written
            records = await p.records()
            assert sorted(disk.synced) == sorted(years)
            assert len(records) == len(p.plan.jobs)

    async def test_a_folder_that_cannot_be_synced_keeps_its_batch_out(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """A folder sync failing with an I/O error keeps the batch pending (the state never
        records a file whose name a power cut could take back); a later flush writes it."""
        disk = BrokenDisk("sync_folder")
        async with pool(emulator, tmp_path, disk=disk) as p:
            await p.transfers.fetch_all(p.to, p.plan)
            with pytest.raises(StorageError, match=r"cannot sync .*myframe: Input/output"):
                await p.writer.flush()
            assert p.writer.pending == len(p.plan.jobs)
            assert p.state.files() == {}
            disk.step = ""  # the share answers again
            assert len(await p.records()) == len(p.plan.jobs)

    async def test_a_folder_sync_that_is_unsupported_is_skipped(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """Where folders cannot be synced at all (EINVAL), the records are written anyway."""
        disk = BrokenDisk("sync_folder", errno.EINVAL)
        async with pool(emulator, tmp_path, disk=disk) as p:
            await p.transfers.fetch_all(p.to, p.plan)
            assert len(await p.records()) == len(p.plan.jobs)
            assert disk.calls >= 1


class TestVideoUrls:
    @pytest.fixture
    def emulator_config(self) -> EmulatorConfig:
        return small_config(
            frames=[FrameSpec(photos=3, videos=4, live_photos=3, placeholders=0, hidden=0)],
            video_url_ttl=-60.0,  # every URL of the plan's listing is already stale
        )

    async def test_expired_clip_urls_come_from_one_new_listing(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """Every clip refused as expired gets a fresh URL from one re-listing shared by
        the workers, and arrives; the stills never needed one."""
        async with pool(emulator, tmp_path, concurrency=4) as p:
            emulator.config.video_url_ttl = 3600.0  # the re-listing signs good URLs
            emulator.counters.reset()
            await p.transfers.fetch_all(p.to, p.plan)
            assert emulator.counters.count("assets") == 1
            assert emulator.counters.count("video", 403) == 7
            assert emulator.counters.count("video", 200) == 7
            assert not p.of(FileFailed)
            assert files_on_disk(p.root) == expected_files(emulator)

    async def test_a_clip_refused_after_its_refreshes_fails_alone(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """A clip still refused with fresh URLs fails (not fatally) after two refreshes at
        most; the stills arrive."""
        async with pool(emulator, tmp_path, concurrency=2) as p:
            emulator.config.video_url_ttl = 3600.0
            emulator.config.faults.expire_video = 1.0
            emulator.counters.reset()
            await p.transfers.fetch_all(p.to, p.plan)
            failed = p.of(FileFailed)
            assert len(failed) == 7
            assert all(not e.fatal and "signed URL refused" in e.reason for e in failed)
            assert 7 <= emulator.counters.count("video", 403) <= 3 * 7
            assert emulator.counters.count("assets") <= 2 * 7
            assert len(p.of(FileDone)) == 10  # every still, videos' posters included


class TestDuplicates:
    async def test_a_duplicate_is_a_hard_link_with_its_own_record(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """The same photo uploaded twice is fetched once; its second name is a hard link
        (made through a temporary name, replacing a stale one), recorded with its own asset."""
        frame = emulator.library.frames[first_frame_id(emulator)]
        emulator.library.add_asset(frame, "photo", md5_of=frame.assets[-1]["id"])
        async with pool(emulator, tmp_path) as p:
            ((job, source),) = p.plan.duplicates
            await p.transfers.fetch_all(p.to, p.plan)
            (p.root / (job.relpath + ".part")).write_bytes(b"left by a killed run")
            await p.transfers.link_duplicates(p.to, p.plan)
            assert [e.relpath for e in p.of(FileLinked)] == [job.relpath]
            assert (p.root / job.relpath).stat().st_ino == (p.root / source).stat().st_ino
            assert emulator.counters.files[str(job.asset.file_name)] == 0
            records = await p.records()
        assert records[job.relpath].asset_id == job.asset.id
        assert records[job.relpath].size == (p.root / source).stat().st_size
        assert files_on_disk(p.root) == expected_files(emulator)

    async def test_no_link_when_the_first_copy_failed(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """When the first copy could not be fetched, there is nothing to link to: the
        duplicate is left for the next run."""
        frame = emulator.library.frames[first_frame_id(emulator)]
        emulator.library.add_asset(frame, "photo", md5_of=frame.assets[-1]["id"])
        async with pool(emulator, tmp_path) as p:
            ((job, source),) = p.plan.duplicates
            (first,) = [j for j in p.plan.jobs if j.relpath == source]
            del emulator.library.images[str(first.asset.file_name)]
            await p.transfers.fetch_all(p.to, p.plan)
            await p.transfers.link_duplicates(p.to, p.plan)
            assert not p.of(FileLinked)
            assert [e.relpath for e in p.of(FileFailed)] == [source]
            assert not (p.root / job.relpath).exists()
            assert job.relpath not in await p.records()

    async def test_a_link_that_cannot_be_made_is_a_storage_error(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """When the duplicate's name cannot be given (the rename fails), the error stops
        the frame and no temporary file is left."""
        frame = emulator.library.frames[first_frame_id(emulator)]
        emulator.library.add_asset(frame, "photo", md5_of=frame.assets[-1]["id"])
        disk = BrokenDisk("replace")
        async with pool(emulator, tmp_path, disk=disk) as p:
            ((job, _),) = p.plan.duplicates
            disk.only = {job.name}
            await p.transfers.fetch_all(p.to, p.plan)
            with pytest.raises(StorageError, match=f"cannot link .*{job.name}"):
                await p.transfers.link_duplicates(p.to, p.plan)
            assert disk.calls == 1
            assert not p.of(FileLinked)
            assert not any(n.endswith(".part") for n in files_on_disk(p.root))


class TestThroughARun:
    """Pool behaviour seen through a whole run (moved here from test_long_runs)."""

    @pytest.fixture
    def emulator_config(self) -> EmulatorConfig:
        return small_config()

    async def test_duplicates_are_copied_atomically_without_hard_links(
        self, emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Where hard links fail (FAT, many NAS shares), the duplicate is a complete copy made
        through a temporary name."""
        frame = emulator.library.frames[first_frame_id(emulator)]
        first = next(
            a
            for a in frame.assets
            if a["file_name"] and not a["video_url"] and a["id"] not in frame.hidden_ids
        )
        copy = emulator.library.add_asset(frame, "photo", md5_of=first["id"])

        def no_links(src: object, dst: object) -> None:
            raise OSError(1, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_links)  # the OS refuses, as a FAT drive would
        report, _ = await download(emulator, tmp_path)
        assert report.linked == 1
        on_disk = files_on_disk(tmp_path / "myframe")
        assert on_disk == expected_files(emulator)
        names = [n for n in on_disk if first["id"] in n or copy["id"] in n]
        assert (tmp_path / "myframe" / names[0]).stat().st_ino != (
            tmp_path / "myframe" / names[1]
        ).stat().st_ino
        assert not any(n.endswith(".part") for n in on_disk)


class TestSidecars:
    @pytest.mark.parametrize("kind", ["json", "xmp"])
    async def test_fetched_files_get_their_sidecar(
        self, emulator: Emulator, tmp_path: Path, kind: str
    ) -> None:
        """With sidecars on, each fetched file gets one beside it, naming its asset."""
        async with pool(emulator, tmp_path, sidecars=kind) as p:
            await p.transfers.fetch_all(p.to, p.plan)
            for job in p.plan.jobs:
                sidecar = p.root / f"{job.relpath}.{kind}"
                assert job.asset.id in sidecar.read_text()

    async def test_files_already_here_get_the_sidecars_they_lack(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """--sidecars on an old folder: each present file without one gets its own; one
        already there is left as it is; duplicates linked get theirs too."""
        frame = emulator.library.frames[first_frame_id(emulator)]
        emulator.library.add_asset(frame, "photo", md5_of=frame.assets[-1]["id"])
        async with pool(emulator, tmp_path) as p:
            await p.transfers.fetch_all(p.to, p.plan)
            await p.transfers.link_duplicates(p.to, p.plan)
        async with pool(emulator, tmp_path, sidecars="json") as p:
            assert not p.plan.jobs
            kept = p.root / f"{p.plan.present[0].relpath}.json"
            kept.write_text("the user's own")
            await p.transfers.missing_sidecars(p.to.frame, p.here())
            assert kept.read_text() == "the user's own"
            for job in p.plan.present[1:]:
                sidecar = json.loads((p.root / f"{job.relpath}.json").read_text())
                assert sidecar["id"] == job.asset.id
            assert not any(n.endswith(".part") for n in files_on_disk(p.root))

    async def test_no_sidecars_unless_asked(self, emulator: Emulator, tmp_path: Path) -> None:
        """Without --sidecars nothing is written beside the files."""
        async with pool(emulator, tmp_path) as p:
            await p.transfers.fetch_all(p.to, p.plan)
            await p.transfers.missing_sidecars(p.to.frame, p.here())
            assert files_on_disk(p.root) == expected_files(emulator)

    async def test_a_sidecar_that_cannot_be_written_is_a_storage_error(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """A disk refusing the sidecars of files already here stops the frame, naming it."""
        async with pool(emulator, tmp_path) as p:
            await p.transfers.fetch_all(p.to, p.plan)
        async with pool(emulator, tmp_path, disk=BrokenDisk("replace"), sidecars="xmp") as p:
            with pytest.raises(StorageError, match=r"cannot write sidecars in .*myframe"):
                await p.transfers.missing_sidecars(p.to.frame, p.here())
