"""Parsing the API's JSON (api/parse.py): nulls, placeholders, unknown fields, wrong shapes."""

from __future__ import annotations

from typing import Any

import pytest

from aura_async.api.parse import parse_asset_page, parse_frame, parse_frames, parse_login
from aura_async.exceptions import ManifestError
from aura_async.models import MediaKind

PHOTO: dict[str, Any] = {
    "id": "a1",
    "user_id": "u1",
    "user": {"id": "u1", "name": "Grandma"},
    "file_name": "x.jpeg",
    "taken_at": "2023-10-04T13:10:37.690Z",
    "uploaded_at": "2023-10-05T00:00:00.000Z",
    "md5_hash": "oNFJ8ybC004XW3Sxh4Z1AA==",
    "location": [43.8, 1.7],
    "location_name": "Coufouleux, France",
    "width": 1600,
    "height": 1200,
    "attachments": [{"type": "caption", "data": "Beach day"}, {"type": "other", "data": "x"}],
    "brand_new_field": {"anything": [1, 2]},
}
PLACEHOLDER: dict[str, Any] = {
    "id": "p1",
    "user_id": "u1",
    "user": {"id": "u1"},
    "file_name": None,
    "taken_at": None,
    "uploaded_at": None,
    "md5_hash": None,
    "width": None,
    "height": None,
    "selected": True,
}


def page(*assets: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"assets": list(assets), **extra}


class TestAssets:
    def test_photo_fields(self) -> None:
        """A full photo row keeps what a downloader needs and ignores the rest."""
        (asset,) = parse_asset_page(page(PHOTO)).assets
        assert asset.id == "a1"
        assert asset.uploader_name == "Grandma"
        assert asset.location == (43.8, 1.7)
        assert asset.captions == ("Beach day",)
        assert not asset.is_placeholder
        assert asset.clip_kind is None

    def test_placeholder_rows_parse(self) -> None:
        """Rows of unfinished uploads parse and say they are placeholders."""
        (asset,) = parse_asset_page(page(PLACEHOLDER)).assets
        assert asset.is_placeholder
        assert asset.file_name is None

    @pytest.mark.parametrize(
        ("changes", "kind"),
        [
            ({"video_url": "https://v/x.mp4", "video_file_name": "x.mp4"}, MediaKind.VIDEO),
            ({"video_url": "https://v/x.mov", "is_live": True}, MediaKind.LIVE),
            ({"video_url": None, "is_live": True}, None),
            ({"video_url": "null", "video_file_name": "null"}, None),
        ],
    )
    def test_clip_kind(self, changes: dict[str, Any], kind: MediaKind | None) -> None:
        """Video, Live Photo or still is decided by video_url and is_live."""
        (asset,) = parse_asset_page(page({**PHOTO, **changes})).assets
        assert asset.clip_kind is kind

    def test_wrong_types_are_tolerated(self) -> None:
        """Fields of unexpected types read as absent instead of crashing."""
        raw = {
            **PHOTO,
            "width": "wide",
            "location": "somewhere",
            "user": "nobody",
            "attachments": "none",
            "is_live": "yes",
            "file_name": 42,
        }
        (asset,) = parse_asset_page(page(raw)).assets
        assert asset.width is None
        assert asset.location is None
        assert asset.uploader_name is None
        assert asset.captions == ()
        assert asset.is_live is False
        assert asset.is_placeholder  # no still and no clip

    def test_uploader_from_users_list(self) -> None:
        """Without an embedded user, the uploader's name comes from the page's users."""
        raw = {k: v for k, v in PHOTO.items() if k != "user"}
        (asset,) = parse_asset_page(page(raw, users=[{"id": "u1", "name": "Dad"}])).assets
        assert asset.uploader_name == "Dad"

    def test_hidden_from_asset_settings(self) -> None:
        """Visibility comes from asset_settings, not the asset's own 'selected'."""
        parsed = parse_asset_page(page(PHOTO, asset_settings=[{"asset_id": "a1", "hidden": True}]))
        assert parsed.assets[0].hidden

    def test_cursor(self) -> None:
        """next_page_cursor is returned; null and empty mean the end."""
        assert parse_asset_page(page(next_page_cursor="abc")).next_cursor == "abc"
        assert parse_asset_page(page(next_page_cursor=None)).next_cursor is None
        assert parse_asset_page(page(next_page_cursor="")).next_cursor is None

    @pytest.mark.parametrize(
        "payload",
        [
            None,
            [],
            {"error": True, "message": "Not found"},
            {"assets": None},
            {"assets": [{"file_name": "x.jpg"}]},
            {"assets": ["text"]},
        ],
    )
    def test_bad_listing(self, payload: Any) -> None:
        """A listing of the wrong shape is a ManifestError."""
        with pytest.raises(ManifestError):
            parse_asset_page(payload)


class TestFramesAndLogin:
    def test_frames(self) -> None:
        """frames.json gives frames with name and num_assets."""
        frames = parse_frames(
            {
                "frames": [
                    {"id": "f1", "name": "Kitchen", "num_assets": 3, "extra": 1},
                    {"id": "f2", "name": None},
                ]
            }
        )
        assert [(f.id, f.name, f.num_assets) for f in frames] == [
            ("f1", "Kitchen", 3),
            ("f2", "", None),
        ]

    @pytest.mark.parametrize("payload", [None, {}, {"frames": "x"}, {"frames": [{"name": "x"}]}])
    def test_bad_frames(self, payload: Any) -> None:
        """A frames listing of the wrong shape is a ManifestError."""
        with pytest.raises(ManifestError):
            parse_frames(payload)

    def test_frame_without_id(self) -> None:
        """A frame object without id is a ManifestError."""
        with pytest.raises(ManifestError):
            parse_frame({"name": "x"})

    def test_login(self) -> None:
        """The user id and token come from result.current_user."""
        payload = {"error": False, "result": {"current_user": {"id": "u", "auth_token": "t"}}}
        assert parse_login(payload) == ("u", "t")

    @pytest.mark.parametrize(
        "payload",
        [
            None,
            {},
            {"result": {}},
            {"result": {"current_user": {"id": "u"}}},
            {"result": {"current_user": {"id": "u", "auth_token": None}}},
        ],
    )
    def test_bad_login(self, payload: Any) -> None:
        """A login answer without id or token is a ManifestError."""
        with pytest.raises(ManifestError):
            parse_login(payload)
