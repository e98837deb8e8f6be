"""plan/counting.py: --count's figures, counted page by page under the run's selection."""

from __future__ import annotations

import pytest

from aura_async.models import Asset
from aura_async.plan.counting import AssetCount
from aura_async.plan.selection import Selection

PHOTO = Asset("p", user_id="u", file_name="p.jpg", taken_at="2023-01-01T00:00:00Z")
VIDEO = Asset(
    "v",
    user_id="u",
    file_name="v.jpg",
    taken_at="2024-01-01T00:00:00Z",
    video_url="https://cdn/v.mp4",
    video_file_name="v.mp4",
)
LIVE = Asset(
    "l",
    user_id="u",
    file_name="l.heic",
    taken_at="2024-06-01T00:00:00Z",
    video_url="https://cdn/l.mov",
    video_file_name="l.mov",
    is_live=True,
    uploader_name="Gran",
)
PLACEHOLDER = Asset("x", user_id="u", file_name=None, taken_at=None)
ALL = [PHOTO, VIDEO, LIVE, PLACEHOLDER]


@pytest.mark.parametrize(
    ("selection", "kinds", "files", "excluded"),
    [
        (Selection(), (1, 1, 1), 5, 0),
        (Selection(clips=False), (1, 1, 1), 3, 2),
        (Selection(stills=False), (0, 1, 1), 2, 3),
        (Selection(since="2024"), (0, 1, 1), 4, 1),
        (Selection(uploaders=frozenset({"gran"})), (0, 0, 1), 2, 3),
    ],
    ids=["all", "no-videos", "videos-only", "since", "uploader"],
)
def test_counts(
    selection: Selection, kinds: tuple[int, int, int], files: int, excluded: int
) -> None:
    """Assets with a file the selection wants, by kind (photos, videos, Live Photos), the
    placeholders apart, and the files the selection wants or leaves out."""
    count = AssetCount("home")
    count.add(ALL, selection)
    photos, videos, live_photos = kinds
    assert count.to_json() == {
        "frame": "home",
        "assets": sum(kinds),
        "photos": photos,
        "videos": videos,
        "live_photos": live_photos,
        "placeholders": 1,
        "files": files,
        "excluded": excluded,
    }
    assert count.uploaders == {"Gran"}


def test_pages_add_up() -> None:
    """Counting page by page gives what counting the whole listing gives."""
    whole, paged = AssetCount("home"), AssetCount("home")
    whole.add(ALL * 3, Selection())
    for _ in range(3):
        for asset in ALL:
            paged.add([asset], Selection())
    assert paged == whole
    assert whole.assets == 9
