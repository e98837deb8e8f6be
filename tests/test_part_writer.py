"""fetch.PartWriter: batches in order, the disk overlapping the network, errors and cancels."""

from __future__ import annotations

import asyncio
import errno
import gc
import hashlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

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

    async def counting(func: Callable[..., object], /, *args: object) -> object:
        hops.append(getattr(func, "__name__", repr(func)))
        return await real(func, *args)

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

    async def test_with_a_quick_disk_a_small_file_is_closed_on_the_loop(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        hops = _count_hops(monkeypatch)
        pace = DiskPace()
        data = os.urandom(CHUNK_SIZE - 1)
        await _write_all(tmp_path / "a.jpg.part", data, pace=pace)
        assert hops == []
        assert pace.inline
        assert (tmp_path / "a.jpg.part").read_bytes() == data

    async def test_with_a_quick_disk_a_big_file_takes_no_thread_hop(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        hops = _count_hops(monkeypatch)
        pace = DiskPace()
        data = os.urandom(3 * CHUNK_SIZE + CHUNK_SIZE // 2)
        await _write_all(tmp_path / "v.part", data, pace=pace)
        assert hops == []
        assert pace.inline
        assert (tmp_path / "v.part").read_bytes() == data

    async def test_one_slow_batch_sends_the_rest_of_the_run_to_threads(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A write that stalls (a full cache, a share): later batches and closes, of this
        file and of the next, go to worker threads; the bytes stay in order."""
        hops = _count_hops(monkeypatch)
        real = PartWriter._write_locked
        calls = 0

        def first_slow(writer: PartWriter, batch: list[bytes]) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                time.sleep(DiskPace.LIMIT + 0.01)
            real(writer, batch)

        monkeypatch.setattr(PartWriter, "_write_locked", first_slow)
        pace = DiskPace()
        data = os.urandom(3 * CHUNK_SIZE)
        await _write_all(tmp_path / "v.part", data, pace=pace)
        assert not pace.inline
        assert hops == ["_write", "_close_then"]  # batch 1 on the loop (slow), 2 and the rest not
        assert (tmp_path / "v.part").read_bytes() == data
        await _write_all(tmp_path / "a.jpg.part", b"next", pace=pace)
        assert hops[-1] == "_close_then"

    async def test_one_slow_close_sends_every_later_close_to_a_thread(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A network share that takes 30 ms to finish a file: the loop pays that once."""
        hops = _count_hops(monkeypatch)
        pace = DiskPace()

        def slow(known: tuple[int, str]) -> tuple[int, str]:
            time.sleep(DiskPace.LIMIT + 0.01)
            return known

        await _write_all(tmp_path / "a.jpg.part", b"first", then=slow, pace=pace)
        assert hops == []
        assert not pace.inline
        await _write_all(tmp_path / "b.jpg.part", b"second", pace=pace)
        assert hops == ["_close_then"]
        assert (tmp_path / "b.jpg.part").read_bytes() == b"second"

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
    @pytest.mark.parametrize("size", [3 * CHUNK_SIZE, CHUNK_SIZE + CHUNK])
    async def test_a_failed_background_write_stops_the_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
    ) -> None:
        """Only the first batch fails (mid-stream, or the last one as the body ends): the
        error is raised and the file is never finished with a hole in it."""
        _fail_first_write(monkeypatch)
        with pytest.raises(OSError, match="No space"):
            await _write_all(tmp_path / "v.part", os.urandom(size), then=_never_finished)

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

    async def test_network_error_keeps_what_arrived_in_order(self, tmp_path: Path) -> None:
        """A broken connection leaves every received byte in the .part, for the resume."""
        data = os.urandom(2 * CHUNK_SIZE + 5000)
        part = tmp_path / "v.part"
        with pytest.raises(ConnectionResetError):
            await _write_all(part, data, then_raise=ConnectionResetError())
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
