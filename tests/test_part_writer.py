"""fetch.PartWriter: batches in order, the disk overlapping the network, errors and cancels."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import threading
from pathlib import Path

import pytest

from aura_async.emulator import Emulator
from aura_async.fetch import CHUNK_SIZE, PartWriter
from tests.conftest import small_config
from tests.test_downloader import download, expected_files, files_on_disk

CHUNK = 100 * 1024  # about what aiohttp hands over per read


def _chunks(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


async def _write_all(part: Path, data: bytes, then_raise: Exception | None = None) -> None:
    async with PartWriter(part, append=False) as out:
        for chunk in _chunks(data):
            await out.write(chunk)
        if then_raise is not None:
            raise then_raise


class _Gate:
    """Holds :meth:`PartWriter._write_locked` in its thread until released."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        real = PartWriter._write_locked

        def gated(writer: PartWriter, batch: list[bytes]) -> None:
            self.calls += 1
            self.entered.set()
            assert self.release.wait(10), "the test never released the write"
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

    async def test_a_small_file_is_written_in_one_thread_hop(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        hops = 0
        real = asyncio.to_thread

        async def counting(*args: object, **kwargs: object) -> object:
            nonlocal hops
            hops += 1
            return await real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(asyncio, "to_thread", counting)
        data = os.urandom(CHUNK_SIZE - 1)
        async with PartWriter(tmp_path / "a.jpg.part", append=False) as out:
            for chunk in _chunks(data):
                await out.write(chunk)
        assert hops == 1
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


class TestErrors:
    async def test_a_background_write_error_surfaces(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A full disk during a background write is raised to the download, not lost."""

        def full(writer: PartWriter, batch: list[bytes]) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(PartWriter, "_write_locked", full)
        with pytest.raises(OSError, match="No space"):
            await _write_all(tmp_path / "v.part", os.urandom(3 * CHUNK_SIZE))

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
        """Cancelled while a batch is on its way to disk: the .part is a prefix, never a
        file with a hole or with chunks out of order."""
        gate = _Gate(monkeypatch)
        data = os.urandom(3 * CHUNK_SIZE)
        part = tmp_path / "v.part"

        async def stream() -> None:
            async with PartWriter(part, append=False) as out:
                for chunk in _chunks(data):
                    await out.write(chunk)

        task = asyncio.create_task(stream())
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
