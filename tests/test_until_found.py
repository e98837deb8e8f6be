"""Nothing silently missing: --until-found stops listing early only in a folder that has
caught up with its frame; a run that leaves files unfetched says so."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aura_async.cli import ExitCode, app
from aura_async.download.session import Runner
from aura_async.emulator import Emulator, EmulatorConfig, FrameSpec
from aura_async.exceptions import StorageError
from aura_async.options import DownloadOptions, RunOptions
from aura_async.report import FrameReport
from aura_async.seams import Disk, File, Mode, Seams

from .conftest import settings_for, small_config, write_config
from .test_downloader import expected_files, files_on_disk

FRAME = FrameSpec(photos=120, videos=0, live_photos=0, placeholders=0, hidden=0)


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return small_config(frames=[FRAME], photo_size=2048)


class DiskFullAfter(Disk):
    """A disk that fills up after ``files`` files were opened for writing."""

    def __init__(self, files: int) -> None:
        self.left = files

    def open(self, path: Path, mode: Mode) -> File:
        if mode != "rb":
            self.left -= 1
            if self.left < 0:
                raise OSError(errno.ENOSPC, "No space left on device")
        return super().open(path, mode)


async def _sync(
    emu: Emulator, tmp_path: Path, disk: Disk | None = None, **options: object
) -> FrameReport:
    settings = settings_for(emu, tmp_path)
    run_options = RunOptions(download=DownloadOptions(**options), rate=None)  # type: ignore[arg-type]
    report = FrameReport("myframe")
    async with Runner(settings, run_options, seams=Seams(disk=disk or Disk())) as run:
        await run.download(settings.frame("myframe"), report)
    return report


async def _interrupted_first_download(emu: Emulator, tmp_path: Path) -> FrameReport:
    """A first download that stopped (the disk filled up) with most files not fetched. Its
    listing is one page, so every file is planned before the disk fills (a run counts as not
    attempted the files it planned: with pages of 50 the race between the listing and the
    20th file decided whether the third page was planned)."""
    report = FrameReport("myframe")
    settings = settings_for(emu, tmp_path)
    options = RunOptions(download=DownloadOptions(concurrency=2, page_size=None), rate=None)
    async with Runner(settings, options, seams=Seams(disk=DiskFullAfter(20))) as run:
        with pytest.raises(StorageError):
            await run.download(settings.frame("myframe"), report)
    return report


class TestAfterAnInterruptedFirstDownload:
    async def test_the_report_counts_what_was_never_tried(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """A run stopped by a full disk counts the files it never tried, and says so."""
        report = await _interrupted_first_download(emulator, tmp_path)
        assert report.not_attempted > 0
        assert report.downloaded + report.failed + report.not_attempted == 120
        assert f"{report.not_attempted} not attempted" in report.summary_line()
        assert report.to_json()["not_attempted"] == report.not_attempted

    async def test_until_found_lists_fully_and_completes_the_folder(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """The nightly --until-found run after it lists every page and fetches the rest."""
        first = await _interrupted_first_download(emulator, tmp_path)
        emulator.counters.reset()
        report = await _sync(emulator, tmp_path, until_found=10, page_size=50)
        assert report.listing_complete
        assert emulator.counters.count("assets") == 3  # every page of 50
        # A commit under way when the disk filled may have finished in its thread: that file
        # is adopted by name, not fetched twice.
        assert report.skipped >= first.downloaded
        assert report.downloaded + report.skipped == 120
        assert files_on_disk(tmp_path / "myframe") == expected_files(emulator)

    async def test_once_caught_up_until_found_stops_early_again(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """After a run that completed the folder, --until-found reads one page and says it
        stopped early."""
        await _interrupted_first_download(emulator, tmp_path)
        await _sync(emulator, tmp_path, until_found=10, page_size=50)
        emulator.counters.reset()
        report = await _sync(emulator, tmp_path, until_found=10, page_size=50)
        assert emulator.counters.count("assets") == 1
        assert not report.listing_complete
        assert report.to_json()["listing_complete"] is False
        assert "listing stopped early by --until-found" in report.summary_line()

    async def test_a_failed_file_keeps_the_folder_from_catching_up(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """A complete listing whose run failed a file does not count as caught up: the next
        --until-found run lists fully again, and fetches it once the server has it."""
        frame = emulator.library.frames[next(iter(emulator.library.frames))]
        row = frame.assets[-1]  # the oldest: far past any --until-found streak
        real_name = row["file_name"]
        row["file_name"] = "not-on-the-server.jpeg"  # the image server answers 404
        first = await _sync(emulator, tmp_path, page_size=50)
        assert first.failed == 1
        row["file_name"] = real_name
        emulator.counters.reset()
        report = await _sync(emulator, tmp_path, until_found=10, page_size=50)
        assert report.listing_complete
        assert emulator.counters.count("assets") == 3
        assert files_on_disk(tmp_path / "myframe") == expected_files(emulator)


class TestCommandLine:
    def test_json_and_last_line_of_a_nightly_run_after_an_interruption(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """The cron line's run after an interrupted first download: JSON says the listing
        was complete, and the folder ends complete."""
        config = write_config(threaded_emulator, tmp_path)
        root = tmp_path / "photos"
        root.mkdir()
        expected = expected_files(threaded_emulator)
        for name in sorted(expected)[:30]:  # the newest uploads come first in the listing
            (root / name).write_bytes(expected[name])
        runner = CliRunner()
        args = ["--config", str(config), "myframe", "--json", "--until-found", "5", "--rate", "0"]
        result = runner.invoke(app, args)
        assert result.exit_code == ExitCode.OK, result.stderr
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        assert summary["listing_complete"] is True
        assert summary["not_attempted"] == 0
        assert "listing the whole frame" in result.stderr
        assert files_on_disk(root) == expected
