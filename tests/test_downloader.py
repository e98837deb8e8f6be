"""The whole download path against the emulator on loopback: bytes, names, skips, limits."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from aura_async.download.session import Runner
from aura_async.emulator import Emulator, EmulatorConfig, FrameSpec
from aura_async.exceptions import NotFound, StorageError
from aura_async.options import DownloadOptions, RunOptions
from aura_async.plan.selection import Selection
from aura_async.plan.templates import Templates
from aura_async.report import Event, FileDone, FrameReport, PlanReady
from aura_async.seams import Disk, File, Mode, Seams
from aura_async.store.scan import scan_relpaths

from .conftest import FullDisk, first_frame_id, no_wait, settings_for, small_config

YEARS = Templates(folder="{year}")


def expected_files(emu: Emulator, *, years: bool = False) -> dict[str, bytes]:
    """Every file the first frame should produce, by relative path, per the contract."""
    frame = emu.library.frames[first_frame_id(emu)]
    files = {}
    for raw in frame.assets:
        if raw["file_name"] is None or raw["id"] in frame.hidden_ids:
            continue
        stem = raw["taken_at"].replace(":", "-") + "_" + raw["id"]
        folder = raw["taken_at"][:4] + "/" if years else ""
        files[folder + stem + Path(raw["file_name"]).suffix] = emu.library.expected_bytes(raw)
        if raw["video_url"]:
            files[folder + stem + Path(raw["video_file_name"]).suffix] = emu.library.expected_bytes(
                raw, clip=True
            )
    return files


def files_on_disk(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` except aura-async's own (.aura-async/)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".aura-async" not in p.relative_to(root).parts
    }


async def download(
    emu: Emulator, tmp_path: Path, **options: Any
) -> tuple[FrameReport, list[Event]]:
    """Run the first frame into ``tmp_path/myframe``; retry waits pass at once."""
    settings = settings_for(emu, tmp_path)
    events: list[Event] = []
    run_options = RunOptions(download=DownloadOptions(**options), rate=None)
    report = FrameReport("myframe")
    seams = Seams(sleep=no_wait)
    async with Runner(settings, run_options, on_event=events.append, seams=seams) as run:
        await run.download(settings.frame("myframe"), report)
    return report, events


class TestWholeFrame:
    @pytest.fixture
    def emulator_config(self) -> EmulatorConfig:
        return small_config(
            frames=[FrameSpec(photos=300, videos=6, live_photos=6, placeholders=4, hidden=3)]
        )

    async def test_every_file_arrives_byte_identical(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """300 photos, videos and Live Photos land byte-identical under compatibility names."""
        report, events = await download(emulator, tmp_path, concurrency=8, page_size=50)
        expected = expected_files(emulator)
        assert len(expected) == 297 + 6 * 2 + 6 * 2
        assert files_on_disk(tmp_path / "myframe") == expected
        assert (report.downloaded, report.skipped, report.failed) == (len(expected), 0, 0)
        assert report.placeholders == 4
        assert report.bytes == sum(len(b) for b in expected.values())
        assert sum(isinstance(e, FileDone) for e in events) == len(expected)
        assert emulator.counters.max_media_in_flight <= 8
        assert emulator.counters.count("assets") == 7  # 328 rows, 50 per page

    async def test_second_run_fetches_nothing(self, emulator: Emulator, tmp_path: Path) -> None:
        """A second run finds every file present and requests no image or video."""
        await download(emulator, tmp_path)
        emulator.counters.reset()
        report, _ = await download(emulator, tmp_path)
        assert emulator.counters.media_requests == 0
        assert report.downloaded == 0
        assert report.skipped == len(expected_files(emulator))

    async def test_mtime_is_taken_at(self, emulator: Emulator, tmp_path: Path) -> None:
        """Each file's modification time is its taken_at."""
        await download(emulator, tmp_path)
        frame = emulator.library.frames[first_frame_id(emulator)]
        raw = next(a for a in frame.assets if a["file_name"] and a["id"] not in frame.hidden_ids)
        name = raw["taken_at"].replace(":", "-") + "_" + raw["id"] + Path(raw["file_name"]).suffix
        taken = datetime.fromisoformat(raw["taken_at"]).timestamp()
        assert (tmp_path / "myframe" / name).stat().st_mtime == pytest.approx(taken, abs=0.01)


class TestLayoutAndAdoption:
    async def test_years_layout(self, emulator: Emulator, tmp_path: Path) -> None:
        """--years puts each file under its taken_at year."""
        await download(emulator, tmp_path, layout=YEARS)
        assert files_on_disk(tmp_path / "myframe") == expected_files(emulator, years=True)

    @pytest.mark.parametrize("old_years", [False, True])
    @pytest.mark.parametrize("new_years", [False, True])
    async def test_old_script_folder_is_adopted(
        self, emulator: Emulator, tmp_path: Path, old_years: bool, new_years: bool
    ) -> None:
        """Files named by the old script (any layout) are not fetched again."""
        root = tmp_path / "myframe"
        old = expected_files(emulator, years=old_years)
        for rel, data in old.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        report, _ = await download(emulator, tmp_path, layout=YEARS if new_years else Templates())
        assert emulator.counters.media_requests == 0
        assert report.skipped == len(old)
        assert files_on_disk(root) == old

    async def test_partial_old_folder_gets_the_rest(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """Only what the old folder lacks is fetched; a .part of foreign bytes is discarded."""
        root = tmp_path / "myframe"
        root.mkdir()
        expected = expected_files(emulator)
        names = sorted(expected)
        for rel in names[:10]:
            (root / rel).write_bytes(expected[rel])
        (root / (names[10] + ".part")).write_bytes(b"half")
        report, _ = await download(emulator, tmp_path)
        assert report.downloaded == len(expected) - 10
        # One ranged request finds the .part is not a prefix of the file, then starts over.
        assert emulator.counters.count("image", 206) == 1
        assert emulator.counters.media_requests == len(expected) - 10 + 1
        assert files_on_disk(root) == expected

    def test_scan_ignores_parts_and_hidden_folders(self, tmp_path: Path) -> None:
        """The folder scan sees files at any depth, not .part files or .aura-async."""
        (tmp_path / "2020").mkdir()
        (tmp_path / ".aura-async").mkdir()
        (tmp_path / "a.jpg").write_bytes(b"")
        (tmp_path / "2020" / "b.jpg").write_bytes(b"")
        (tmp_path / "c.jpg.part").write_bytes(b"")
        (tmp_path / ".aura-async" / "state.db").write_bytes(b"")
        assert scan_relpaths(tmp_path) == {"a.jpg": ["a.jpg"], "b.jpg": ["2020/b.jpg"]}
        assert scan_relpaths(tmp_path / "missing") == {}


class TestSelection:
    @pytest.mark.parametrize(
        ("selection", "include_hidden", "kinds"),
        [
            (Selection(clips=False), False, {"still"}),
            (Selection(stills=False), False, {"clip"}),
            (Selection(), True, {"still", "clip"}),
        ],
    )
    async def test_selection(
        self,
        emulator: Emulator,
        tmp_path: Path,
        selection: Selection,
        include_hidden: bool,
        kinds: set[str],
    ) -> None:
        """--no-videos, --videos-only and --include-hidden choose what is fetched."""
        report, _ = await download(
            emulator, tmp_path, selection=selection, include_hidden=include_hidden
        )
        names = set(files_on_disk(tmp_path / "myframe"))
        clips = {n for n in names if n.endswith((".mp4", ".mov"))}
        assert bool(clips) == ("clip" in kinds)
        assert bool(names - clips) == ("still" in kinds)
        hidden = emulator.library.frames[first_frame_id(emulator)].hidden_ids
        assert any(h in n for h in hidden for n in names) == include_hidden
        expected = expected_files(emulator)
        n_clips = sum(n.endswith((".mp4", ".mov")) for n in expected)
        excluded = {frozenset({"still"}): n_clips, frozenset({"clip"}): len(expected) - n_clips}
        assert report.excluded == excluded.get(frozenset(kinds), 0)

    async def test_dry_run_writes_nothing(self, emulator: Emulator, tmp_path: Path) -> None:
        """--dry-run plans and reports but requests no media and creates no folder."""
        report, events = await download(emulator, tmp_path, dry_run=True)
        assert not (tmp_path / "myframe").exists()
        assert emulator.counters.media_requests == 0
        (ready,) = [e for e in events if isinstance(e, PlanReady)]
        assert ready.to_fetch == len(expected_files(emulator))
        assert report.downloaded == 0


class TestBadAnswers:
    async def test_missing_image_fails_that_file_only(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """A 404 on one image fails that file, not the run."""
        total = len(expected_files(emulator))
        gone = next(iter(emulator.library.images))
        del emulator.library.images[gone]
        report, _ = await download(emulator, tmp_path)
        assert report.failed == 1
        assert report.downloaded == total - 1
        assert report.failures[0][1].startswith("not found (HTTP 404)")
        assert emulator.counters.count("image", 404) == 1

    async def test_unknown_frame_is_not_found(self, emulator: Emulator, tmp_path: Path) -> None:
        """A wrong frame id raises NotFound before anything is written."""
        settings = settings_for(emulator, tmp_path)
        settings.frame_sections["myframe"]["frame_id"] = "nope"  # type: ignore[index]
        async with Runner(settings, RunOptions(rate=None)) as run:
            with pytest.raises(NotFound):
                await run.download(settings.frame("myframe"), FrameReport("myframe"))
        assert not (tmp_path / "myframe").exists()

    async def test_failing_writer_is_a_storage_error(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """A write failing (disk full) stops the run with the path, and leaves no file."""

        settings = settings_for(emulator, tmp_path)
        report = FrameReport("myframe")
        async with Runner(settings, RunOptions(rate=None), seams=Seams(disk=FullDisk())) as run:
            with pytest.raises(StorageError, match=r"No space left on device") as info:
                await run.download(settings.frame("myframe"), report)
        assert str(tmp_path / "myframe") in str(info.value)
        assert isinstance(info.value, OSError)
        # Workers cancelled mid-file keep their .part for the next run; no final name exists.
        assert all(n.endswith(".part") for n in files_on_disk(tmp_path / "myframe"))


class TestOtherDisks:
    async def test_any_disk_behind_the_seam_works(self, emulator: Emulator, tmp_path: Path) -> None:
        """An injected disk (here one that hands out plain files and counts them) gives the
        same files and the same checksums in the state."""

        class CountingDisk(Disk):
            def __init__(self) -> None:
                self.opened: list[str] = []

            def open(self, path: Path, mode: Mode) -> File:
                self.opened.append(path.name)
                handle: File = path.open(mode)
                return handle

        disk = CountingDisk()
        settings = settings_for(emulator, tmp_path)
        report = FrameReport("myframe")
        async with Runner(settings, RunOptions(rate=None), seams=Seams(disk=disk)) as run:
            await run.download(settings.frame("myframe"), report)
        assert files_on_disk(tmp_path / "myframe") == expected_files(emulator)
        assert sorted(disk.opened) == sorted(f"{n}.part" for n in expected_files(emulator))
        from aura_async.store.state import State

        with State.open(tmp_path / "myframe") as state:
            records = state.files()
        import hashlib

        for record in records.values():
            data = (tmp_path / "myframe" / record.relpath).read_bytes()
            assert record.sha256 == hashlib.sha256(data).hexdigest()
