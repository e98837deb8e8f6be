"""The durable commit, through the disk seam: data synced, then the rename, then the folder,
then the record; a file system without fsync warns once; a failing sync names no file."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from aura_async.download.session import Runner
from aura_async.emulator import Emulator, FrameSpec
from aura_async.exceptions import StorageError
from aura_async.models import MediaKind
from aura_async.options import RunOptions
from aura_async.plan.paths import PART_SUFFIX
from aura_async.report import DiskWarning, Event, FrameReport
from aura_async.seams import Disk, Seams
from aura_async.store.records import FileRecord
from aura_async.store.state import State
from aura_async.store.writer import StateWriter

from .conftest import settings_for, small_config
from .test_downloader import expected_files, files_on_disk


class RecordingDisk(Disk):
    """The real disk, with every sync, rename and folder sync logged in order; ``fail``
    makes :meth:`sync` raise that errno instead."""

    def __init__(self, fail: int | None = None) -> None:
        self.log: list[tuple[str, str]] = []
        self.fail = fail

    def sync(self, path: Path) -> None:
        self.log.append(("sync", path.name))
        if self.fail is not None:
            raise OSError(self.fail, "sync refused")
        super().sync(path)

    def replace(self, source: Path, target: Path) -> None:
        self.log.append(("replace", f"{source.name}>{target.name}"))
        super().replace(source, target)

    def sync_folder(self, folder: Path) -> None:
        self.log.append(("sync_folder", str(folder)))
        super().sync_folder(folder)


async def _run(emu: Emulator, tmp_path: Path, disk: Disk) -> tuple[FrameReport, list[Event]]:
    settings = settings_for(emu, tmp_path)
    report = FrameReport("myframe")
    events: list[Event] = []
    seams = Seams(disk=disk)
    async with Runner(settings, RunOptions(rate=None), on_event=events.append, seams=seams) as run:
        await run.download(settings.frame("myframe"), report)
    return report, events


async def test_each_file_is_synced_then_renamed_then_its_folder_synced(
    emulator: Emulator, tmp_path: Path
) -> None:
    """For every file: fsync of its .part, then the rename, then a sync of its folder."""
    disk = RecordingDisk()
    await _run(emulator, tmp_path, disk)
    root = tmp_path / "myframe"
    expected = expected_files(emulator)
    assert files_on_disk(root) == expected
    for name in expected:
        part = name + PART_SUFFIX
        synced = disk.log.index(("sync", part))
        renamed = disk.log.index(("replace", f"{part}>{name}"))
        assert synced < renamed, name
        folder_synced = [
            i for i, op in enumerate(disk.log) if op == ("sync_folder", str(root)) and i > renamed
        ]
        assert folder_synced, f"{name}: its folder was never synced after the rename"


async def test_the_state_records_a_file_only_after_its_folder_is_synced(tmp_path: Path) -> None:
    """The writer's prepare step (the folder syncs) runs before the batch's commit, and a
    failing one keeps the batch out of the state."""
    seen: list[int] = []
    with State.open(tmp_path) as state:

        def prepare(batch: list[FileRecord]) -> None:
            seen.append(len(state.files()))  # what the state held when the folders synced
            if len(seen) == 2:
                raise StorageError("cannot sync the folder")

        record = FileRecord("a", MediaKind.PHOTO, "a.jpg", 1.0, 1.0)
        async with StateWriter(state, prepare=prepare) as writer:
            writer.add(record)
            await writer.flush()
            assert seen == [0]
            assert len(state.files()) == 1
            writer.add(FileRecord("b", MediaKind.PHOTO, "b.jpg", 1.0, 1.0))
            with pytest.raises(StorageError):
                await writer.flush()
            assert len(state.files()) == 1  # the second batch was not committed
            assert writer.pending == 1
            await writer.flush()  # the folder syncs again: now it commits
        assert seen == [0, 1, 1]
        assert len(state.files()) == 2


@pytest.mark.parametrize("code", [errno.EINVAL, errno.ENOTSUP])
async def test_a_file_system_without_fsync_warns_once_and_goes_on(
    emulator: Emulator, tmp_path: Path, code: int
) -> None:
    """fsync refused as unsupported: every file arrives, and one warning says so."""
    report, events = await _run(emulator, tmp_path, RecordingDisk(fail=code))
    assert files_on_disk(tmp_path / "myframe") == expected_files(emulator)
    assert report.failed == 0
    warnings = [e for e in events if isinstance(e, DiskWarning)]
    assert len(warnings) == 1
    assert "cannot make files durable" in warnings[0].message


async def test_a_sync_that_fails_names_no_file(tmp_path: Path) -> None:
    """fsync failing with an I/O error stops the frame; no final name is given to bytes
    that may not be on the disk."""
    frame = FrameSpec(photos=5, videos=0, live_photos=0, placeholders=0, hidden=0)
    async with Emulator(small_config(frames=[frame])) as emu:
        with pytest.raises(StorageError, match="sync refused"):
            await _run(emu, tmp_path, RecordingDisk(fail=errno.EIO))
    root = tmp_path / "myframe"
    assert all(name.endswith(PART_SUFFIX) for name in files_on_disk(root))
