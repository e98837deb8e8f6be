"""What --count counts (pure): assets and the files they give, under the selection."""

from __future__ import annotations

import pytest

from aura_async.models import Asset
from aura_async.plan.counts import Counts, count_assets
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
LISTING = [PHOTO, OLD, VIDEO, LIVE, PLACEHOLDER, PHOTO]  # PHOTO listed twice


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (None, Counts(photos=2, videos=1, live_photos=1, files=6, placeholders=1)),
        (  # a video still counts by its still
            Selection(clips=False),
            Counts(photos=2, videos=1, live_photos=1, files=4, excluded=2, placeholders=1),
        ),
        (  # photos have no clip: left out
            Selection(stills=False),
            Counts(videos=1, live_photos=1, files=2, excluded=4, placeholders=1),
        ),
        (
            Selection(since="2020"),
            Counts(photos=1, videos=1, live_photos=1, files=5, excluded=1, placeholders=1),
        ),
        (
            Selection(uploaders=frozenset({"dad"})),
            Counts(videos=1, files=2, excluded=4, placeholders=1),
        ),
    ],
)
def test_counts_follow_the_selection(selection: Selection | None, expected: Counts) -> None:
    """Assets count when one of their files is selected; files as a download keeps them."""
    assert count_assets(LISTING, selection) == expected


def test_assets_are_photos_videos_and_live_photos() -> None:
    """``assets`` adds the three kinds (placeholders are not assets)."""
    assert count_assets(LISTING).assets == 4


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
