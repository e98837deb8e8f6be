"""File names: the old script's names exactly, and safe names for hostile values."""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath, PureWindowsPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_async.models import Asset, MediaKind
from aura_async.plan.paths import (
    MAX_NAME_BYTES,
    clean_taken_at,
    clip_extension,
    join_name,
    media_extension,
    media_relpath,
    safe_component,
)

ID = "7321c22e-7a94-11f1-86ff-0affe06aea17"


def old_script_name(taken_at: str, asset_id: str, file_name: str) -> str:
    """The seed script's exact expression."""
    return taken_at.replace(":", "-") + "_" + asset_id + posixpath.splitext(file_name)[1]


@pytest.mark.parametrize(
    ("taken_at", "asset_id", "file_name", "expected"),
    [
        (
            "2023-10-04T13:10:37.690Z",
            ID,
            "B9A0E367-FA8D-4157-A090-7EE33F603312.jpeg",
            f"2023-10-04T13-10-37.690Z_{ID}.jpeg",
        ),
        (
            "2026-09-03T12:29:16.039Z",
            "01a0673e-9fca-7adf-bb90-79e86386f257",
            "41d11ba2-d19f-4884-8140-fbc77ef44c54.png",
            "2026-09-03T12-29-16.039Z_01a0673e-9fca-7adf-bb90-79e86386f257.png",
        ),
        ("2018-10-27 21:45:38", "abc", "x.heic", "2018-10-27 21-45-38_abc.heic"),
        ("2018-10-27T21:45:38.585Z", ID, "video-poster.JPG", f"2018-10-27T21-45-38.585Z_{ID}.JPG"),
        ("2018-10-27T21:45:38.585Z", ID, "noext", f"2018-10-27T21-45-38.585Z_{ID}"),
        ("2018-10-27T21:45:38.585Z", ID, "weird.url", f"2018-10-27T21-45-38.585Z_{ID}.url"),
    ],
)
def test_names_match_the_old_script(
    taken_at: str, asset_id: str, file_name: str, expected: str
) -> None:
    """Every value the API really sends gives exactly the old script's name."""
    asset = Asset(id=asset_id, user_id="u", file_name=file_name, taken_at=taken_at)
    assert expected == old_script_name(taken_at, asset_id, file_name)
    assert media_relpath(asset, MediaKind.PHOTO, years=False) == expected


def test_years_layout() -> None:
    """--years puts the file under the first four characters of taken_at."""
    asset = Asset(id=ID, user_id="u", file_name="a.jpg", taken_at="2019-01-02T03:04:05.000Z")
    assert media_relpath(asset, MediaKind.PHOTO, years=True) == (
        f"2019/2019-01-02T03-04-05.000Z_{ID}.jpg"
    )


@pytest.mark.parametrize(
    ("video_file_name", "video_url", "file_name", "ext"),
    [
        ("clip.mov", "https://images.pushd.com/v.mp4?Signature=x", "a.jpg", ".mov"),
        (None, "https://images.pushd.com/v.mp4?Signature=x", "a.jpg", ".mp4"),
        (None, "https://images.pushd.com/v?Signature=x", "a.jpg", ".mp4"),
        ("clip.jpg", "https://x/v", "a.jpg", ".mp4"),
    ],
)
def test_clip_extension(
    video_file_name: str | None, video_url: str, file_name: str, ext: str
) -> None:
    """Clips take video_file_name's extension, else the URL's, else .mp4, never the still's."""
    asset = Asset(
        id=ID,
        file_name=file_name,
        taken_at="t",
        video_url=video_url,
        video_file_name=video_file_name,
    )
    assert clip_extension(asset) == ext


def test_clip_shares_the_still_stem() -> None:
    """A video's clip and its poster differ only by extension."""
    asset = Asset(
        id=ID,
        user_id="u",
        file_name="p.jpg",
        taken_at="2020-01-01T00:00:00.000Z",
        video_url="https://x/v.mov",
        video_file_name="v.mov",
    )
    still = media_relpath(asset, MediaKind.PHOTO, years=False)
    clip = media_relpath(asset, MediaKind.VIDEO, years=False)
    assert still.rsplit(".", 1)[0] == clip.rsplit(".", 1)[0]
    assert clip.endswith(".mov")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("normal-name.jpg", "normal-name.jpg"),
        ("a/b", "a_b"),
        ("a\\b", "a_b"),
        ("..", "_"),
        (".", "_"),
        ("a. ", "a_"),
        ("", "_"),
        ("nul\x00byte", "nul_byte"),
        ("CON", "_CON"),
        ("aux.jpg", "_aux.jpg"),
        ("com1.txt", "_com1.txt"),
        ("trailing.", "trailing_"),
        ('what?*<>|"', "what______"),
    ],
)
def test_safe_component(text: str, expected: str) -> None:
    """Hostile components are rewritten deterministically; safe ones are untouched."""
    assert safe_component(text) == expected


def test_long_names_are_cut_with_a_hash() -> None:
    """Over-long names are shortened, stay distinct, and keep their extension."""
    a = Asset(id="x" * 300, user_id="u", file_name="f.jpeg", taken_at="2020")
    b = Asset(id="x" * 299 + "y", user_id="u", file_name="f.jpeg", taken_at="2020")
    name_a = media_relpath(a, MediaKind.PHOTO, years=False)
    name_b = media_relpath(b, MediaKind.PHOTO, years=False)
    assert name_a != name_b
    assert name_a.endswith(".jpeg")
    assert len(name_a.encode()) <= MAX_NAME_BYTES


hostile = st.lists(
    st.sampled_from([*"ab:/\\.\x00 -_Zé", "CON", "aux", "..", "NUL", "x" * 60]),
    max_size=40,
).map("".join)


@given(taken_at=hostile, asset_id=hostile.filter(bool), file_name=hostile, years=st.booleans())
def test_nothing_escapes_the_folder(
    taken_at: str, asset_id: str, file_name: str, years: bool
) -> None:
    """Whatever the server sends, the path stays inside the frame folder, on any OS."""
    asset = Asset(id=asset_id, user_id="u", file_name=file_name, taken_at=taken_at)
    rel = media_relpath(asset, MediaKind.PHOTO, years=years)
    parts = PurePosixPath(rel).parts
    assert len(parts) == (2 if years else 1)
    for part in parts:
        assert part not in ("", ".", "..")
        assert "\x00" not in part
        assert len(part.encode()) <= MAX_NAME_BYTES + 16
        assert not PureWindowsPath(part).is_reserved()
        assert PureWindowsPath(part).name == part
    assert media_relpath(asset, MediaKind.PHOTO, years=years) == rel  # deterministic


class TestHelpers:
    """The small functions that media_name and the templates share."""

    @pytest.mark.parametrize(
        ("taken_at", "expected"),
        [
            ("2023-10-04T13:10:37.690Z", "2023-10-04T13-10-37.690Z"),
            ("2018-10-27 21:45:38", "2018-10-27 21-45-38"),
            ("2023-10-04T13:10:37+02:00", "2023-10-04T13-10-37+02-00"),
            ("", ""),
        ],
    )
    def test_clean_taken_at(self, taken_at: str, expected: str) -> None:
        """Only colons change, exactly as the old script's replace(':', '-')."""
        assert clean_taken_at(taken_at) == expected

    @pytest.mark.parametrize(
        ("file_name", "kind", "expected"),
        [
            ("a.jpeg", MediaKind.PHOTO, ".jpeg"),
            ("noext", MediaKind.PHOTO, ""),
            (None, MediaKind.PHOTO, ""),
            ("a.jpg", MediaKind.VIDEO, ".mov"),
            ("a.jpg", MediaKind.LIVE, ".mov"),
            ("a.mov", MediaKind.LIVE, ".mp4"),
        ],
    )
    def test_media_extension(self, file_name: str | None, kind: MediaKind, expected: str) -> None:
        """Stills take file_name's extension; clips follow clip_extension."""
        asset = Asset(
            id=ID,
            file_name=file_name,
            taken_at="t",
            video_url="https://x/v",
            video_file_name="v.mov",
        )
        assert media_extension(asset, kind) == expected

    def test_join_name_keeps_the_extension_when_cutting(self) -> None:
        """A stem too long for MAX_NAME_BYTES is cut, the extension survives."""
        name = join_name("é" * 300, ".jpeg")
        assert name.endswith(".jpeg")
        assert len(name.encode()) <= MAX_NAME_BYTES
        assert join_name("a/b", ".png") == "a_b.png"
