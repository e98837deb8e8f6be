"""Parsing the API's JSON into models (pure; tolerant of nulls, missing keys and unknown fields)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aura_async.exceptions import ManifestError
from aura_async.models import Asset, AssetPage, Frame

__all__ = ["parse_asset", "parse_asset_page", "parse_frame", "parse_frames", "parse_login"]


def _str(value: Any) -> str | None:
    # mattb's client treats the literal string "null" as absent too (aura-api.md 3.1).
    if isinstance(value, str) and value and value != "null":
        return value
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_asset(raw: Any, users: Mapping[str, str], hidden: frozenset[str]) -> Asset:
    """Build an :class:`Asset` from one element of ``assets``.

    Args:
        raw: the JSON object.
        users: uploader names by user id, from the page's ``users`` list.
        hidden: ids of assets whose ``asset_settings`` say hidden.

    Raises:
        ManifestError: ``raw`` is not an object or has no string ``id``.
    """
    if not isinstance(raw, Mapping) or not _str(raw.get("id")):
        raise ManifestError(f"asset without an id in the listing: {str(raw)[:80]}")
    asset_id: str = raw["id"]
    user_id = _str(raw.get("user_id"))
    user = raw.get("user")
    name = _str(user.get("name")) if isinstance(user, Mapping) else None
    if name is None and user_id is not None:
        name = users.get(user_id)
    location = raw.get("location")
    point: tuple[float, float] | None = None
    if isinstance(location, list) and len(location) == 2:
        lat, lon = location
        if type(lat) in (int, float) and type(lon) in (int, float):  # not bool, not str
            point = (float(lat), float(lon))
    attachments = raw.get("attachments")
    captions: tuple[str, ...] = ()
    if attachments and isinstance(attachments, list):
        captions = tuple(
            str(item["data"])
            for item in attachments
            if isinstance(item, Mapping)
            and item.get("type") == "caption"
            and _str(item.get("data"))
        )
    return Asset(
        id=asset_id,
        user_id=user_id,
        file_name=_str(raw.get("file_name")),
        taken_at=_str(raw.get("taken_at")),
        uploaded_at=_str(raw.get("uploaded_at")),
        video_url=_str(raw.get("video_url")),
        video_file_name=_str(raw.get("video_file_name")),
        is_live=raw.get("is_live") is True,
        md5_hash=_str(raw.get("md5_hash")),
        uploader_name=name,
        location=point,
        location_name=_str(raw.get("location_name")),
        width=_int(raw.get("width")),
        height=_int(raw.get("height")),
        captions=captions,
        hidden=asset_id in hidden,
        data_uti=_str(raw.get("data_uti")),
    )


def parse_asset_page(payload: Any, *, keep_raw: bool = False) -> AssetPage:
    """Parse one ``assets.json`` response (keeping its raw assets with ``keep_raw``).

    Raises:
        ManifestError: the payload has no ``assets`` list or an asset has no id.
    """
    if not isinstance(payload, Mapping) or not isinstance(payload.get("assets"), list):
        raise ManifestError("asset listing without an 'assets' list")
    users = {
        u["id"]: u["name"]
        for u in payload.get("users") or []
        if isinstance(u, Mapping) and _str(u.get("id")) and _str(u.get("name"))
    }
    hidden = frozenset(
        s["asset_id"]
        for s in payload.get("asset_settings") or []
        if isinstance(s, Mapping) and s.get("hidden") is True and _str(s.get("asset_id"))
    )
    assets = [parse_asset(raw, users, hidden) for raw in payload["assets"]]
    return AssetPage(
        assets=assets,
        next_cursor=_str(payload.get("next_page_cursor")),
        raw=payload["assets"] if keep_raw else [],
    )


def parse_frame(raw: Any) -> Frame:
    """Parse one frame object.

    Raises:
        ManifestError: no ``id``.
    """
    if not isinstance(raw, Mapping) or not _str(raw.get("id")):
        raise ManifestError("frame without an id")
    return Frame(
        id=raw["id"], name=_str(raw.get("name")) or "", num_assets=_int(raw.get("num_assets"))
    )


def _unwrapped(payload: Any, key: str) -> Any:
    """``payload[key]``, or ``payload["result"][key]``: public clients' recorded answers come
    both with and without a ``result`` wrapper (and with or without ``"error": false``)."""
    if not isinstance(payload, Mapping):
        return None
    if key in payload:
        return payload[key]
    result = payload.get("result")
    return result.get(key) if isinstance(result, Mapping) else None


def parse_frames(payload: Any) -> list[Frame]:
    """Parse ``frames.json`` (``{"frames": [...]}``, perhaps inside ``result``).

    Raises:
        ManifestError: the payload has no ``frames`` list.
    """
    frames = _unwrapped(payload, "frames")
    if not isinstance(frames, list):
        raise ManifestError("frames listing without a 'frames' list")
    return [parse_frame(raw) for raw in frames]


def parse_login(payload: Any) -> tuple[str, str]:
    """Return ``(user_id, auth_token)`` from a successful ``login.json`` answer
    (``result.current_user``, or ``current_user`` without the wrapper).

    Raises:
        ManifestError: ``current_user.id`` or ``auth_token`` is missing.
    """
    user = _unwrapped(payload, "current_user")
    if not isinstance(user, Mapping):
        raise ManifestError("login answer without result.current_user.id/auth_token")
    user_id, token = user.get("id"), user.get("auth_token")
    if not (_str(user_id) and _str(token)):
        raise ManifestError("login answer without result.current_user.id/auth_token")
    return str(user_id), str(token)
