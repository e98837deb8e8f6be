"""Edge cases of long and unlucky runs: URLs expiring twice, runs that give up, dry runs
over a state, a listing per frame."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aura_async.cli import ExitCode, app
from aura_async.download.session import Runner
from aura_async.emulator import Emulator, Faults, FrameSpec, Throttle
from aura_async.emulator.thread import emulator_in_thread
from aura_async.exceptions import RateLimited
from aura_async.options import DownloadOptions, RunOptions
from aura_async.pacing.memory import RATE_KEY
from aura_async.report import FrameReport
from aura_async.seams import Seams
from aura_async.store.state import State

from .conftest import FakeTime, no_wait, settings_for, small_config, write_config
from .test_downloader import expected_files, files_on_disk


async def sync(emu: Emulator, tmp_path: Path, on_event: Any = None, **options: Any) -> FrameReport:
    settings = settings_for(emu, tmp_path)
    report = FrameReport("myframe")
    async with Runner(
        settings, RunOptions(download=DownloadOptions(**options), rate=None), on_event=on_event
    ) as run:
        await run.download(settings.frame("myframe"), report)
    return report


async def test_urls_that_expire_twice_are_refreshed_twice(tmp_path: Path) -> None:
    """On a run longer than two URL lifetimes, every clip still arrives."""
    config = small_config(video_url_ttl=100.0)
    served: list[Emulator] = []

    def wallclock() -> float:
        # Each clip served ages every signed URL handed out so far past its lifetime. (Told
        # by the server, not by the client's events: a file is reported done when it is
        # committed, which may be after the next clip was already fetched.)
        return 1_000_000.0 + 150.0 * (served[0].counters.count("video", 200) if served else 0)

    emu = Emulator(config, wallclock=wallclock)
    served.append(emu)
    await emu.start()
    try:
        report = await sync(emu, tmp_path, concurrency=1)
        assert report.failed == 0, report.failures
        assert files_on_disk(tmp_path / "myframe") == expected_files(emu)
        assert emu.counters.count("video", 200) > 2
        assert emu.counters.count("assets") > 2, emu.counters.requests
    finally:
        await emu.close()


async def test_a_run_that_gives_up_keeps_its_rate_and_row(tmp_path: Path) -> None:
    """Endless throttling ends the run past --max-wait, but what it learned (the rate
    the server refused) and the run's row are kept."""
    config = small_config(throttle=Throttle(rate=1000.0, burst=0, retry_after="none"))
    fake = FakeTime()
    async with Emulator(config, clock=fake.clock) as emu:
        settings = settings_for(emu, tmp_path)
        options = RunOptions(rate=500.0, max_wait=30.0)
        report = FrameReport("myframe")
        seams = Seams(sleep=fake.sleep, clock=fake.clock)
        async with Runner(settings, options, seams=seams) as run:
            with pytest.raises(RateLimited):
                await run.download(settings.frame("myframe"), report)
    with State.open(tmp_path / "myframe") as state:
        assert state.get_value(RATE_KEY) == {"cap": 500.0}
        (row,) = state.runs()
    assert "throttled" in row.summary["error"]
    assert not report.failures  # what it did not fetch is left for the next run
    assert report.downloaded == 0
    assert report.not_attempted > 0


def test_all_goes_on_past_a_broken_listing(tmp_path: Path) -> None:
    """A frame whose listing keeps failing is reported in --json; the next frame is tried."""
    config = small_config(faults=Faults(malformed_listing=1.0))
    config.frames.append(
        FrameSpec(name="Cabin", photos=2, videos=0, live_photos=0, placeholders=0, hidden=0)
    )
    with emulator_in_thread(config) as emu:
        path = write_config(emu, tmp_path)
        result = CliRunner().invoke(
            app,
            ["--config", str(path), "--all", "--json", "--rate", "0"],
            obj=Seams(sleep=no_wait),  # the listing's retries wait for nothing
        )
    assert result.exit_code == ExitCode.FAILED
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["frame"] for line in lines] == ["myframe", "frame2"]
    assert all("malformed JSON" in line["error"] for line in lines)


def test_dry_run_knows_what_the_state_knows(threaded_emulator: Emulator, tmp_path: Path) -> None:
    """--dry-run does not offer to fetch files the user deleted (a real run would not)."""
    config = write_config(threaded_emulator, tmp_path)
    runner = CliRunner()
    runner.invoke(app, ["--config", str(config), "myframe", "--rate", "0"])
    victim = sorted(p for p in (tmp_path / "photos").iterdir() if p.is_file())[0]
    victim.unlink()
    state_files = sorted((tmp_path / "photos" / ".aura-async").iterdir())
    before = [p.stat().st_mtime_ns for p in state_files]
    result = runner.invoke(app, ["--config", str(config), "myframe", "--dry-run"])
    assert result.exit_code == ExitCode.OK
    assert result.stdout == ""
    assert "0 files to download" in result.stderr
    assert "0 files would be downloaded" in result.stderr
    assert "1 missing locally" in result.stderr
    assert [p.stat().st_mtime_ns for p in state_files] == before  # nothing written
    # nor left behind: SQLite's -wal and -shm of a read-only connection are removed
    assert sorted((tmp_path / "photos" / ".aura-async").iterdir()) == state_files


@pytest.mark.parametrize("name", ["listing-{frame}.json", "listing.json"])
def test_save_assets_per_frame(tmp_path: Path, name: str) -> None:
    """With several frames, --save-assets keeps one listing per frame, {frame} or not."""
    config = small_config()
    config.frames.append(
        FrameSpec(name="Cabin", photos=2, videos=0, live_photos=0, placeholders=0, hidden=0)
    )
    with emulator_in_thread(config) as emu:
        path = write_config(emu, tmp_path)
        target = tmp_path / name
        result = CliRunner().invoke(
            app, ["--config", str(path), "--all", "--rate", "0", "--save-assets", str(target)]
        )
    assert result.exit_code == ExitCode.OK
    assert len(json.loads((tmp_path / "listing-frame2.json").read_text())) == 2
    assert len(json.loads((tmp_path / "listing-myframe.json").read_text())) == 35  # rows
