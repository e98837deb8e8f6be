"""partfile.PartWriter: batches in order, where the disk work runs, errors and cancels.

The writer's files come from an injected :class:`_Disk`: real files, but every read,
write and close notes whether it ran on the event loop's thread, and a test can hold,
slow down or fail one of them.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import hashlib
import os
import threading
import weakref
from collections import defaultdict
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from aura_async.download.partfile import CHUNK_SIZE, PartWriter
from aura_async.download.session import Runner
from aura_async.emulator import Emulator, FrameSpec
from aura_async.options import RunOptions
from aura_async.report import FrameReport
from aura_async.seams import Disk, DiskPace, File, Mode, Seams
from tests.conftest import PaceClock, settings_for, small_config
from tests.test_downloader import download, expected_files, files_on_disk

CHUNK = 100 * 1024  # about what aiohttp hands over per read
BATCH = -(-CHUNK_SIZE // CHUNK) * CHUNK  # the bytes of one batch: whole chunks up to a MiB


def _chunks(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


class _Disk(Disk):
    """Opens real files whose reads, writes and closes are logged with their thread.

    ``hold``, ``fail`` and ``slow`` name an operation, ``("write", n)`` (the n-th write
    call, 1-based) or ``("read", 1)``, to hold until :attr:`release` is set, to fail with
    ENOSPC, or to make last 2 x LIMIT on :attr:`clock`.
    """

    def __init__(
        self,
        *,
        hold: tuple[str, int] | None = None,
        fail: tuple[str, int] | None = None,
        slow: tuple[str, int] | None = None,
    ) -> None:
        self.hold, self.fail, self.slow = hold, fail, slow
        self.clock = PaceClock()
        self.ops: list[tuple[str, bool]] = []  # (operation, ran on the loop's thread)
        self.entered = threading.Event()
        self.release = threading.Event()
        self.open_files = 0
        self._counts = {"read": 0, "write": 0, "close": 0}
        self.loop_thread = threading.get_ident()
        self.closed_in: defaultdict[str, list[bool]] = defaultdict(list)
        """Per folder name, whether each close ran on the loop's thread."""

    def open(self, path: Path, mode: Mode) -> File:
        self.open_files += 1
        return _File(self, path, path.open(mode))

    def off_loop(self) -> list[str]:
        """The operations that ran in a worker thread."""
        return [op for op, on_loop in self.ops if not on_loop]

    def step(self, op: str) -> None:
        self._counts[op] += 1
        self.ops.append((op, threading.get_ident() == self.loop_thread))
        which = (op, self._counts[op])
        if which == self.hold:
            self.entered.set()
            assert self.release.wait(10), "the test never released the disk"
        if which == self.slow:
            self.clock.stall()
        if which == self.fail:
            raise OSError(errno.ENOSPC, "No space left on device")


class _File:
    def __init__(self, disk: _Disk, path: Path, real: File) -> None:
        self._disk, self._path, self._real = disk, path, real

    def read(self, size: int = -1, /) -> bytes:
        self._disk.step("read")
        return self._real.read(size)

    def write(self, data: bytes, /) -> int:
        self._disk.step("write")
        return self._real.write(data)

    def close(self) -> None:
        self._disk.open_files -= 1
        self._real.close()
        self._disk.closed_in[self._path.parent.name].append(
            threading.get_ident() == self._disk.loop_thread
        )
        self._disk.step("close")


class _Pool(ThreadPoolExecutor):
    """The loop's worker threads, counted; the job numbered ``hold`` (1-based) waits for
    :attr:`release` before it starts, like a worker the OS is slow to schedule."""

    def __init__(self, hold: int | None = None) -> None:
        super().__init__(max_workers=4)
        self.jobs = 0
        self._hold = hold
        self._loop = asyncio.get_running_loop()
        self.held = asyncio.Event()
        self.held_done = asyncio.Event()
        self.release = threading.Event()
        self._loop.set_default_executor(self)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.jobs += 1
        if self.jobs != self._hold:
            return super().submit(fn, *args, **kwargs)

        def held() -> Any:
            self._loop.call_soon_threadsafe(self.held.set)
            assert self.release.wait(10), "the test never released the job"
            try:
                return fn(*args, **kwargs)
            finally:
                self._loop.call_soon_threadsafe(self.held_done.set)

        return super().submit(held)


async def _write_all(
    part: Path,
    data: bytes,
    disk: _Disk,
    *,
    made: list[PartWriter] | None = None,
    then_raise: Exception | None = None,
    stall: asyncio.Event | None = None,
    pace: DiskPace | None = None,
) -> PartWriter:
    """Stream ``data`` in network-sized chunks; then raise, or stall, as a network may.
    The writer is appended to ``made``, so a test can look at it after an error."""
    async with PartWriter(part, append=False, opener=disk.open, pace=pace) as out:
        if made is not None:
            made.append(out)
        for chunk in _chunks(data):
            await out.write(chunk)
        if then_raise is not None:
            raise then_raise
        if stall is not None:
            await stall.wait()
    return out


async def _resume(part: Path, disk: _Disk) -> None:
    """Resume ``part`` (read it back, hash it) and add a few bytes."""
    async with PartWriter(part, append=True, opener=disk.open) as out:
        await out.write(b"more")


def _awaiting(task: asyncio.Task[Any]) -> list[str]:
    """The coroutines ``task`` is suspended in, outermost first (read from each
    coroutine's ``cr_await``: what a debugger shows)."""
    names = []
    awaited: Any = task.get_coro()
    while awaited is not None:
        code = getattr(awaited, "cr_code", None) or getattr(awaited, "gi_code", None)
        if code is None:  # a future's iterator: the chain waits on that future
            break
        names.append(code.co_name)
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return names


async def _until_awaiting(task: asyncio.Task[Any], *tail: str) -> None:
    """Let the loop run until ``task`` is suspended in the coroutines ``tail`` (innermost
    last)."""
    for _ in range(1000):
        if tuple(_awaiting(task)[-len(tail) :]) == tail:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never suspended in {tail}: {_awaiting(task)}")


async def _until_collected(ref: weakref.ref[Any]) -> None:
    """Until the object behind ``ref`` is garbage (once the worker threads that used it
    have let go of it), collecting as it goes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        gc.collect()
        if ref() is None:
            return
        assert loop.time() < deadline, "never collected"
        await asyncio.sleep(0.001)


async def _cancel_while_held(
    disk: _Disk, work: Coroutine[Any, Any, object], *waiting_in: str
) -> None:
    """Run ``work`` until the disk holds it and the download waits in ``waiting_in`` (for
    the held step, or for the network), cancel it, and once the cancelled download is
    closing its file, let the disk go on: the held step finishes in its thread after the
    cancel. The cancel must propagate."""
    task = asyncio.create_task(work)
    await asyncio.to_thread(disk.entered.wait, 10)
    await _until_awaiting(task, *waiting_in)
    task.cancel()
    await _until_awaiting(task, "_close_quietly", "to_thread")  # behind the held step
    disk.release.set()
    with pytest.raises(asyncio.CancelledError):
        await task


class TestBatches:
    async def test_many_batches_arrive_in_order_with_their_hash(self, tmp_path: Path) -> None:
        """3.5 MiB in 100 KB chunks: several background batches, then the close."""
        data = os.urandom(3 * CHUNK_SIZE + CHUNK_SIZE // 2)
        part = tmp_path / "video.mp4.part"
        out = await _write_all(part, data, _Disk())
        known = (len(data), hashlib.sha256(data).hexdigest())
        assert part.read_bytes() == data
        assert out.result == known

    async def test_append_hashes_the_bytes_already_there(self, tmp_path: Path) -> None:
        old, new = os.urandom(300_000), os.urandom(2 * CHUNK_SIZE)
        part = tmp_path / "video.mp4.part"
        part.write_bytes(old)
        async with PartWriter(part, append=True) as out:
            for chunk in _chunks(new):
                await out.write(chunk)
        assert part.read_bytes() == old + new
        assert out.result == (len(old + new), hashlib.sha256(old + new).hexdigest())

    async def test_without_a_pace_a_small_file_takes_one_thread_hop(self, tmp_path: Path) -> None:
        pool = _Pool()
        disk = _Disk()
        data = os.urandom(CHUNK_SIZE - 1)
        await _write_all(tmp_path / "a.jpg.part", data, disk)
        assert pool.jobs == 1
        assert disk.off_loop() == ["write"] * len(_chunks(data)) + ["close"]
        assert (tmp_path / "a.jpg.part").read_bytes() == data

    async def test_the_next_chunks_arrive_while_a_batch_is_written(self, tmp_path: Path) -> None:
        """A batch on its way to a slow disk does not hold up the chunks after it."""
        disk = _Disk(hold=("write", 1))
        data = os.urandom(BATCH + CHUNK_SIZE // 2)
        async with PartWriter(tmp_path / "v.part", append=False, opener=disk.open) as out:
            first, rest = data[:BATCH], data[BATCH:]
            for chunk in _chunks(first):  # a batch: written in the background
                await asyncio.wait_for(out.write(chunk), 5)
            await asyncio.to_thread(disk.entered.wait, 10)
            for chunk in _chunks(rest):  # less than a batch: held, not blocked by the disk
                await asyncio.wait_for(out.write(chunk), 5)
            disk.release.set()
        assert (tmp_path / "v.part").read_bytes() == data


class TestDiskPace:
    async def test_on_a_quick_disk_a_file_takes_no_thread_hop(self, tmp_path: Path) -> None:
        disk = _Disk()
        pace = DiskPace(disk.clock)
        small, big = os.urandom(CHUNK_SIZE - 1), os.urandom(3 * CHUNK_SIZE + CHUNK_SIZE // 2)
        await _write_all(tmp_path / "a.jpg.part", small, disk, pace=pace)
        await _write_all(tmp_path / "v.part", big, disk, pace=pace)
        assert disk.off_loop() == []
        assert pace.inline
        assert (tmp_path / "a.jpg.part").read_bytes() == small
        assert (tmp_path / "v.part").read_bytes() == big

    async def test_one_slow_batch_on_the_loop_sends_the_rest_to_threads(
        self, tmp_path: Path
    ) -> None:
        """A write that stalls (a full cache, a share): the next batch and the close, of
        this file and of the next, go to worker threads; the bytes stay in order."""
        disk = _Disk(slow=("write", 1))
        pace = DiskPace(disk.clock)
        data = os.urandom(2 * BATCH + CHUNK)
        await _write_all(tmp_path / "v.part", data, disk, pace=pace)
        per_batch = BATCH // CHUNK
        assert [on_loop for _, on_loop in disk.ops] == [True] * per_batch + [False] * (
            per_batch + 2  # batch 2, then the held chunk and the close
        )
        assert (tmp_path / "v.part").read_bytes() == data
        await _write_all(tmp_path / "a.jpg.part", b"next", disk, pace=pace)
        assert disk.ops[-2:] == [("write", False), ("close", False)]

    async def test_after_a_while_in_threads_one_step_tries_the_loop_again(
        self, tmp_path: Path
    ) -> None:
        """A slow close sends the next closes to threads; RETRY_AFTER later one tries the
        loop again, and stays there if it is quick (a hiccup costs one period, not the
        whole run)."""
        disk = _Disk(slow=("close", 1))
        pace = DiskPace(disk.clock)
        await _write_all(tmp_path / "a.jpg.part", b"first", disk, pace=pace)
        assert disk.off_loop() == []  # the slow one ran on the loop: nobody could know
        assert not pace.inline
        await _write_all(tmp_path / "b.jpg.part", b"second", disk, pace=pace)
        assert disk.off_loop() == ["write", "close"]
        disk.clock.now += DiskPace.RETRY_AFTER
        for name in ("c", "d"):
            await _write_all(tmp_path / f"{name}.jpg.part", name.encode(), disk, pace=pace)
        assert disk.off_loop() == ["write", "close"]
        assert (tmp_path / "d.jpg.part").read_bytes() == b"d"

    async def test_a_resumed_part_is_read_back_off_the_loop(self, tmp_path: Path) -> None:
        """Reading back a big .part to seed the hash must not stall the loop, even when
        the rest of the file is written on it."""
        disk = _Disk()
        old, new = os.urandom(2 * CHUNK_SIZE), os.urandom(300_000)
        part = tmp_path / "v.part"
        part.write_bytes(old)
        async with PartWriter(part, append=True, opener=disk.open) as out:
            out.pace = DiskPace(disk.clock)
            for chunk in _chunks(new):
                await out.write(chunk)
        assert set(disk.off_loop()) == {"read", "close"}  # the read-back file, closed
        assert [op for op, on_loop in disk.ops if on_loop] == ["write"] * 3 + ["close"]
        assert out.result == (len(old + new), hashlib.sha256(old + new).hexdigest())


class TestErrors:
    @pytest.mark.parametrize("on_loop", [False, True], ids=["threads", "loop"])
    @pytest.mark.parametrize("size", [3 * CHUNK_SIZE, CHUNK_SIZE + CHUNK])
    async def test_a_failed_write_stops_the_file(
        self, tmp_path: Path, size: int, on_loop: bool
    ) -> None:
        """Only the first batch fails (mid-stream, or the last one as the body ends), in a
        thread or on the loop: the error is raised and the file is never finished with a
        hole in it."""
        disk = _Disk(fail=("write", 1))
        pace = DiskPace(disk.clock) if on_loop else None
        made: list[PartWriter] = []
        with pytest.raises(OSError, match="No space"):
            await _write_all(tmp_path / "v.part", os.urandom(size), disk, made=made, pace=pace)
        assert disk.open_files == 0
        assert made[0].result is None, "a file missing a batch was finished"

    async def test_a_full_disk_outranks_the_network_error(self, tmp_path: Path) -> None:
        """A batch failed on a full disk, then the connection broke: the disk error is
        raised (it stops the run), not the retryable network error."""
        disk = _Disk(fail=("write", 1))
        with pytest.raises(OSError, match="No space") as raised:
            await _write_all(
                tmp_path / "v.part",
                os.urandom(2 * CHUNK_SIZE),
                disk,
                then_raise=ConnectionResetError(),
            )
        assert isinstance(raised.value.__cause__, ConnectionResetError)
        assert disk.open_files == 0

    @pytest.mark.parametrize("on_loop", [False, True], ids=["threads", "loop"])
    async def test_network_error_keeps_what_arrived_in_order(
        self, tmp_path: Path, on_loop: bool
    ) -> None:
        """A broken connection leaves every received byte in the .part, for the resume."""
        disk = _Disk()
        data = os.urandom(2 * CHUNK_SIZE + 5000)
        part = tmp_path / "v.part"
        pace = DiskPace(disk.clock) if on_loop else None
        with pytest.raises(ConnectionResetError):
            await _write_all(part, data, disk, then_raise=ConnectionResetError(), pace=pace)
        assert part.read_bytes() == data
        assert disk.open_files == 0

    async def test_a_cancelled_download_leaves_a_prefix(self, tmp_path: Path) -> None:
        """Cancelled while waiting for a batch on its way to disk: the .part is a prefix,
        never a file with a hole or with chunks out of order."""
        disk = _Disk(hold=("write", 1))
        data = os.urandom(3 * CHUNK_SIZE)
        part = tmp_path / "v.part"
        await _cancel_while_held(disk, _write_all(part, data, disk), "write", "_settle")
        kept = part.read_bytes()
        assert kept
        assert data.startswith(kept)
        assert disk.open_files == 0

    async def test_cancelled_on_the_network_with_a_failing_batch_in_flight(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Cancelled while the network stalls, a batch in flight that then fails: the
        held bytes are dropped (a prefix stays), the file is closed, and the batch's
        error is not logged as an unretrieved task exception."""
        disk = _Disk(hold=("write", 1), fail=("write", 1))
        data = os.urandom(BATCH + 5 * CHUNK)
        part = tmp_path / "v.part"
        made: list[PartWriter] = []
        stalled = _write_all(part, data, disk, made=made, stall=asyncio.Event())
        await _cancel_while_held(disk, stalled, "_write_all", "wait")
        # An unretrieved exception is logged when its task is collected: with the writer
        # that holds the batch's task.
        await _until_collected(weakref.ref(made.pop()))
        assert part.read_bytes() == b""  # the one batch failed, the held bytes were dropped
        assert disk.open_files == 0
        assert "never retrieved" not in caplog.text

    async def test_cancelled_while_a_network_error_waits_for_the_disk(self, tmp_path: Path) -> None:
        """The connection broke while a batch was on its way to a slow disk, then the run
        was cancelled (Ctrl-C, a sibling's fatal error) during that wait: the file is
        still closed and stays a prefix."""
        disk = _Disk(hold=("write", 1))
        data = os.urandom(BATCH + 5 * CHUNK)
        part = tmp_path / "v.part"
        # __aexit__ waits for the held batch when the cancel comes
        await _cancel_while_held(
            disk,
            _write_all(part, data, disk, then_raise=ConnectionResetError()),
            "__aexit__",
            "_settle",
        )
        assert disk.open_files == 0
        assert data.startswith(part.read_bytes())

    async def test_cancelled_while_reading_back_a_part_closes_it(self, tmp_path: Path) -> None:
        """Ctrl-C while a big .part is read back for its hash: the file is closed (not
        left to the garbage collector), and the .part is left as it was."""
        disk = _Disk(hold=("read", 1))
        old = os.urandom(CHUNK_SIZE)
        part = tmp_path / "v.part"
        part.write_bytes(old)
        await _cancel_while_held(disk, _resume(part, disk), "__aenter__", "to_thread")
        assert disk.open_files == 0
        assert part.read_bytes() == old

    async def test_a_write_that_loses_the_race_with_the_close_does_not_land(
        self, tmp_path: Path
    ) -> None:
        """The second batch's worker is slow to start; the download is cancelled and its
        .part closed first: that batch must not reopen (and truncate) the closed file."""
        pool = _Pool(hold=2)  # jobs: batch 1, batch 2 (held before it starts), the close
        data = os.urandom(2 * BATCH + 5 * CHUNK)
        part = tmp_path / "v.part"
        task = asyncio.create_task(_write_all(part, data, _Disk(), stall=asyncio.Event()))
        await asyncio.wait_for(pool.held.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task  # the close ran: the first batch is in the .part
        pool.release.set()
        await asyncio.wait_for(pool.held_done.wait(), 10)  # the late write ran, to no effect
        assert part.read_bytes() == data[:BATCH]

    async def test_a_read_back_that_loses_the_race_with_the_close_opens_nothing(
        self, tmp_path: Path
    ) -> None:
        """Cancelled before the worker reading back a resumed .part even starts: when it
        does, it must not open the file the cancelled download already gave up."""
        pool = _Pool(hold=1)  # the read-back
        disk = _Disk()
        old = os.urandom(CHUNK_SIZE)
        part = tmp_path / "v.part"
        part.write_bytes(old)
        task = asyncio.create_task(_resume(part, disk))
        await asyncio.wait_for(pool.held.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        pool.release.set()
        await asyncio.wait_for(pool.held_done.wait(), 10)
        assert disk.ops == []  # nothing was read, written or left open
        assert disk.open_files == 0
        assert part.read_bytes() == old


@pytest.mark.parametrize("resume", [False, True])
async def test_a_video_of_several_batches_arrives_intact(tmp_path: Path, resume: bool) -> None:
    """Through the emulator: a 3.3 MiB video, fresh or resumed from a .part."""
    config = small_config(video_size=3 * CHUNK_SIZE + 300_000)
    async with Emulator(config) as emu:
        root = tmp_path / "myframe"
        root.mkdir()
        expected = expected_files(emu)
        if resume:
            name = next(n for n in sorted(expected) if n.endswith((".mov", ".mp4")))
            (root / (name + ".part")).write_bytes(expected[name][: CHUNK_SIZE + 12345])
        await download(emu, tmp_path)
        assert files_on_disk(root) == expected


async def test_each_frame_folder_has_its_own_pace(tmp_path: Path) -> None:
    """Through the runner, two frames one after the other: the first file closed in the
    first folder is slow, so the rest of that folder closes in worker threads; the second
    folder, maybe another disk, still closes every file on the loop."""
    disk = _Disk(slow=("close", 1))

    frame = FrameSpec(photos=6, videos=0, live_photos=0, placeholders=0, hidden=0)
    async with Emulator(small_config(frames=[frame])) as emu:
        one = settings_for(emu, tmp_path)
        section = one.frame_sections["myframe"]
        settings = replace(
            one,
            frame_sections={
                "first": {**section, "file_path": str(tmp_path / "first")},
                "second": {**section, "file_path": str(tmp_path / "second")},
            },
        )
        options = RunOptions(rate=None)
        seams = Seams(disk=disk, disk_pace=partial(DiskPace, disk.clock))
        async with Runner(settings, options, seams=seams) as run:
            for name in ("first", "second"):
                await run.download(settings.frame(name), FrameReport(name))
        expected = expected_files(emu)
        for name in ("first", "second"):
            assert files_on_disk(tmp_path / name) == expected
    assert disk.closed_in["first"] == [True] + [False] * (len(expected) - 1)
    assert disk.closed_in["second"] == [True] * len(expected)
