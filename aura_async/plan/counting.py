"""``--count``: a frame's listing counted page by page, under the run's selection (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aura_async.models import Asset, MediaKind
from aura_async.plan.planner import asset_kinds
from aura_async.plan.selection import Selection

__all__ = ["AssetCount"]


@dataclass
class AssetCount:
    """How many assets and files a frame lists, counted without keeping the listing.

    Attributes:
        frame: the frame's name.
        assets: listing rows that are not placeholders (a video is one asset).
        photos: assets that are photos only (no clip).
        videos: video assets (a still and a clip each).
        live_photos: Live Photos (a still and a motion clip each).
        placeholders: rows of unfinished uploads: nothing to fetch.
        files: files the selection wants (what a download would consider).
        excluded: files the selection leaves out.
    """

    frame: str
    assets: int = 0
    photos: int = 0
    videos: int = 0
    live_photos: int = 0
    placeholders: int = 0
    files: int = 0
    excluded: int = 0

    def add(self, assets: Iterable[Asset], selection: Selection) -> None:
        """Count one page of the listing."""
        for asset in assets:
            if asset.is_placeholder:
                self.placeholders += 1
                continue
            self.assets += 1
            clip = asset.clip_kind
            if clip is MediaKind.VIDEO:
                self.videos += 1
            elif clip is MediaKind.LIVE:
                self.live_photos += 1
            else:
                self.photos += 1
            for kind in asset_kinds(asset):
                if selection.wants(asset, kind):
                    self.files += 1
                else:
                    self.excluded += 1

    def to_json(self) -> dict[str, Any]:
        """The ``--count --json`` object."""
        return {
            "frame": self.frame,
            "assets": self.assets,
            "photos": self.photos,
            "videos": self.videos,
            "live_photos": self.live_photos,
            "placeholders": self.placeholders,
            "files": self.files,
            "excluded": self.excluded,
        }
