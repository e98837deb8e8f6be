"""Folder and name templates: the defaults are the old layout, every path stays inside."""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_async.exceptions import ConfigError
from aura_async.models import Asset, MediaKind
from aura_async.plan.paths import MAX_NAME_BYTES, media_relpath
from aura_async.plan.templates import DEFAULT_NAME, TOKENS, Templates

ID = "7321c22e-7a94-11f1-86ff-0affe06aea17"
PHOTO = Asset(
    id=ID,
    user_id="u",
    file_name="B9A0E367.jpeg",
    taken_at="2023-10-04T13:10:37.690Z",
    uploader_name="Grandma Rose",
)
VIDEO = Asset(
    id=ID,
    user_id="u",
    file_name="poster.jpg",
    taken_at="2019-01-02T03:04:05.000Z",
    video_url="https://images.pushd.com/v.mov?Signature=x",
    video_file_name="v.mov",
)
LIVE = Asset(
    id=ID,
    user_id="u",
    file_name="still.HEIC",
    taken_at="2018-10-27 21:45:38",
    video_url="https://x/c.mov",
    video_file_name="c.mov",
    is_live=True,
)
ODD = Asset(id="../x", user_id="u", file_name="weird.url", taken_at="20")
LONG = Asset(id="x" * 300, user_id="u", file_name="f.jpeg", taken_at="2020-01-01T00:00:00Z")
CASES = [
    (PHOTO, MediaKind.PHOTO),
    (VIDEO, MediaKind.PHOTO),
    (VIDEO, MediaKind.VIDEO),
    (LIVE, MediaKind.PHOTO),
    (LIVE, MediaKind.LIVE),
    (ODD, MediaKind.PHOTO),
    (LONG, MediaKind.PHOTO),
]


class TestDefaults:
    """The defaults reproduce paths.media_relpath byte for byte."""

    @pytest.mark.parametrize(("asset", "kind"), CASES)
    def test_default_is_the_old_name(self, asset: Asset, kind: MediaKind) -> None:
        """Templates() gives exactly media_relpath(years=False)."""
        assert Templates().relpath(asset, kind, "Family") == media_relpath(asset, kind, years=False)

    @pytest.mark.parametrize(("asset", "kind"), CASES)
    def test_year_folder_is_the_years_layout(self, asset: Asset, kind: MediaKind) -> None:
        """Templates(folder='{year}') gives exactly media_relpath(years=True)."""
        assert Templates(folder="{year}").relpath(asset, kind, "Family") == media_relpath(
            asset, kind, years=True
        )

    def test_default_name_constant(self) -> None:
        """The default name template is the old script's expression."""
        assert Templates().name == DEFAULT_NAME == "{taken_at}_{id}{ext}"
        assert Templates().folder == ""


class TestTokens:
    """Each token renders the documented value."""

    @pytest.mark.parametrize(
        ("asset", "kind", "folder", "name", "expected"),
        [
            (PHOTO, MediaKind.PHOTO, "{year}/{month}/{day}", "{id}{ext}", f"2023/10/04/{ID}.jpeg"),
            (PHOTO, MediaKind.PHOTO, "{year}-{month}", "{id}{ext}", f"2023-10/{ID}.jpeg"),
            (PHOTO, MediaKind.PHOTO, "{uploader}", "{id}{ext}", f"Grandma Rose/{ID}.jpeg"),
            (PHOTO, MediaKind.PHOTO, "{frame}/{year}", "{id}{ext}", f"Family/2023/{ID}.jpeg"),
            (
                PHOTO,
                MediaKind.PHOTO,
                "",
                "{year}{month}{day}_{uploader}_{id}{ext}",
                f"20231004_Grandma Rose_{ID}.jpeg",
            ),
            (VIDEO, MediaKind.VIDEO, "{uploader}", "{id}{ext}", f"unknown/{ID}.mov"),
            (
                LIVE,
                MediaKind.LIVE,
                "{year}/{month}",
                "{taken_at}{ext}_{id}",
                f"2018/10/2018-10-27 21-45-38.mov_{ID}",
            ),
            (ODD, MediaKind.PHOTO, "{year}/{month}/{day}", "{id}{ext}", "20/00/00/.._x.url"),
            (
                Asset(id="p", user_id="u"),
                MediaKind.PHOTO,
                "{year}/{month}/{day}",
                "{taken_at}_{id}{ext}",
                "0000/00/00/undated_p",
            ),
            (
                PHOTO,
                MediaKind.PHOTO,
                "{{literal}}",
                "{id}{{x}}{ext}",
                f"{{literal}}/{ID}{{x}}.jpeg",
            ),
        ],
    )
    def test_render(
        self, asset: Asset, kind: MediaKind, folder: str, name: str, expected: str
    ) -> None:
        """Tokens, literal text and doubled braces render as documented."""
        templates = Templates(folder=folder, name=name)
        templates.validate()
        assert templates.relpath(asset, kind, "Family") == expected

    @pytest.mark.parametrize(
        ("frame", "uploader", "expected_folder"),
        [
            ("../..", "a/b", "..__/a_b"),
            ("..", "..", "_/_"),
            ("CON", "x:y", "_CON/x_y"),
            ("", "", "_/unknown"),
        ],
    )
    def test_values_never_make_levels(
        self, frame: str, uploader: str, expected_folder: str
    ) -> None:
        """A '/' or '..' inside a value is sanitised; only the template's '/' makes folders."""
        asset = Asset(
            id="i", user_id="u", file_name="a.jpg", taken_at="2020", uploader_name=uploader or None
        )
        rel = Templates(folder="{frame}/{uploader}", name="{id}{ext}").relpath(
            asset, MediaKind.PHOTO, frame
        )
        assert rel == f"{expected_folder}/i.jpg"

    def test_still_and_clip_share_the_stem(self) -> None:
        """A clip and its still differ only by the extension under any valid name template."""
        templates = Templates(folder="{uploader}", name="{year}_{id}{ext}")
        still = templates.relpath(LIVE, MediaKind.PHOTO, "F")
        clip = templates.relpath(LIVE, MediaKind.LIVE, "F")
        assert still != clip
        assert still.rsplit(".", 1)[0] == clip.rsplit(".", 1)[0]

    def test_long_names_keep_the_extension(self) -> None:
        """A name ending in {ext} is shortened before the extension, never through it."""
        rel = Templates(folder="{frame}", name="{uploader}-{id}{ext}").relpath(
            LONG, MediaKind.PHOTO, "é" * 300
        )
        folder, name = rel.split("/")
        assert name.endswith(".jpeg")
        assert len(name.encode()) <= MAX_NAME_BYTES
        assert len(folder.encode()) <= MAX_NAME_BYTES

    def test_token_table(self) -> None:
        """The documented tokens are exactly the known ones."""
        assert set(TOKENS) == {"year", "month", "day", "uploader", "frame", "id", "taken_at", "ext"}


class TestValidate:
    """Bad templates fail early with a one-line ConfigError."""

    @pytest.mark.parametrize(
        ("folder", "name", "message"),
        [
            ("{yaer}", DEFAULT_NAME, "unknown token {yaer} in folder template"),
            ("", "{taken_at}_{id}{extension}", "unknown token {extension} in name template"),
            ("{}", DEFAULT_NAME, "unknown token {} in folder template"),
            ("{0}", DEFAULT_NAME, "unknown token {0}"),
            ("{year.real}", DEFAULT_NAME, "unknown token {year.real}"),
            ("{year[0]}", DEFAULT_NAME, "unknown token {year[0]}"),
            ("{year:>6}", DEFAULT_NAME, "unknown token {year:>6}"),
            ("{year!r}", DEFAULT_NAME, "unknown token {year!r}"),
            ("{year", DEFAULT_NAME, "bad braces in folder template"),
            ("year}", DEFAULT_NAME, "bad braces in folder template"),
            ("", "{id{ext}}", "name template"),
            ("/{year}", DEFAULT_NAME, "empty level in folder template"),
            ("{year}/", DEFAULT_NAME, "empty level"),
            ("{year}//{month}", DEFAULT_NAME, "empty level"),
            ("", "{year}/{id}{ext}", "'/' in name template"),
            ("", "{taken_at}{ext}", "lacks {id}"),
            ("", "{taken_at}_{id}.jpg", "lacks {ext}"),
            ("", "", "lacks {id}"),
        ],
    )
    def test_rejected(self, folder: str, name: str, message: str) -> None:
        """validate() and relpath() both raise a one-line ConfigError naming the problem."""
        templates = Templates(folder=folder, name=name)
        with pytest.raises(ConfigError) as info:
            templates.validate()
        text = str(info.value)
        assert message in text
        assert "\n" not in text
        assert isinstance(info.value, ValueError)
        with pytest.raises(ConfigError):
            templates.relpath(PHOTO, MediaKind.PHOTO, "F")

    def test_unknown_token_lists_the_known_ones(self) -> None:
        """The message for an unknown token lists every known token."""
        with pytest.raises(ConfigError) as info:
            Templates(folder="{album}").validate()
        for token in TOKENS:
            assert f"{{{token}}}" in str(info.value)

    @pytest.mark.parametrize(
        ("folder", "name"),
        [
            ("", DEFAULT_NAME),
            ("{year}", DEFAULT_NAME),
            ("{frame}/{uploader}/{year}-{month}", "{day}_{id}{ext}"),
            ("photos", "{ext}{id}"),
        ],
    )
    def test_accepted(self, folder: str, name: str) -> None:
        """Well-formed templates validate without error."""
        Templates(folder=folder, name=name).validate()


hostile = st.lists(
    st.sampled_from([*"ab:/\\.\x00 -_Zé{}", "CON", "aux", "..", "NUL", "x" * 60]),
    max_size=40,
).map("".join)
kinds = st.sampled_from(list(MediaKind))


def make_asset(taken_at: str, asset_id: str, file_name: str, video_file_name: str) -> Asset:
    """An asset with a clip, so every kind has a file."""
    return Asset(
        id=asset_id,
        user_id="u",
        file_name=file_name,
        taken_at=taken_at,
        video_url="https://x/v",
        video_file_name=video_file_name,
    )


class TestProperties:
    """Properties over hostile server values."""

    @given(
        taken_at=hostile,
        asset_id=hostile.filter(bool),
        file_name=hostile,
        video_file_name=hostile,
        kind=kinds,
        years=st.booleans(),
    )
    def test_defaults_equal_media_relpath(
        self,
        taken_at: str,
        asset_id: str,
        file_name: str,
        video_file_name: str,
        kind: MediaKind,
        years: bool,
    ) -> None:
        """For any values, the defaults and folder='{year}' equal media_relpath exactly."""
        asset = make_asset(taken_at, asset_id, file_name, video_file_name)
        templates = Templates(folder="{year}" if years else "")
        assert templates.relpath(asset, kind, "F") == media_relpath(asset, kind, years=years)

    @given(
        taken_at=hostile,
        asset_id=hostile.filter(bool),
        file_name=hostile,
        uploader=hostile,
        frame=hostile,
        kind=kinds,
    )
    def test_nothing_escapes_the_folder(
        self,
        taken_at: str,
        asset_id: str,
        file_name: str,
        uploader: str,
        frame: str,
        kind: MediaKind,
    ) -> None:
        """Whatever the values, a rich template yields safe components inside the folder."""
        asset = Asset(
            id=asset_id,
            user_id="u",
            file_name=file_name,
            taken_at=taken_at,
            uploader_name=uploader,
            video_url="https://x/v",
        )
        templates = Templates(folder="{frame}/{uploader}/{year}/{month}", name="{day}_{id}{ext}")
        rel = templates.relpath(asset, kind, frame)
        parts = PurePosixPath(rel).parts
        assert len(parts) == 5
        for part in parts:
            assert part not in ("", ".", "..")
            assert "\x00" not in part
            assert len(part.encode()) <= MAX_NAME_BYTES + 16
            assert not PureWindowsPath(part).is_reserved()
            assert PureWindowsPath(part).name == part
