"""Memory bounded by a page, downloads from the first page: the state asked page by page,
the compact folder scan, removals by one query, and duplicates across pages."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aura_async.download.listing import PagePlanner
from aura_async.download.session import Runner
from aura_async.emulator import Emulator, EmulatorConfig, FrameSpec
from aura_async.models import Asset, MediaKind
from aura_async.options import DownloadOptions, RunOptions
from aura_async.plan.planner import Planner
from aura_async.plan.selection import Dedupe, Selection
from aura_async.report import Event, FileDone, FrameReport, JobsQueued, PlanReady, WouldDownload
from aura_async.store.records import FileRecord, Indexed
from aura_async.store.scan import scan_folder, sizes_of
from aura_async.store.schema import CURRENT_VERSION
from aura_async.store.state import State
from aura_async.store.writer import StateWriter

from .conftest import first_frame_id, settings_for, small_config
from .test_downloader import expected_files, files_on_disk

FRAME = FrameSpec(photos=300, videos=0, live_photos=0, placeholders=0, hidden=0)


def rec(asset_id: str, relpath: str, **fields: object) -> FileRecord:
    return FileRecord(asset_id, MediaKind.PHOTO, relpath, 1.0, 1.0, **fields)  # type: ignore[arg-type]


class TestStateQueries:
    def test_lookup_reads_only_the_files_asked_for(self, tmp_path: Path) -> None:
        """lookup returns the rows of the given keys (any kind of the asset), nothing else."""
        with State.open(tmp_path) as state:
            state.record([rec("a", "a.jpg", size=3, md5_hash="m"), rec("b", "b.jpg")])
            found = state.lookup([("a", MediaKind.PHOTO), ("zz", MediaKind.PHOTO)])
        assert found == {("a", "photo"): Indexed("a.jpg", "m", None, 3)}

    def test_lookup_of_more_ids_than_one_query_takes(self, tmp_path: Path) -> None:
        """A page larger than one IN (...) query is read in several."""
        with State.open(tmp_path) as state:
            state.record([rec(f"id{i}", f"{i}.jpg") for i in range(1200)])
            found = state.lookup([(f"id{i}", MediaKind.PHOTO) for i in range(0, 1200, 2)])
        assert len(found) == 600

    def test_md5_places(self, tmp_path: Path) -> None:
        """md5_places gives every recorded photo of each md5, in relpath order."""
        with State.open(tmp_path) as state:
            state.record(
                [rec("a", "z.jpg", md5_hash="m"), rec("b", "a.jpg", md5_hash="m"), rec("c", "c")]
            )
            assert state.md5_places(["m", "x"]) == {"m": ["a.jpg", "z.jpg"]}

    @pytest.mark.parametrize("complete", [True, False])
    def test_a_listing_is_recorded_by_one_query(self, tmp_path: Path, complete: bool) -> None:
        """What a listing offered is seen; after a complete one, what it did not offer is
        removed (and comes back when listed again); an incomplete one removes nothing."""
        with State.open(tmp_path) as state:
            state.record([rec("a", "a.jpg"), rec("b", "b.jpg"), rec("c", "c.jpg", removed_at=5.0)])
            state.begin_listing()
            state.note_listed([("a", MediaKind.PHOTO)])
            state.note_listed([("c", MediaKind.PHOTO), ("new", MediaKind.PHOTO)])
            gone = state.end_listing(9.0, complete=complete)
            files = state.files()
        assert gone == (["b.jpg"] if complete else [])
        assert files[("a", "photo")].last_seen == 9.0
        assert files[("c", "photo")].removed_at is None  # listed again
        assert files[("b", "photo")].removed_at == (9.0 if complete else None)
        assert files[("b", "photo")].last_seen == 1.0

    def test_files_recorded_during_the_listing_are_seen(self, tmp_path: Path) -> None:
        """A file noted before it had a row (fetched or adopted while the listing went on)
        is seen when the listing ends, not removed; an old row noted is seen as before."""
        with State.open(tmp_path) as state:
            state.record([rec("old", "old.jpg"), rec("gone", "gone.jpg")])
            state.begin_listing()
            state.note_listed([("old", MediaKind.PHOTO), ("new", MediaKind.PHOTO)])
            state.record([rec("new", "new.jpg"), rec("unlisted", "unlisted.jpg")])
            gone = state.end_listing(9.0, complete=True)
            files = state.files()
        assert gone == ["gone.jpg", "unlisted.jpg"]
        assert files[("new", "photo")].last_seen == 9.0
        assert files[("new", "photo")].removed_at is None
        assert files[("old", "photo")].last_seen == 9.0

    def test_a_listing_of_every_row_sees_them_all(self, tmp_path: Path) -> None:
        """Every row listed (a nightly run): every one is seen, one removed before comes
        back, none is removed."""
        with State.open(tmp_path) as state:
            state.record([rec(f"id{i}", f"{i}.jpg") for i in range(2500)])
            state.record([rec("back", "back.jpg", removed_at=5.0)])
            state.begin_listing()
            state.note_listed([(f"id{i}", MediaKind.PHOTO) for i in range(2500)])
            state.note_listed([("back", MediaKind.PHOTO)])
            gone = state.end_listing(9.0, complete=True)
            files = state.files()
        assert gone == []
        assert {r.last_seen for r in files.values()} == {9.0}
        assert {r.removed_at for r in files.values()} == {None}

    def test_a_new_listing_forgets_the_last_one(self, tmp_path: Path) -> None:
        """begin_listing starts afresh: keys noted by an earlier listing do not count."""
        with State.open(tmp_path) as state:
            state.record([rec("a", "a.jpg")])
            state.begin_listing()
            state.note_listed([("a", MediaKind.PHOTO)])
            state.begin_listing()
            assert state.end_listing(2.0, complete=True) == ["a.jpg"]

    def test_the_listing_notes_what_it_listed_and_placed(self, tmp_path: Path) -> None:
        """listed_before and placed_before answer from what the listing noted since it
        began; a new listing forgets them."""
        with State.open(tmp_path) as state:
            state.begin_listing()
            state.note_listed([("a", MediaKind.PHOTO), ("b", MediaKind.VIDEO)])
            state.note_placed(["m1", "m2"])
            asked = [("a", "photo"), ("a", "video"), ("b", "video"), ("c", "photo")]
            assert state.listed_before(asked) == {("a", "photo"), ("b", "video")}
            assert state.placed_before(["m2", "m3"]) == {"m2"}
            state.begin_listing()
            assert state.listed_before(asked) == set()
            assert state.placed_before(["m1", "m2"]) == set()

    def test_notes_of_more_than_one_query_takes(self, tmp_path: Path) -> None:
        """More keys than one IN (...) query binds are answered in several."""
        with State.open(tmp_path) as state:
            state.begin_listing()
            state.note_placed(f"m{i}" for i in range(0, 1300, 2))
            assert state.placed_before([f"m{i}" for i in range(1300)]) == {
                f"m{i}" for i in range(0, 1300, 2)
            }

    def test_a_read_only_state_notes_the_listing(self, tmp_path: Path) -> None:
        """--dry-run notes its listing in a read-only state (temporary tables), writing
        nothing to the database."""
        with State.open(tmp_path) as state:
            state.record([rec("a", "a.jpg")])
        before = (tmp_path / ".aura-async" / "state.db").read_bytes()
        readonly = State.open_readonly(tmp_path)
        assert readonly is not None
        with readonly:
            readonly.begin_listing()
            readonly.note_listed([("a", MediaKind.PHOTO)])
            assert readonly.listed_before([("a", "photo")]) == {("a", "photo")}
        assert (tmp_path / ".aura-async" / "state.db").read_bytes() == before

    def test_a_state_in_memory(self) -> None:
        """State.in_memory is an empty state, at the current schema, that notes listings."""
        with State.in_memory() as state:
            assert state.files() == {}
            assert state.version == CURRENT_VERSION
            state.begin_listing()
            state.note_placed(["m"])
            assert state.placed_before(["m"]) == {"m"}

    @pytest.mark.parametrize("complete", [True, False])
    def test_a_listing_of_many_rows_is_recorded_range_by_range(
        self, tmp_path: Path, complete: bool
    ) -> None:
        """A table of more rows than one statement changes (and rowids with gaps) is
        recorded whole: every row listed is seen, every other one removed, in order."""
        with State.open(tmp_path) as state:
            state.record([rec(f"id{i:05d}", f"{i:05d}.jpg") for i in range(5000)])
            state.record([rec(f"late{i}", f"late{i}.jpg") for i in range(3)])
        with contextlib.closing(sqlite3.connect(tmp_path / ".aura-async" / "state.db")) as db:
            db.execute("UPDATE files SET rowid = rowid + 9000 WHERE asset_id LIKE 'late%'")
            db.commit()  # rowids with a gap: ranges with no row at all
        with State.open(tmp_path) as state:
            state.begin_listing()
            unlisted = {0, 1999, 2000, 2001, 4999}
            state.note_listed(
                (f"id{i:05d}", MediaKind.PHOTO) for i in range(5000) if i not in unlisted
            )
            state.note_listed([("late1", MediaKind.PHOTO)])
            gone = state.end_listing(9.0, complete=complete)
            files = state.files()
        expected = [f"{i:05d}.jpg" for i in sorted(unlisted)] + ["late0.jpg", "late2.jpg"]
        assert gone == (expected if complete else [])
        removed = sorted(r.relpath for r in files.values() if r.removed_at is not None)
        assert removed == gone
        seen = [r for r in files.values() if r.last_seen == 9.0]
        assert len(seen) == 5000 - len(unlisted) + 1


class TestFolderScan:
    def test_places_of_a_name_at_any_depth(self, tmp_path: Path) -> None:
        """A name is found at the top and in sub-folders, shallower first; .part files and
        the state's folder are apart."""
        (tmp_path / "2023").mkdir()
        (tmp_path / "2023" / "x.jpg").write_bytes(b"12")
        (tmp_path / "x.jpg").write_bytes(b"1")
        (tmp_path / "y.jpg.part").write_bytes(b"")
        (tmp_path / ".aura-async").mkdir()
        (tmp_path / ".aura-async" / "x.jpg").write_bytes(b"")
        scan = scan_folder(tmp_path)
        assert scan.places("x.jpg") == ["x.jpg", "2023/x.jpg"]
        assert scan.places("nothing.jpg") == []
        assert scan.parts == {"y.jpg"}
        assert len(scan) == 2
        assert sizes_of(tmp_path, ["x.jpg", "2023/x.jpg", "gone.jpg"]) == {
            "x.jpg": 1,
            "2023/x.jpg": 2,
        }

    def test_a_missing_folder_holds_nothing(self, tmp_path: Path) -> None:
        """Scanning a folder that does not exist yet finds nothing."""
        scan = scan_folder(tmp_path / "new")
        assert (len(scan), scan.parts) == (0, set())


def photo(n: int, md5: str | None = None) -> Asset:
    return Asset(
        id=f"p{n}",
        user_id="u",
        file_name=f"{n}.jpg",
        taken_at="2024-01-01T00:00:00.000Z",
        md5_hash=md5 or f"m{n}",
    )


@contextlib.asynccontextmanager
async def page_planner(
    root: Path, dedupe: Dedupe = Dedupe.HARDLINK
) -> AsyncIterator[tuple[PagePlanner, State]]:
    """A writable page planner over an empty folder, as a run makes it."""
    with State.open(root) as state:
        planner = Planner(image_base="https://img", sizes={}, dedupe=dedupe)
        listing = PagePlanner(
            planner, scan_folder(root), state, root=root, writable=True, until_found=None, now=5.0
        )
        await listing.begin()
        yield listing, state


class TestPagePlanner:
    async def test_a_row_listed_again_on_a_later_page_is_planned_once(self, tmp_path: Path) -> None:
        """A row on two pages (the listing shifted as photos were added) is one job, even
        while it is not fetched yet and with --dedupe off: the listing's notes remember it,
        not the planner."""
        async with page_planner(tmp_path, Dedupe.OFF) as (listing, _):
            first = await listing.add([photo(1), photo(2)])
            again = await listing.add([photo(2), photo(3)])
        assert [j.asset.id for j in first.page.jobs] == ["p1", "p2"]
        assert [j.asset.id for j in again.page.jobs] == ["p3"]
        assert again.page.keys == [("p3", "photo")]
        assert listing.plan.listed == 4

    async def test_a_twin_on_a_later_page_finds_its_first_copy_in_the_state(
        self, tmp_path: Path
    ) -> None:
        """A twin of a photo planned on an earlier page waits for it; once it is recorded
        (and on disk) the twin's source is where the state says; a twin whose first copy
        never arrived is left out."""
        root = tmp_path
        async with page_planner(root) as (listing, state):
            (job, other) = (await listing.add([photo(1), photo(2)])).page.jobs
            await listing.add([photo(3, md5="m1"), photo(4, md5="m2")])
            assert [j.asset.id for j in listing.plan.later_duplicates] == ["p3", "p4"]
            (root / job.relpath).write_bytes(b"first")
            async with StateWriter(state) as writer:
                writer.add(FileRecord.from_asset(job.asset, job.kind, job.relpath, now=5.0))
                await listing.find_sources(writer)
        assert [(j.asset.id, source) for j, source in listing.plan.duplicates] == [
            ("p3", job.relpath)
        ]
        assert listing.plan.later_duplicates == []
        assert other.asset.id == "p2"  # never fetched: p4 waits for the next run


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return small_config(frames=[FRAME], photo_size=1024, api_latency=0.01)


async def _run(emu: Emulator, tmp_path: Path, **options: object) -> tuple[FrameReport, list[Event]]:
    settings = settings_for(emu, tmp_path)
    events: list[Event] = []
    run_options = RunOptions(download=DownloadOptions(**options), rate=None)  # type: ignore[arg-type]
    report = FrameReport("myframe")
    async with Runner(settings, run_options, on_event=events.append) as run:
        await run.download(settings.frame("myframe"), report)
    return report, events


class TestDownloadsFromTheFirstPage:
    async def test_files_arrive_before_the_listing_ends(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """With six pages of 50, the first file is complete before the last page is read;
        the plan's totals come once the listing is read."""
        emulator.config.api_latency = 0.05  # a listing of 0.3 s: room for a slow disk's fsync
        pages_at_first_file: list[int] = []
        settings = settings_for(emulator, tmp_path)
        options = RunOptions(download=DownloadOptions(page_size=50, concurrency=2), rate=None)
        events: list[Event] = []

        def on_event(event: Event) -> None:
            events.append(event)
            if isinstance(event, FileDone) and not pages_at_first_file:
                pages_at_first_file.append(emulator.counters.count("assets"))

        async with Runner(settings, options, on_event=on_event) as run:
            await run.download(settings.frame("myframe"), FrameReport("myframe"))
        assert pages_at_first_file[0] < 6
        queued = sum(e.count for e in events if isinstance(e, JobsQueued))
        ready = [e for e in events if isinstance(e, PlanReady)]
        assert queued == ready[0].to_fetch == 300
        first_done = next(i for i, e in enumerate(events) if isinstance(e, FileDone))
        assert first_done < events.index(ready[0])
        assert files_on_disk(tmp_path / "myframe") == expected_files(emulator)

    async def test_a_twin_on_a_later_page_is_linked_to_its_first_copy(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """The same photo on the first and the last page: fetched once, the later one
        linked once its partner is complete."""
        frame = emulator.library.frames[first_frame_id(emulator)]
        first = frame.assets[0]
        twin = emulator.library.add_asset(frame, "photo", md5_of=first["id"])
        frame.assets.remove(twin)
        frame.assets.append(twin)  # listed last: on the last page
        report, _ = await _run(emulator, tmp_path, page_size=50)
        assert report.linked == 1
        assert emulator.counters.files[first["file_name"]] == 1
        assert emulator.counters.files[twin["file_name"]] == 0
        assert files_on_disk(tmp_path / "myframe") == expected_files(emulator)

    async def test_a_twin_of_a_file_recorded_long_ago_is_found_in_the_state(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """A new upload of a photo downloaded by an earlier run links to it through the
        state's md5 index."""
        await _run(emulator, tmp_path, page_size=50)
        frame = emulator.library.frames[first_frame_id(emulator)]
        source = frame.assets[-1]  # the oldest: far down the listing
        twin = emulator.library.add_asset(frame, "photo", md5_of=source["id"])
        emulator.counters.reset()
        report, _ = await _run(emulator, tmp_path, page_size=50)
        assert (report.linked, report.downloaded) == (1, 0)
        assert emulator.counters.media_requests == 0
        assert twin["id"] in "".join(files_on_disk(tmp_path / "myframe"))

    async def test_a_twin_whose_first_copy_failed_waits_for_the_next_run(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """When the first copy, on an earlier page, cannot be fetched, its twin is neither
        linked nor fetched; the next run fetches the first copy and links the twin."""
        frame = emulator.library.frames[first_frame_id(emulator)]
        first = frame.assets[0]
        twin = emulator.library.add_asset(frame, "photo", md5_of=first["id"])
        frame.assets.remove(twin)
        frame.assets.append(twin)
        media = emulator.library.images.pop(first["file_name"])  # answered 404
        report, _ = await _run(emulator, tmp_path, page_size=50)
        assert (report.failed, report.linked) == (1, 0)
        assert emulator.counters.files[twin["file_name"]] == 0
        names = "".join(files_on_disk(tmp_path / "myframe"))
        assert first["id"] not in names
        assert twin["id"] not in names
        emulator.library.images[first["file_name"]] = media
        report, _ = await _run(emulator, tmp_path, page_size=50)
        assert (report.failed, report.downloaded, report.linked) == (0, 1, 1)
        assert emulator.counters.files[twin["file_name"]] == 0
        assert files_on_disk(tmp_path / "myframe") == expected_files(emulator)

    async def test_a_dry_run_without_a_state_notes_its_listing_too(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """--dry-run in a new folder (no state: one in memory) would fetch each file once:
        not a row listed again, not a twin of a photo on an earlier page."""
        frame = emulator.library.frames[first_frame_id(emulator)]
        first = frame.assets[0]
        twin = emulator.library.add_asset(frame, "photo", md5_of=first["id"])
        frame.assets.remove(twin)
        frame.assets.extend([twin, first])
        _, events = await _run(emulator, tmp_path, page_size=50, dry_run=True)
        would = [e.relpath for e in events if isinstance(e, WouldDownload)]
        assert len(would) == len(set(would)) == 300
        assert not any(twin["id"] in relpath for relpath in would)
        assert not (tmp_path / "myframe").exists()


class TestCount:
    async def test_count_follows_the_selection(self, emulator: Emulator, tmp_path: Path) -> None:
        """--count streams the listing and counts what the selection flags want."""
        settings = settings_for(emulator, tmp_path)
        since = sorted(
            a["taken_at"] for a in emulator.library.frames[first_frame_id(emulator)].assets
        )[150][:10]
        options = RunOptions(download=DownloadOptions(selection=Selection(since=since)), rate=None)
        async with Runner(settings, options) as run:
            counted = await run.count(settings.frame("myframe"))
        # Assets and files as the selection sees them: those taken since, not the 300.
        assert counted.assets == counted.photos == counted.files
        assert counted.files + counted.excluded == 300
        assert 0 < counted.excluded < 300
        assert emulator.counters.media_requests == 0
