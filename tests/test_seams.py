"""seams.py: the disk's operations, which sync errors mean "unsupported", DiskPace's
choice of loop or threads, and paced()."""

from __future__ import annotations

import asyncio
import errno
import threading
import time
from pathlib import Path

import pytest

from aura_async.seams import Disk, DiskPace, Seams, open_file, paced, sync_unsupported

from .conftest import PaceClock


@pytest.mark.parametrize(
    ("code", "unsupported"),
    [
        (errno.EINVAL, True),
        (errno.ENOTSUP, True),
        (errno.EOPNOTSUPP, True),
        (errno.ENOSYS, True),
        (errno.EIO, False),
        (errno.ENOSPC, False),
        (errno.EROFS, False),
        (errno.EACCES, False),
        (None, False),
    ],
)
def test_sync_unsupported(code: int | None, unsupported: bool) -> None:
    """Only "this file system cannot fsync" errors are warnings; real I/O errors are not."""
    error = OSError(code, "x") if code is not None else OSError("no errno")
    assert sync_unsupported(error) is unsupported


class FolderSyncs(Disk):
    """The real disk, noting each folder synced; ``fail`` makes those syncs fail."""

    def __init__(self, fail: bool = False) -> None:
        self.synced: list[Path] = []
        self._fail = fail

    def sync_folder(self, folder: Path) -> None:
        self.synced.append(folder)
        if self._fail:
            raise OSError(errno.EIO, "Input/output error")
        super().sync_folder(folder)


class TestDisk:
    def test_new_folders_are_made_durable_in_their_parents(self, tmp_path: Path) -> None:
        """Each folder created is synced in its parent, outermost first."""
        disk = FolderSyncs()
        disk.make_folders(tmp_path / "a" / "b" / "c")
        assert (tmp_path / "a" / "b" / "c").is_dir()
        assert disk.synced == [tmp_path, tmp_path / "a", tmp_path / "a" / "b"]

    def test_an_existing_folder_costs_no_sync(self, tmp_path: Path) -> None:
        """A folder already there is left as it is."""
        disk = FolderSyncs()
        disk.make_folders(tmp_path)
        assert disk.synced == []

    def test_a_failing_folder_sync_does_not_undo_the_folder(self, tmp_path: Path) -> None:
        """The syncs after a mkdir are best effort: the folder exists, no error."""
        disk = FolderSyncs(fail=True)
        disk.make_folders(tmp_path / "x" / "y")
        assert (tmp_path / "x" / "y").is_dir()
        assert len(disk.synced) == 2

    def test_open_sync_replace(self, tmp_path: Path) -> None:
        """The default disk opens, syncs and renames real files."""
        disk = Disk()
        part = tmp_path / "a.part"
        handle = disk.open(part, "wb")
        handle.write(b"bytes")
        handle.close()
        disk.sync(part)
        disk.sync_folder(tmp_path)
        disk.replace(part, tmp_path / "a")
        reader = open_file(tmp_path / "a", "rb")
        try:
            assert reader.read() == b"bytes"
        finally:
            reader.close()
        assert not part.exists()

    def test_syncing_a_missing_file_is_an_error(self, tmp_path: Path) -> None:
        """A sync of a file that is not there raises, it is not taken for unsupported."""
        with pytest.raises(FileNotFoundError) as info:
            Disk().sync(tmp_path / "gone")
        assert not sync_unsupported(info.value)


class TestDiskPace:
    def test_quick_steps_stay_on_the_loop(self) -> None:
        """Steps within LIMIT keep the folder's work on the loop."""
        clock = PaceClock()
        pace = DiskPace(clock)
        assert pace.inline
        assert pace.run(lambda x: x * 2, 21) == 42
        assert pace.inline

    def test_a_slow_step_sends_the_work_to_threads_for_a_while(self) -> None:
        """One step slower than LIMIT: threads for RETRY_AFTER seconds, then the loop
        again."""
        clock = PaceClock()
        pace = DiskPace(clock)
        pace.run(clock.stall)
        assert not pace.inline
        clock.now += DiskPace.RETRY_AFTER - 0.001
        assert not pace.inline
        clock.now += 0.001
        assert pace.inline

    def test_a_failing_step_is_timed_too(self) -> None:
        """A slow step that raises still counts as slow; its error goes to the caller."""
        clock = PaceClock()
        pace = DiskPace(clock)

        def slow_failure() -> None:
            clock.stall()
            raise OSError(errno.EIO, "Input/output error")

        with pytest.raises(OSError, match="Input/output"):
            pace.run(slow_failure)
        assert not pace.inline


class TestPaced:
    async def test_on_the_loop_while_the_disk_is_quick(self) -> None:
        """With a quick pace the work runs here, on the loop's thread."""
        here = threading.get_ident()
        assert await paced(DiskPace(PaceClock()), threading.get_ident) == here

    @pytest.mark.parametrize("slow", [False, True], ids=["no-pace", "slow-pace"])
    async def test_in_a_thread_otherwise(self, slow: bool) -> None:
        """Without a pace, or after a slow step, the work runs in a worker thread."""
        pace = None
        if slow:
            clock = PaceClock()
            pace = DiskPace(clock)
            pace.run(clock.stall)
        here = threading.get_ident()
        assert await paced(pace, threading.get_ident) != here


def test_the_default_seams_are_the_real_world() -> None:
    """Seams() is the real sleep, Unix time, disk and a DiskPace per folder."""
    seams = Seams()
    assert seams.sleep is asyncio.sleep
    assert seams.wallclock is time.time
    assert type(seams.disk) is Disk
    assert isinstance(seams.disk_pace(), DiskPace)
    assert seams.disk_pace() is not seams.disk_pace()
