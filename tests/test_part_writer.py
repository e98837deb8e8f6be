"""fetch.PartWriter: batches in order, the disk overlapping the network, errors and cancels."""

from __future__ import annotations

import asyncio
import errno
import gc
import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest

from aura_async.emulator import Emulator
from aura_async.fetch import CHUNK_SIZE, DiskPace, PartWriter
from tests.conftest import small_config
from tests.test_downloader import download, expected_files, files_on_disk

CHUNK = 100 * 1024  # about what aiohttp hands over per read


def _chunks(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


async def _write_all(
    part: Path,
    data: bytes,
    *,
    then: Callable[[tuple[int, str]], tuple[int, str]] | None = None,
    then_raise: Exception | None = None,
    stall: asyncio.Event | None = None,
    pace: DiskPace | None = None,
) -> None:
    """Stream ``data`` in network-sized chunks; then raise, or stall, as a network may."""
    async with PartWriter(part, append=False) as out:
        out.pace = pace
        for chunk in _chunks(data):
            await out.write(chunk)
        if then_raise is not None:
            raise then_raise
        if stall is not None:
            await stall.wait()
        out.then = then


def _count_hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the name of every function sent to a worker thread."""
    hops: list[str] = []
    real = asyncio.to_thread

    async def counting(func: Callable[..., object], /, *args: object, **kwargs: object) -> object:
        hops.append(getattr(func, "__name__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counting)
    return hops


class _Gate:
    """Holds the first :meth:`PartWriter._write_locked` in its thread until released."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, fail: bool = False) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        self.writers: list[PartWriter] = []
        real = PartWriter._write_locked

        def gated(writer: PartWriter, batch: list[bytes]) -> None:
            self.calls += 1
            self.writers.append(writer)
            if self.calls == 1:
                self.entered.set()
                assert self.release.wait(10), "the test never released the write"
                if fail:
                    raise OSError(errno.ENOSPC, "No space left on device")
            real(writer, batch)

        monkeypatch.setattr(PartWriter, "_write_locked", gated)


class TestBatches:
    async def test_many_batches_arrive_in_order_with_their_hash(self, tmp_path: Path) -> None:
        """3.5 MiB in 100 KB chunks: several background batches, then the close."""
        data = os.urandom(3 * CHUNK_SIZE + CHUNK_SIZE // 2)
        part = tmp_path / "video.mp4.part"
        seen: list[tuple[int, str]] = []
        async with PartWriter(part, append=False) as out:
            for chunk in _chunks(data):
                await out.write(chunk)
            out.then = lambda known: seen.append(known) or known  # type: ignore[func-returns-value]
        known = (len(data), hashlib.sha256(data).hexdigest())
        assert part.read_bytes() == data
        assert out.result == known
        assert seen == [known]

    async def test_append_hashes_the_bytes_already_there(self, tmp_path: Path) -> None:
        old, new = os.urandom(300_000), os.urandom(2 * CHUNK_SIZE)
        part = tmp_path / "video.mp4.part"
        part.write_bytes(old)
        async with PartWriter(part, append=True) as out:
            for chunk in _chunks(new):
                await out.write(chunk)
        assert part.read_bytes() == old + new
        assert out.result == (len(old + new), hashlib.sha256(old + new).hexdigest())

    async def test_without_a_pace_a_small_file_takes_one_thread_hop(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        hops = _count_hops(monkeypatch)
        data = os.urandom(CHUNK_SIZE - 1)
        await _write_all(tmp_path / "a.jpg.part", data)
        assert hops == ["_close_then"]
        assert (tmp_path / "a.jpg.part").read_bytes() == data

    async def test_the_next_chunks_arrive_while_a_batch_is_written(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A batch on its way to a slow disk does not hold up the chunks after it."""
        gate = _Gate(monkeypatch)
        data = os.urandom(CHUNK_SIZE + CHUNK_SIZE // 2)
        async with PartWriter(tmp_path / "v.part", append=False) as out:
            first, rest = data[:CHUNK_SIZE], data[CHUNK_SIZE:]
            await asyncio.wait_for(out.write(first), 5)  # a batch: written in the background
            await asyncio.to_thread(gate.entered.wait, 10)
            for chunk in _chunks(rest):  # less than a batch: held, not blocked by the disk
                await asyncio.wait_for(out.write(chunk), 5)
            assert gate.calls == 1
            gate.release.set()
        assert (tmp_path / "v.part").read_bytes() == data


class _Clock:
    """A DiskPace clock that moves only when the test says disk work took time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def stall(self) -> None:
        self.now += 2 * DiskPace.LIMIT

    def slow_finish(self, known: tuple[int, str]) -> tuple[int, str]:
        self.stall()
        return known


class TestDiskPace:
    async def test_on_a_quick_disk_a_file_takes_no_thread_hop(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        pace = DiskPace(_Clock())
        hops = _count_hops(monkeypatch)
        small, big = os.urandom(CHUNK_SIZE - 1), os.urandom(3 * CHUNK_SIZE + CHUNK_SIZE // 2)
        await _write_all(tmp_path / "a.jpg.part", small, pace=pace)
        await _write_all(tmp_path / "v.part", big, pace=pace)
        assert hops == []
        assert pace.inline
        assert (tmp_path / "a.jpg.part").read_bytes() == small
        assert (tmp_path / "v.part").read_bytes() == big

    async def test_one_slow_batch_on_the_loop_sends_the_rest_to_threads(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A write that stalls (a full cache, a share): the next batch and the close, of
        this file and of the next, go to worker threads; the bytes stay in order."""
        clock = _Clock()
        pace = DiskPace(clock)
        hops = _count_hops(monkeypatch)
        real = PartWriter._write_locked
        calls = 0

        def first_slow(writer: PartWriter, batch: list[bytes]) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                clock.stall()
            real(writer, batch)

        monkeypatch.setattr(PartWriter, "_write_locked", first_slow)
        data = os.urandom(3 * CHUNK_SIZE)
        await _write_all(tmp_path / "v.part", data, pace=pace)
        assert hops == ["_write", "_close_then"]  # batch 1 on the loop (slow), the rest not
        assert (tmp_path / "v.part").read_bytes() == data
        await _write_all(tmp_path / "a.jpg.part", b"next", pace=pace)
        assert hops == ["_write", "_close_then", "_close_then"]

    async def test_after_a_while_in_threads_one_step_tries_the_loop_again(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A slow close sends the next closes to threads; RETRY_AFTER later one tries the
        loop again, and stays there if it is quick (a hiccup costs one period, not the
        whole run)."""
        clock = _Clock()
        pace = DiskPace(clock)
        hops = _count_hops(monkeypatch)
        await _write_all(tmp_path / "a.jpg.part", b"first", then=clock.slow_finish, pace=pace)
        assert hops == []  # that slow one ran on the loop: it could not be known before
        assert not pace.inline
        await _write_all(tmp_path / "b.jpg.part", b"second", pace=pace)
        assert hops == ["_close_then"]
        clock.now += DiskPace.RETRY_AFTER
        for name in ("c", "d"):
            await _write_all(tmp_path / f"{name}.jpg.part", name.encode(), pace=pace)
        assert hops == ["_close_then"]
        assert (tmp_path / "d.jpg.part").read_bytes() == b"d"

    async def test_a_resumed_part_is_hashed_off_the_loop(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Reading back a big .part to seed the hash must not stall the loop, even when
        the rest of the file is written on it."""
        pace = DiskPace(_Clock())
        hops = _count_hops(monkeypatch)
        old, new = os.urandom(2 * CHUNK_SIZE), os.urandom(300_000)
        part = tmp_path / "v.part"
        part.write_bytes(old)
        async with PartWriter(part, append=True) as out:
            out.pace = pace
            for chunk in _chunks(new):
                await out.write(chunk)
        assert hops == ["_resume"]
        assert out.result == (len(old + new), hashlib.sha256(old + new).hexdigest())


def _fail_first_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first batch written hits a full disk; every later write works."""
    real = PartWriter._write_locked
    calls = 0

    def flaky(writer: PartWriter, batch: list[bytes]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(writer, batch)

    monkeypatch.setattr(PartWriter, "_write_locked", flaky)


def _never_finished(known: tuple[int, str]) -> tuple[int, str]:
    raise AssertionError("a file missing a batch was finished")


class TestErrors:
    @pytest.mark.parametrize("on_loop", [False, True], ids=["threads", "loop"])
    @pytest.mark.parametrize("size", [3 * CHUNK_SIZE, CHUNK_SIZE + CHUNK])
    async def test_a_failed_write_stops_the_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, on_loop: bool
    ) -> None:
        """Only the first batch fails (mid-stream, or the last one as the body ends), in a
        thread or on the loop: the error is raised and the file is never finished with a
        hole in it."""
        pace = DiskPace(_Clock()) if on_loop else None
        _fail_first_write(monkeypatch)
        with pytest.raises(OSError, match="No space"):
            await _write_all(tmp_path / "v.part", os.urandom(size), then=_never_finished, pace=pace)

    async def test_a_full_disk_outranks_the_network_error(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A batch failed on a full disk, then the connection broke: the disk error is
        raised (it stops the run), not the retryable network error."""
        _fail_first_write(monkeypatch)
        with pytest.raises(OSError, match="No space") as raised:
            await _write_all(
                tmp_path / "v.part", os.urandom(2 * CHUNK_SIZE), then_raise=ConnectionResetError()
            )
        assert isinstance(raised.value.__cause__, ConnectionResetError)

    @pytest.mark.parametrize("on_loop", [False, True], ids=["threads", "loop"])
    async def test_network_error_keeps_what_arrived_in_order(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, on_loop: bool
    ) -> None:
        """A broken connection leaves every received byte in the .part, for the resume."""
        data = os.urandom(2 * CHUNK_SIZE + 5000)
        part = tmp_path / "v.part"
        pace = DiskPace(_Clock()) if on_loop else None
        with pytest.raises(ConnectionResetError):
            await _write_all(part, data, then_raise=ConnectionResetError(), pace=pace)
        assert part.read_bytes() == data

    async def test_a_cancelled_download_leaves_a_prefix(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Cancelled while waiting for a batch on its way to disk: the .part is a prefix,
        never a file with a hole or with chunks out of order."""
        gate = _Gate(monkeypatch)
        data = os.urandom(3 * CHUNK_SIZE)
        part = tmp_path / "v.part"
        task = asyncio.create_task(_write_all(part, data))
        await asyncio.to_thread(gate.entered.wait, 10)
        await asyncio.sleep(0.05)  # the stream is now waiting for that first batch
        task.cancel()
        await asyncio.sleep(0.05)
        gate.release.set()  # the write in flight lands in its thread after the cancel
        with pytest.raises(asyncio.CancelledError):
            await task
        kept = part.read_bytes()
        assert kept
        assert data.startswith(kept)

    async def test_cancelled_on_the_network_with_a_failing_batch_in_flight(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Cancelled while the network stalls, a batch in flight that then fails: the
        held bytes are dropped (a prefix stays), the file is closed, and the batch's
        error is not logged as an unretrieved task exception."""
        gate = _Gate(monkeypatch, fail=True)
        data = os.urandom(CHUNK_SIZE + 5 * CHUNK)
        part = tmp_path / "v.part"
        stalled = asyncio.Event()
        task = asyncio.create_task(_write_all(part, data, stall=stalled))
        await asyncio.to_thread(gate.entered.wait, 10)
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.sleep(0.05)
        gate.release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.05)
        gc.collect()  # an unretrieved exception is logged when its task is collected
        assert not part.exists()  # the one batch failed, the held bytes were dropped
        assert not gate.writers[0]._file
        assert "never retrieved" not in caplog.text

    async def test_cancelled_while_a_network_error_waits_for_the_disk(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The connection broke while a batch was on its way to a slow disk, then the run
        was cancelled (Ctrl-C, a sibling's fatal error) during that wait: the file is
        still closed and stays a prefix."""
        gate = _Gate(monkeypatch)
        data = os.urandom(CHUNK_SIZE + 5 * CHUNK)
        part = tmp_path / "v.part"
        task = asyncio.create_task(_write_all(part, data, then_raise=ConnectionResetError()))
        await asyncio.to_thread(gate.entered.wait, 10)
        await asyncio.sleep(0.05)  # __aexit__ now waits for that batch
        task.cancel()
        await asyncio.sleep(0.05)
        gate.release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.2)  # the batch lands in its thread
        writer = gate.writers[0]
        assert writer._closed
        assert writer._file is None
        assert data.startswith(part.read_bytes())

    async def test_cancelled_while_reading_back_a_part_closes_it(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Ctrl-C while a big .part is read back for its hash: the file is closed (not
        left to the garbage collector), and the .part is left as it was."""
        old = os.urandom(CHUNK_SIZE)
        part = tmp_path / "v.part"
        part.write_bytes(old)
        entered, release = threading.Event(), threading.Event()
        real = PartWriter._open
        writers: list[PartWriter] = []

        def slow_open(writer: PartWriter) -> BinaryIO:
            writers.append(writer)
            entered.set()
            assert release.wait(10)
            return real(writer)

        monkeypatch.setattr(PartWriter, "_open", slow_open)

        async def resume() -> None:
            async with PartWriter(part, append=True) as out:
                await out.write(b"more")

        task = asyncio.create_task(resume())
        await asyncio.to_thread(entered.wait, 10)
        task.cancel()
        await asyncio.sleep(0.05)
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert writers[0]._closed
        assert writers[0]._file is None
        assert part.read_bytes() == old

    async def test_a_write_that_loses_the_race_with_the_close_does_not_land(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The second batch's thread is slow to start; the download is cancelled and its
        .part closed first: that batch must not reopen (and truncate) the closed file."""
        real = PartWriter._write
        started, release = threading.Event(), threading.Event()
        calls = 0

        def slow_second(writer: PartWriter, batch: list[bytes]) -> None:
            nonlocal calls
            calls += 1
            if calls == 2:
                started.set()
                assert release.wait(10)
            real(writer, batch)

        monkeypatch.setattr(PartWriter, "_write", slow_second)
        data = os.urandom(2 * CHUNK_SIZE + 5 * CHUNK)
        part = tmp_path / "v.part"
        stalled = asyncio.Event()
        task = asyncio.create_task(_write_all(part, data, stall=stalled))
        await asyncio.to_thread(started.wait, 10)
        await asyncio.sleep(0.05)  # the stream now waits on the network
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task  # the close ran: the first batch is in the .part
        release.set()
        await asyncio.sleep(0.2)  # the late write runs now, and must do nothing
        first_batch = -(-CHUNK_SIZE // CHUNK) * CHUNK  # whole chunks up to a MiB
        assert part.read_bytes() == data[:first_batch]


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


async def test_a_frames_files_are_finished_on_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the downloader: each frame folder has its DiskPace, so files are
    finished on the loop (the first at least: a pace starts there)."""
    async with Emulator(small_config()) as emu:
        root = tmp_path / "myframe"
        root.mkdir()
        expected = expected_files(emu)
        hops = _count_hops(monkeypatch)
        await download(emu, tmp_path)
        assert files_on_disk(root) == expected
    assert hops.count("_close_then") < len(expected)
