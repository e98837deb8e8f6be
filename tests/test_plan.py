"""Planning (pure): every file of a listing lands in exactly one bucket."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

import pytest

from aura_async.models import Asset, Key, MediaKind
from aura_async.plan.planner import Planner, image_url
from aura_async.plan.selection import Dedupe, Selection
from aura_async.plan.templates import Templates
from aura_async.store.records import Indexed

BASE = "https://img.example"
PHOTO = Asset(
    id="p1",
    user_id="u1",
    file_name="a.jpeg",
    taken_at="2023-10-04T13:10:37.690Z",
    md5_hash="m1",
    uploader_name="Dad",
)
COPY = Asset(
    id="p2",
    user_id="u2",
    file_name="b.jpeg",
    taken_at="2024-01-01T00:00:00.000Z",
    md5_hash="m1",
    uploader_name="Grandma Rose",
)
VIDEO = Asset(
    id="v1",
    user_id="u1",
    file_name="poster.jpg",
    taken_at="2022-05-05T05:05:05.000Z",
    video_url="https://cdn/v1.mp4?Signature=s",
    video_file_name="v1.mp4",
)
LIVE = Asset(
    id="l1",
    user_id="u1",
    file_name="l.heic",
    taken_at="2021-02-02T02:02:02.000Z",
    video_url="https://cdn/l1.mov?Signature=s",
    video_file_name="l1.mov",
    is_live=True,
)
PLACEHOLDER = Asset(id="x1", user_id="u1")

PHOTO_NAME = "2023-10-04T13-10-37.690Z_p1.jpeg"
COPY_NAME = "2024-01-01T00-00-00.000Z_p2.jpeg"


def plan(*assets: Asset, **options: object) -> Planner:
    planner = Planner(image_base=BASE, **options)  # type: ignore[arg-type]
    for asset in assets:
        planner.add(asset)
    return planner


class TestBuckets:
    def test_new_files_are_jobs(self) -> None:
        """An empty folder: every still and clip is a job with its URL; placeholders counted."""
        p = plan(PHOTO, VIDEO, LIVE, PLACEHOLDER).plan
        assert [(j.asset.id, j.kind) for j in p.jobs] == [
            ("p1", MediaKind.PHOTO),
            ("v1", MediaKind.PHOTO),
            ("v1", MediaKind.VIDEO),
            ("l1", MediaKind.PHOTO),
            ("l1", MediaKind.LIVE),
        ]
        assert p.jobs[0].url == image_url(BASE, PHOTO) == f"{BASE}/u1/a.jpeg"
        assert p.jobs[2].url == VIDEO.video_url
        assert p.jobs[2].relpath.endswith("_v1.mp4")
        assert (p.placeholders, p.listed) == (1, 4)
        assert len(p.keys) == 5

    def test_found_on_disk_is_adopted(self) -> None:
        """A file found by name (an old-script folder, any depth) is present and adopted."""
        p = plan(PHOTO, found={PHOTO_NAME: [f"2023/{PHOTO_NAME}"]}).plan
        assert p.jobs == []
        assert [j.relpath for j in p.present] == [f"2023/{PHOTO_NAME}"]
        assert [(j.relpath, here) for j, here in p.adopt] == [(PHOTO_NAME, f"2023/{PHOTO_NAME}")]

    def test_known_and_present(self) -> None:
        """A file the state knows, still where it put it, is present even after a template
        change, and costs no URL."""
        known = {("p1", "photo"): Indexed("old/place.jpeg", "m1", None)}
        p = plan(
            PHOTO,
            found={"place.jpeg": ["old/place.jpeg"]},
            known=known,
            layout=Templates(folder="{uploader}"),
        ).plan
        assert [(j.relpath, j.url) for j in p.present] == [("old/place.jpeg", "")]
        assert p.adopt == []

    @pytest.mark.parametrize(("restore", "bucket"), [(False, "missing"), (True, "jobs")])
    def test_known_but_gone(self, restore: bool, bucket: str) -> None:
        """A file downloaded once and since deleted stays gone unless restore_missing."""
        known = {("p1", "photo"): Indexed(PHOTO_NAME, "m1", None)}
        p = plan(PHOTO, known=known, restore_missing=restore).plan
        assert [j.asset.id for j in getattr(p, bucket)] == ["p1"]

    @pytest.mark.parametrize(
        ("dedupe", "jobs", "duplicates", "skipped"),
        [(Dedupe.HARDLINK, 1, 1, 0), (Dedupe.SKIP, 1, 0, 1), (Dedupe.OFF, 2, 0, 0)],
    )
    def test_duplicates_in_one_listing(
        self, dedupe: Dedupe, jobs: int, duplicates: int, skipped: int
    ) -> None:
        """The same md5 twice: fetched once, the other linked or skipped, unless off."""
        p = plan(COPY, PHOTO, dedupe=dedupe).plan
        assert (len(p.jobs), len(p.duplicates), p.skipped_duplicates) == (jobs, duplicates, skipped)
        if duplicates:
            ((job, source),) = p.duplicates
            assert (job.asset.id, source) == ("p1", COPY_NAME)

    def test_duplicate_of_a_file_already_here(self) -> None:
        """A new upload of a photo already here links to the file where it is."""
        known = {("p2", "photo"): Indexed(f"x/{COPY_NAME}", "m1", None)}
        p = plan(PHOTO, known=known, found={COPY_NAME: [f"x/{COPY_NAME}"]}).plan
        assert [(j.asset.id, s) for j, s in p.duplicates] == [("p1", f"x/{COPY_NAME}")]

    def test_video_not_ready_is_left_for_later(self) -> None:
        """A video without its video_url yet gives no job at all, not even its still (which
        the image server would answer with a JPEG), and is counted as not ready."""
        waiting = replace(VIDEO, video_url=None, data_uti="public.movie")
        p = plan(PHOTO, waiting).plan
        assert [j.asset.id for j in p.jobs] == ["p1"]
        assert (p.present, p.adopt, p.duplicates) == ([], [], [])
        assert (p.not_ready, p.listed) == (1, 2)

    def test_listed_twice(self) -> None:
        """An asset repeated across pages is planned once."""
        p = plan(PHOTO, PHOTO).plan
        assert len(p.jobs) == 1
        assert p.listed == 2


class TestSelection:
    @pytest.mark.parametrize(
        ("selection", "wanted"),
        [
            (Selection(), {"p1", "p2"}),
            (Selection(since="2024"), {"p2"}),
            (Selection(until="2023-10"), {"p1"}),
            (Selection(until="2023-10-03"), set()),
            (Selection(since="2023-10-04", until="2023-10-04"), {"p1"}),
            (Selection(uploaders=frozenset({"grandma rose"})), {"p2"}),
            (Selection(stills=False), set()),
        ],
    )
    def test_filters(self, selection: Selection, wanted: set[str]) -> None:
        """Dates compare with taken_at's prefix; uploaders case-insensitively."""
        p = plan(PHOTO, COPY, selection=selection, dedupe=Dedupe.OFF).plan
        assert {j.asset.id for j in p.jobs} == wanted
        assert p.excluded == 2 - len(wanted)

    def test_clips_only(self) -> None:
        """--videos-only keeps clips, and their keys are still listed for the state."""
        p = plan(VIDEO, selection=Selection(stills=False)).plan
        assert [j.kind for j in p.jobs] == [MediaKind.VIDEO]
        assert len(p.keys) == 2


class TestUntilFoundSignal:
    def test_add_says_whether_anything_is_new(self) -> None:
        """add() is True for assets with nothing to fetch (the --until-found streak)."""
        planner = Planner(image_base=BASE, found={PHOTO_NAME: [PHOTO_NAME]})
        assert planner.add(PHOTO) is True
        assert planner.add(PLACEHOLDER) is True
        assert planner.add(COPY) is False
        assert planner.add(replace(VIDEO, video_url=None)) is False  # not ready: work left


def page(
    planner: Planner,
    *assets: Asset,
    md5_places: dict[str, str] | None = None,
    listed: Collection[Key] = (),
    placed: Collection[str] = (),
) -> None:
    """Plan one page of a streaming run: learn what the state says of it, then add it."""
    planner.learn({}, md5_places or {}, {}, {}, listed=listed, placed=placed)
    for asset in assets:
        planner.add(asset)


class TestPageByPage:
    """A streaming run: the planner keeps nothing of a page once the next one is learned;
    what earlier pages did, the state tells it (``listed``, ``placed``)."""

    def test_a_file_an_earlier_page_listed_is_not_planned_again(self) -> None:
        """A row repeated on a later page (the pages shifted) is skipped, not fetched twice."""
        planner = Planner(image_base=BASE, sizes={})
        page(planner, PHOTO)
        page(planner, PHOTO, VIDEO, listed={("p1", "photo")})
        assert [(j.asset.id, j.kind) for j in planner.plan.jobs] == [
            ("p1", MediaKind.PHOTO),
            ("v1", MediaKind.PHOTO),
            ("v1", MediaKind.VIDEO),
        ]
        assert planner.plan.keys.count(("p1", "photo")) == 1

    def test_a_row_twice_on_one_page_is_planned_once(self) -> None:
        """Within a page the planner itself notices a repeated row."""
        planner = Planner(image_base=BASE, sizes={})
        page(planner, PHOTO, PHOTO)
        assert len(planner.plan.jobs) == 1

    @pytest.mark.parametrize(
        ("dedupe", "jobs", "later", "skipped"),
        [(Dedupe.HARDLINK, 0, 1, 0), (Dedupe.SKIP, 0, 0, 1), (Dedupe.OFF, 1, 0, 0)],
    )
    def test_a_twin_of_a_photo_an_earlier_page_placed(
        self, dedupe: Dedupe, jobs: int, later: int, skipped: int
    ) -> None:
        """A photo whose md5 an earlier page placed is a duplicate whose source the run
        finds later (or skipped, or fetched with --dedupe off)."""
        planner = Planner(image_base=BASE, sizes={}, dedupe=dedupe)
        page(planner, PHOTO, placed={"m1"})
        p = planner.plan
        assert (len(p.jobs), len(p.later_duplicates), p.skipped_duplicates) == (
            jobs,
            later,
            skipped,
        )
        assert p.duplicates == []

    def test_the_previous_page_is_forgotten(self) -> None:
        """What one page placed is not kept for the next: without the state's word (placed)
        a twin on the next page is fetched; on the same page it links to its first copy."""
        planner = Planner(image_base=BASE, sizes={})
        page(planner, COPY)
        page(planner, PHOTO)
        assert [j.asset.id for j in planner.plan.jobs] == ["p2", "p1"]
        planner = Planner(image_base=BASE, sizes={})
        page(planner, COPY, PHOTO)
        assert [(j.asset.id, s) for j, s in planner.plan.duplicates] == [("p1", COPY_NAME)]

    def test_a_twin_of_a_photo_on_disk_links_to_it(self) -> None:
        """Where the state has a photo of the md5 on disk (md5_places), a twin links to it,
        even when an earlier page placed one too."""
        planner = Planner(image_base=BASE, sizes={})
        page(planner, PHOTO, md5_places={"m1": "x/old.jpeg"}, placed={"m1"})
        assert [(j.asset.id, s) for j, s in planner.plan.duplicates] == [("p1", "x/old.jpeg")]
        assert planner.plan.later_duplicates == []

    def test_a_later_duplicate_is_not_something_new(self) -> None:
        """add() is False for a later duplicate: linking it is work to do (--until-found)."""
        planner = Planner(image_base=BASE, sizes={})
        planner.learn({}, {}, {}, {}, placed={"m1"})
        assert planner.add(PHOTO) is False
