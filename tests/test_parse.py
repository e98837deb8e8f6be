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


# Shapes of other public Aura clients' recorded answers (aura-api.md sections 1-3): login
# with or without "error": false and with or without the "result" wrapper, frames.json bare
# or wrapped, listings without asset_settings or users, rows missing keys, ids that are not
# UUIDs ("user-fake-0001", as in recorded test fixtures).
CURRENT_USER: dict[str, Any] = {
    "id": "user-fake-0001",
    "auth_token": "auth-token-0001",
    "email": "someone@example.invalid",
    "name": "Someone",
    "show_push_prompt": False,
}
FIXTURE_ROW: dict[str, Any] = {  # a processed photo as a recorded listing has it
    "id": "asset-fake-001",
    "user_id": "user-fake-0001",
    "user": {"id": "user-fake-0001", "name": "Someone"},
    "file_name": "fake-asset-001.jpg",
    "data_uti": "public.jpeg",
    "taken_at": "2023-01-02T12:00:00.000Z",
    "uploaded_at": "2023-01-02T13:00:00.000Z",
    "good_resolution": True,
    "width": 1920,
    "height": 1080,
    "selected": True,
    "burst_id": None,
    "video_clip_start": None,
}


class TestOtherClientsShapes:
    @pytest.mark.parametrize(
        "payload",
        [
            {"error": False, "result": {"current_user": CURRENT_USER}},
            {"result": {"current_user": CURRENT_USER}},
            {"current_user": CURRENT_USER},
            {"error": False, "current_user": CURRENT_USER},
        ],
        ids=["error and result", "result, no error key", "bare", "error, no result"],
    )
    def test_login(self, payload: dict[str, Any]) -> None:
        """The user id and token are found with or without the result wrapper and the error
        key, and ids that are not UUIDs are kept as they are."""
        assert parse_login(payload) == ("user-fake-0001", "auth-token-0001")

    @pytest.mark.parametrize(
        "payload",
        [
            {"current_user": {"id": "u"}},
            {"current_user": None},
            {"current_user": "user-fake-0001"},
            {"result": {"current_user": ["u", "t"]}},
            {"result": None},
            {"result": "ok"},
            {"error": True, "message": "The email or password was incorrect."},
        ],
    )
    def test_bad_login(self, payload: dict[str, Any]) -> None:
        """A login answer, wrapped or not, without an object holding id and token is a
        ManifestError."""
        with pytest.raises(ManifestError):
            parse_login(payload)

    @pytest.mark.parametrize(
        "payload",
        [
            {"frames": [{"id": "frame-fake-0001", "name": "Kitchen", "num_assets": 2}]},
            {"result": {"frames": [{"id": "frame-fake-0001", "name": "Kitchen", "num_assets": 2}]}},
            {
                "error": False,
                "frames": [{"id": "frame-fake-0001", "name": "Kitchen", "num_assets": 2}],
            },
        ],
        ids=["bare", "result", "error key"],
    )
    def test_frames(self, payload: dict[str, Any]) -> None:
        """frames.json is read with or without the result wrapper."""
        (frame,) = parse_frames(payload)
        assert (frame.id, frame.name, frame.num_assets) == ("frame-fake-0001", "Kitchen", 2)

    @pytest.mark.parametrize(
        "payload", [{"result": {"frames": "x"}}, {"result": None}, {"result": {"frame": {}}}]
    )
    def test_bad_frames(self, payload: dict[str, Any]) -> None:
        """A wrapped frames answer without a frames list is a ManifestError too."""
        with pytest.raises(ManifestError):
            parse_frames(payload)

    @pytest.mark.parametrize(
        "extra",
        [
            {},
            {"asset_settings": None, "users": None},
            {"users": [{"id": "user-fake-0001", "name": "Someone"}]},
            {"asset_settings": [{"asset_id": "asset-fake-001", "hidden": False}]},
        ],
        ids=["neither", "nulls", "no asset_settings", "no users"],
    )
    def test_listing_without_asset_settings_or_users(self, extra: dict[str, Any]) -> None:
        """A listing without asset_settings or users (or with them null) parses: nothing is
        hidden, the uploader comes from the row's own user."""
        parsed = parse_asset_page(page(FIXTURE_ROW, next_page_cursor="cursor-abc", **extra))
        (asset,) = parsed.assets
        assert (asset.id, asset.user_id) == ("asset-fake-001", "user-fake-0001")
        assert asset.uploader_name == "Someone"
        assert not asset.hidden
        assert parsed.next_cursor == "cursor-abc"

    @pytest.mark.parametrize(
        "missing",
        [
            ("md5_hash",),
            ("is_live",),
            ("video_url", "video_file_name"),
            ("good_resolution",),
            ("data_uti",),
            ("user",),
            ("md5_hash", "is_live", "video_url", "video_file_name", "good_resolution"),
        ],
    )
    def test_rows_missing_keys(self, missing: tuple[str, ...]) -> None:
        """A photo row without md5_hash, is_live, video_url or good_resolution is an ordinary
        photo: no hash, not live, no clip, nothing to wait for."""
        full = {
            **FIXTURE_ROW,
            **PHOTO,
            "id": "asset-fake-001",
            "is_live": False,
            "video_url": None,
            "video_file_name": None,
        }
        raw = {k: v for k, v in full.items() if k not in missing}
        (asset,) = parse_asset_page(page(raw)).assets
        assert asset.id == "asset-fake-001"
        assert not asset.is_placeholder
        assert not asset.video_not_ready
        assert asset.clip_kind is None
        assert asset.is_live is False
        assert (asset.md5_hash is None) == ("md5_hash" in missing)
        assert (asset.data_uti is None) == ("data_uti" in missing)

    def test_unprocessed_row(self) -> None:
        """A row still being processed (every content field null, is_live null,
        good_resolution absent) is a placeholder, not a video waiting for its URL."""
        raw = {
            "id": "asset-unprocessed-0001",
            "user_id": "user-fake-0001",
            "user": {"id": "user-fake-0001"},
            "selected": True,
            "data_uti": None,
            "file_name": None,
            "taken_at": None,
            "md5_hash": None,
            "is_live": None,
            "video_url": None,
            "video_file_name": None,
            "is_b2": None,
        }
        (asset,) = parse_asset_page(page(raw)).assets
        assert asset.is_placeholder
        assert not asset.video_not_ready

    @pytest.mark.parametrize(
        ("value", "kept"),
        [("public.movie", "public.movie"), ("null", None), (None, None), (7, None)],
    )
    def test_data_uti(self, value: Any, kept: str | None) -> None:
        """data_uti is kept when it is a string (it tells a video still processing)."""
        (asset,) = parse_asset_page(page({**FIXTURE_ROW, "data_uti": value})).assets
        assert asset.data_uti == kept
