"""Frames, assets and files as values (pure). :mod:`aura_async.api.parse` builds them from the
API's JSON, tolerant of nulls and unknown fields.

The field list follows ``reference/aura-api.md`` section 3.1. Placeholder rows (uploads that
never completed) come back with ``file_name``/``taken_at`` null; they parse fine and report
:attr:`Asset.is_placeholder`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["VIDEO_EXTENSIONS", "Asset", "AssetPage", "Frame", "Key", "MediaKind"]


class MediaKind(StrEnum):
    """What one downloaded file is."""

    PHOTO = "photo"
    """The still image of an asset (for a video, its poster frame)."""
    VIDEO = "video"
    """The clip of a video asset."""
    LIVE = "live"
    """The motion clip of a Live Photo."""


VIDEO_EXTENSIONS = (".mov", ".mp4", ".m4v", ".3gp", ".avi", ".mkv", ".webm")
"""File name endings of video files."""


@dataclass(frozen=True, slots=True)
class Frame:
    """A frame the account owns or that is shared with it."""

    id: str
    name: str
    num_assets: int | None = None


@dataclass(frozen=True, slots=True)
class Asset:
    """One row of a frame's asset listing, reduced to what a downloader needs."""

    id: str
    user_id: str | None = None
    file_name: str | None = None
    taken_at: str | None = None
    uploaded_at: str | None = None
    video_url: str | None = None
    video_file_name: str | None = None
    is_live: bool = False
    md5_hash: str | None = None
    uploader_name: str | None = None
    location: tuple[float, float] | None = None
    location_name: str | None = None
    width: int | None = None
    height: int | None = None
    captions: tuple[str, ...] = ()
    hidden: bool = False
    data_uti: str | None = None

    @property
    def is_placeholder(self) -> bool:
        """True for rows that cannot be downloaded: no capture time, or nothing to fetch."""
        has_still = self.file_name is not None and self.user_id is not None
        return self.taken_at is None or not (has_still or self.video_url)

    @property
    def video_not_ready(self) -> bool:
        """A video the server has not finished (its type or names say video, but it has no
        ``video_url`` yet): nothing of it is fetched until a later listing has the URL, so
        the image server's JPEG is never saved under a ``.mov`` or ``.mp4`` name."""
        if self.video_url:
            return False
        uti = (self.data_uti or "").casefold()
        if "movie" in uti or "video" in uti or "mpeg-4" in uti:
            return True
        return any(
            (name or "").casefold().endswith(VIDEO_EXTENSIONS)
            for name in (self.file_name, self.video_file_name)
        )

    @property
    def clip_kind(self) -> MediaKind | None:
        """``LIVE`` for a Live Photo's clip, ``VIDEO`` for a video, ``None`` without a clip."""
        if not self.video_url:
            return None
        return MediaKind.LIVE if self.is_live else MediaKind.VIDEO


@dataclass(frozen=True, slots=True)
class AssetPage:
    """One page of ``assets.json``."""

    assets: list[Asset]
    next_cursor: str | None
    raw: list[Any] = field(default_factory=list)
    """The page's raw ``assets`` JSON, when asked for (``--save-assets``)."""


Key = tuple[str, str]
"""A file's identity: ``(asset_id, kind)`` where kind is a :class:`MediaKind` value."""
