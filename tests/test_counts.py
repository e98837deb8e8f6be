"""What --count counts (pure): assets and the files they give, under the selection."""

from __future__ import annotations

import pytest

from aura_async.models import Asset
from aura_async.plan.counting import AssetCount
from aura_async.plan.selection import Selection, unmatched_uploaders

PHOTO = Asset(id="p", user_id="u", file_name="a.jpg", taken_at="2023-01-01T00:00:00Z")
OLD = Asset(id="o", user_id="u", file_name="o.jpg", taken_at="2019-01-01T00:00:00Z")
VIDEO = Asset(
    id="v",
    user_id="u",
    file_name="v.jpg",
    taken_at="2024-05-05T00:00:00Z",
    video_url="https://cdn/v.mp4",
    video_file_name="v.mp4",
    uploader_name="Dad",
)
LIVE = Asset(
    id="l",
    user_id="u",
    file_name="l.heic",
    taken_at="2024-06-06T00:00:00Z",
    video_url="https://cdn/l.mov",
    video_file_name="l.mov",
    is_live=True,
)
PLACEHOLDER = Asset(id="x")
LISTING = [PHOTO, OLD, VIDEO, LIVE, PLACEHOLDER]


def counted(selection: Selection) -> AssetCount:
    count = AssetCount("f")
    count.add(LISTING[:2], selection)  # two pages, as a listing comes
    count.add(LISTING[2:], selection)
    return count


def counts(
    photos: int = 0, videos: int = 0, live: int = 0, files: int = 0, excluded: int = 0
) -> tuple[int, ...]:
    return (photos + videos + live, photos, videos, live, files, excluded, 1)


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (Selection(), counts(photos=2, videos=1, live=1, files=6)),
        (Selection(clips=False), counts(photos=2, videos=1, live=1, files=4, excluded=2)),
        (Selection(stills=False), counts(videos=1, live=1, files=2, excluded=4)),
        (Selection(since="2020"), counts(photos=1, videos=1, live=1, files=5, excluded=1)),
        (Selection(uploaders=frozenset({"dad"})), counts(videos=1, files=2, excluded=4)),
    ],
)
def test_counts_follow_the_selection(selection: Selection, expected: tuple[int, ...]) -> None:
    """Assets count when one of their files is selected (a video by its still, with
    --no-videos); files as a download keeps them; placeholders apart."""
    c = counted(selection)
    assert (
        c.assets,
        c.photos,
        c.videos,
        c.live_photos,
        c.files,
        c.excluded,
        c.placeholders,
    ) == expected


def test_uploaders_are_collected() -> None:
    """The names of the listing's uploaders, for an --uploader that matches none."""
    assert counted(Selection()).uploaders == {"Dad"}


@pytest.mark.parametrize(
    ("wanted", "seen", "unmatched"),
    [
        (["Dad"], {"Dad", "Grandma Rose"}, []),
        (["grandma rose"], {"Dad", "Grandma Rose"}, []),
        (["Nobody", "dad"], {"Dad"}, ["Nobody"]),
        (["Dad"], set(), ["Dad"]),
        ([], {"Dad"}, []),
    ],
)
def test_unmatched_uploaders(wanted: list[str], seen: set[str], unmatched: list[str]) -> None:
    """--uploader names that match no uploader, compared case-insensitively, as given."""
    assert unmatched_uploaders(wanted, seen) == unmatched
