"""Nightly runs: the state database, skip decisions, --until-found, duplicates, removals."""

from __future__ import annotations

import asyncio
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aura_async.cli import ExitCode, app
from aura_async.download.session import Runner
from aura_async.emulator import Emulator, EmulatorConfig, FrameSpec, Throttle
from aura_async.options import DownloadOptions, RunOptions
from aura_async.pacing.memory import RATE_KEY
from aura_async.plan.selection import Dedupe
from aura_async.plan.templates import Templates
from aura_async.report import Event, FrameReport, PageListed
from aura_async.store.state import LAST_COMPLETE_LISTING, State

from .conftest import first_frame_id, settings_for, small_config, write_config
from .test_downloader import expected_files, files_on_disk

PHOTOS_ONLY = FrameSpec(photos=20, videos=0, live_photos=0, placeholders=0, hidden=0)


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return small_config(frames=[PHOTOS_ONLY])


async def sync(emu: Emulator, tmp_path: Path, **options: Any) -> FrameReport:
    settings = settings_for(emu, tmp_path)
    rate = options.pop("rate", None)
    run_options = RunOptions(download=DownloadOptions(**options), rate=rate)
    report = FrameReport("myframe")
    async with Runner(settings, run_options) as run:
        await run.download(settings.frame("myframe"), report)
    return report


def rows(tmp_path: Path) -> dict[tuple[str, str], Any]:
    with State.open(tmp_path / "myframe") as state:
        return state.files()


def frame_of(emu: Emulator) -> Any:
    return emu.library.frames[first_frame_id(emu)]


class TestState:
    async def test_downloads_are_recorded(self, emulator: Emulator, tmp_path: Path) -> None:
        """Each downloaded file gets a row with path, size, sha256 and times; each run a row."""
        await sync(emulator, tmp_path)
        records = rows(tmp_path)
        assert len(records) == 20
        on_disk = files_on_disk(tmp_path / "myframe")
        for record in records.values():
            assert record.relpath in on_disk
            assert record.size == len(on_disk[record.relpath])
            assert record.sha256 is not None
            assert record.downloaded_at is not None
            assert record.md5_hash is not None
            assert record.uploader_name
        with State.open(tmp_path / "myframe") as state:
            (run,) = state.runs()
        assert run.summary["downloaded"] == 20

    async def test_old_script_years_folder_is_adopted(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """An old-script --years folder is adopted into the state; nothing is fetched."""
        root = tmp_path / "myframe"
        for rel, data in expected_files(emulator, years=True).items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        report = await sync(emulator, tmp_path, layout=Templates(folder="{year}"))
        assert emulator.counters.media_requests == 0
        assert report.skipped == 20
        records = rows(tmp_path)
        assert {r.relpath for r in records.values()} == set(expected_files(emulator, years=True))
        assert all(r.downloaded_at is None and r.size for r in records.values())

    async def test_template_change_fetches_nothing(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """After a download, a new folder template never causes a second download."""
        await sync(emulator, tmp_path)
        emulator.counters.reset()
        report = await sync(emulator, tmp_path, layout=Templates(folder="{uploader}/{year}"))
        assert emulator.counters.media_requests == 0
        assert report.skipped == 20

    async def test_a_short_throttled_run_stores_no_rate(self, tmp_path: Path) -> None:
        """A run throttled for a moment stores no rate: nothing was served for long enough
        to measure one (an opening burst is not a rate)."""
        # Eight workers start within 20 ms of each other: a 50/s bucket of one throttles.
        config = small_config(
            frames=[PHOTOS_ONLY], throttle=Throttle(rate=50.0, burst=1, retry_after="fractional")
        )
        async with Emulator(config) as emu:
            await sync(emu, tmp_path, rate=400.0)
            assert emu.counters.throttled > 0
        with State.open(tmp_path / "myframe") as state:
            assert state.get_value(RATE_KEY) is None

    @pytest.mark.parametrize("stored", [20.0, {"rate": 20.0}])
    async def test_a_stored_rate_is_resumed_then_relaxed(
        self, tmp_path: Path, stored: object
    ) -> None:
        """The next run starts at the stored rate (as an older version stored it too); a
        quiet run lets it rise by a quarter."""
        async with Emulator(small_config(frames=[PHOTOS_ONLY])) as emu:
            await sync(emu, tmp_path, rate=400.0)
            with State.open(tmp_path / "myframe") as state:
                state.set_value(RATE_KEY, stored)
            settings = settings_for(emu, tmp_path)
            async with Runner(settings, RunOptions(rate=400.0)) as run:
                await run.download(settings.frame("myframe"), FrameReport("myframe"))
                assert run.limiter.rate == 20.0  # started there; nothing to fetch this time
        with State.open(tmp_path / "myframe") as state:
            assert state.get_value(RATE_KEY) == {"rate": 25.0}


class TestSkipDecisions:
    async def test_deleted_files_stay_deleted(self, emulator: Emulator, tmp_path: Path) -> None:
        """A file the user deleted is counted missing, not fetched; --restore-missing fetches it."""
        await sync(emulator, tmp_path)
        victim = sorted(files_on_disk(tmp_path / "myframe"))[0]
        (tmp_path / "myframe" / victim).unlink()
        emulator.counters.reset()
        report = await sync(emulator, tmp_path)
        assert (report.missing, report.downloaded) == (1, 0)
        assert emulator.counters.media_requests == 0
        report = await sync(emulator, tmp_path, restore_missing=True)
        assert report.downloaded == 1
        assert files_on_disk(tmp_path / "myframe") == expected_files(emulator)

    async def test_moved_files_are_found_by_name(self, emulator: Emulator, tmp_path: Path) -> None:
        """A file the user moved into a sub-folder is found there and recorded anew."""
        await sync(emulator, tmp_path)
        name = sorted(files_on_disk(tmp_path / "myframe"))[0]
        (tmp_path / "myframe" / "favourites").mkdir()
        shutil.move(tmp_path / "myframe" / name, tmp_path / "myframe" / "favourites" / name)
        emulator.counters.reset()
        report = await sync(emulator, tmp_path)
        assert report.missing == 0
        assert emulator.counters.media_requests == 0
        assert f"favourites/{name}" in {r.relpath for r in rows(tmp_path).values()}


class TestUntilFound:
    @pytest.fixture
    def emulator_config(self) -> EmulatorConfig:
        return small_config(
            frames=[FrameSpec(photos=200, videos=0, live_photos=0, placeholders=0, hidden=0)],
            photo_size=2048,
        )

    async def test_stops_after_n_present(self, emulator: Emulator, tmp_path: Path) -> None:
        """New uploads are fetched and listing stops after N known ones: one page of 50."""
        await sync(emulator, tmp_path)
        frame = frame_of(emulator)
        for _ in range(5):
            emulator.library.add_asset(frame, "photo")
        emulator.counters.reset()
        report = await sync(emulator, tmp_path, until_found=10, page_size=50)
        assert report.downloaded == 5
        assert emulator.counters.count("assets") == 1
        assert report.removed == []  # an incomplete listing never marks removals
        assert files_on_disk(tmp_path / "myframe") == expected_files(emulator)


class TestDuplicates:
    @pytest.mark.parametrize("mode", list(Dedupe))
    async def test_same_photo_twice(self, emulator: Emulator, tmp_path: Path, mode: Dedupe) -> None:
        """A photo uploaded again by a relative is fetched once; the copy follows --dedupe."""
        frame = frame_of(emulator)
        first = next(a for a in frame.assets if a["file_name"])
        copy = emulator.library.add_asset(frame, "photo", md5_of=first["id"])
        report = await sync(emulator, tmp_path, dedupe=mode)
        root = tmp_path / "myframe"
        names = {p.name: p for p in root.iterdir() if p.is_file()}
        pair = [next((p for n, p in names.items() if a["id"] in n), None) for a in (first, copy)]
        fetched = [emulator.counters.files[a["file_name"]] for a in (first, copy)]
        if mode is Dedupe.OFF:
            assert fetched == [1, 1]
            assert None not in pair
            return
        assert sorted(fetched) == [0, 1]  # the same bytes are fetched once
        if mode is Dedupe.SKIP:
            assert pair.count(None) == 1
            assert report.duplicates == 1
        else:
            assert pair[0] is not None
            assert pair[1] is not None
            assert pair[0].stat().st_ino == pair[1].stat().st_ino
            assert report.linked == 1
            assert {(first["id"], "photo"), (copy["id"], "photo")} <= set(rows(tmp_path))


class TestRemovals:
    async def test_removed_assets_are_marked_not_deleted(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """An asset the frame no longer lists gets removed_at and is reported; the file stays."""
        await sync(emulator, tmp_path)
        frame = frame_of(emulator)
        gone = frame.assets.pop(0)
        report = await sync(emulator, tmp_path)
        assert len(report.removed) == 1
        assert gone["id"] in report.removed[0]
        assert (tmp_path / "myframe" / report.removed[0]).exists()
        assert rows(tmp_path)[(gone["id"], "photo")].removed_at is not None
        frame.assets.insert(0, gone)  # it comes back: no longer removed
        await sync(emulator, tmp_path)
        assert rows(tmp_path)[(gone["id"], "photo")].removed_at is None


class TestCli:
    def test_verify(self, threaded_emulator: Emulator, tmp_path: Path) -> None:
        """--verify reports changed and missing files and exits 1; clean folders exit 0."""
        config = write_config(threaded_emulator, tmp_path)
        runner = CliRunner()
        assert runner.invoke(app, ["--config", str(config), "myframe", "--verify"]).exit_code == 0
        assert (
            runner.invoke(app, ["--config", str(config), "myframe", "--rate", "0"]).exit_code == 0
        )
        result = runner.invoke(app, ["--config", str(config), "myframe", "--verify"])
        assert result.exit_code == ExitCode.OK
        assert "verified 20 files: 0 missing, 0 changed" in result.stderr
        files = sorted(p for p in (tmp_path / "photos").iterdir() if p.is_file())
        files[0].write_bytes(b"x" + files[0].read_bytes()[1:])
        files[1].unlink()
        result = runner.invoke(app, ["--config", str(config), "myframe", "--verify", "--json"])
        assert result.exit_code == ExitCode.FAILED
        assert f"changed {files[0].name}" in result.stderr
        assert f"missing {files[1].name}" in result.stderr
        assert threaded_emulator.counters.count("login") == 1  # --verify needs no network

    def test_json_reports_nightly_figures(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """--json carries missing, duplicate and removal figures."""
        config = write_config(threaded_emulator, tmp_path)
        result = CliRunner().invoke(
            app, ["--config", str(config), "myframe", "--json", "--rate", "0"]
        )
        import json

        summary = json.loads(result.stdout)
        for key in ("missing_locally", "duplicates_linked", "duplicates_skipped", "removed"):
            assert key in summary


@pytest.mark.timeout(120)  # 365 real runs against the emulator: ~25 s on a busy 2-core VM
async def test_a_year_of_nightly_runs(tmp_path: Path) -> None:
    """365 simulated nights of uploads, removals, duplicates and user moves and deletions:
    the folder, the state and every summary stay exactly as expected."""
    rng = random.Random(42)
    config = small_config(
        frames=[FrameSpec(photos=10, videos=1, live_photos=1, placeholders=1, hidden=0)],
        photo_size=1024,
        video_size=2048,
    )
    async with Emulator(config) as emu:
        frame = frame_of(emu)
        root = tmp_path / "myframe"
        deleted: set[str] = set()  # relpaths the user deleted: never to come back
        moved: dict[str, str] = {}  # relpath -> where the user put it
        first = await sync(emu, tmp_path)
        assert first.downloaded == len(expected_files(emu))
        pending_removal: str | None = None
        for night in range(365):
            new = 0
            for _ in range(rng.choice([0, 0, 0, 1, 2])):
                kind = rng.choice(["photo", "photo", "photo", "video", "live"])
                emu.library.add_asset(frame, kind)
                new += 2 if kind != "photo" else 1
            dup = None
            if rng.random() < 0.05:
                source = rng.choice(
                    [a for a in frame.assets if a["file_name"] and not a["video_url"]]
                )
                dup = emu.library.add_asset(frame, "photo", md5_of=source["id"])
            report = await sync(emu, tmp_path)
            assert report.failed == 0, report.failures
            assert report.downloaded + report.linked == new + (1 if dup else 0), night
            listed = [a["id"] for a in frame.assets]
            still_listed = {rel for rel in deleted if any(i in rel for i in listed)}
            assert report.missing == len(still_listed), night
            if pending_removal is not None:
                assert any(pending_removal in rel for rel in report.removed), night
                pending_removal = None
            on_disk = set(files_on_disk(root))
            if rng.random() < 0.04:  # the user tidies up
                victim = rng.choice(sorted(on_disk - set(moved.values())))
                if rng.random() < 0.5:
                    (root / victim).unlink()
                    deleted.add(victim)
                else:
                    (root / "kept").mkdir(exist_ok=True)
                    shutil.move(root / victim, root / "kept" / Path(victim).name)
                    moved[victim] = f"kept/{Path(victim).name}"
            if rng.random() < 0.05:  # someone removes a photo from the frame
                gone = frame.assets.pop(rng.randrange(len(frame.assets)))
                if gone["file_name"] and not any(gone["id"] in rel for rel in deleted):
                    pending_removal = gone["id"]
        expected = {
            moved.get(rel, rel): data
            for rel, data in expected_files(emu).items()
            if rel not in deleted
        }
        final = files_on_disk(root)
        listed_now = set(expected)
        assert listed_now <= set(final)
        for rel in listed_now:
            assert final[rel] == expected[rel]
        records = rows(tmp_path)
        assert {r.relpath for r in records.values() if r.removed_at is None} >= listed_now
        with State.open(root) as state:
            assert len(state.runs()) == 366


async def test_linked_duplicates_get_their_own_sidecars(emulator: Emulator, tmp_path: Path) -> None:
    """A hard-linked duplicate still gets a sidecar naming its own asset and uploader."""
    import json

    frame = frame_of(emulator)
    first = next(a for a in frame.assets if a["file_name"])
    copy = emulator.library.add_asset(frame, "photo", md5_of=first["id"])
    await sync(emulator, tmp_path, sidecars="json")
    for asset in (first, copy):
        (sidecar,) = (tmp_path / "myframe").glob(f"*{asset['id']}*.json")
        assert json.loads(sidecar.read_text())["id"] == asset["id"]


async def test_a_listing_stopped_half_way_counts_what_it_found(tmp_path: Path) -> None:
    """Ctrl-C in the listing of a nightly run with nothing to do: the summary counts the
    files the pages read so far found here (it said "0 skipped"), and the run records no
    complete listing."""
    config = small_config(frames=[PHOTOS_ONLY], api_latency=0.05)
    async with Emulator(config) as emu:
        await sync(emu, tmp_path, page_size=5)
        with State.open(tmp_path / "myframe") as state:
            listed_before = state.get_value(LAST_COMPLETE_LISTING)
        settings = settings_for(emu, tmp_path)
        report = FrameReport("myframe")
        running: list[asyncio.Task[None]] = []

        def on_event(event: Event) -> None:
            if isinstance(event, PageListed) and event.page == 3:
                running[0].cancel()  # pages 1 and 2 are planned by now: 50 ms apart

        async def nightly() -> None:
            options = RunOptions(download=DownloadOptions(page_size=5))
            async with Runner(settings, options, on_event=on_event) as runner:
                await runner.download(settings.frame("myframe"), report)

        running.append(asyncio.ensure_future(nightly()))
        with pytest.raises(asyncio.CancelledError):
            await running[0]
    assert 10 <= report.skipped < 20
    assert not report.listing_complete
    assert report.downloaded == report.failed == 0
    with State.open(tmp_path / "myframe") as state:
        assert state.get_value(LAST_COMPLETE_LISTING) == listed_before
