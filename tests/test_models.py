"""The models' own logic (models.py, pure): which assets are placeholders, which videos are
not ready yet."""

from __future__ import annotations

from typing import Any

import pytest

from aura_async.models import Asset

STILL: dict[str, Any] = {
    "id": "a1",
    "user_id": "u1",
    "file_name": "poster.jpg",
    "taken_at": "2023-10-04T13:10:37.690Z",
}
URL = "https://cdn.example/v.mp4?Signature=s"


@pytest.mark.parametrize(
    ("fields", "not_ready"),
    [
        ({"data_uti": "public.jpeg"}, False),
        ({"file_name": "x.heic", "data_uti": "public.heic"}, False),
        ({"data_uti": "public.movie"}, True),
        ({"data_uti": "com.apple.quicktime-movie"}, True),
        ({"data_uti": "public.mpeg-4"}, True),
        ({"data_uti": "public.video"}, True),
        ({"data_uti": "PUBLIC.MOVIE"}, True),
        ({"file_name": "IMG_0001.MOV"}, True),
        ({"file_name": "clip.mp4"}, True),
        ({"video_file_name": "clip.m4v"}, True),
        ({"data_uti": "public.movie", "video_url": URL}, False),
        ({"file_name": "clip.mov", "video_url": URL}, False),
        ({"video_file_name": "clip.mov", "video_url": URL, "is_live": True}, False),
        ({"file_name": None, "taken_at": None}, False),
    ],
)
def test_video_not_ready(fields: dict[str, Any], not_ready: bool) -> None:
    """A video type or a video file name without a video_url is a video not ready yet;
    with the URL it is ready, and a photo is never waiting."""
    assert Asset(**{**STILL, **fields}).video_not_ready is not_ready
