"""``--count``: a frame's listing counted page by page, under the run's selection (pure).

One vocabulary everywhere: an *asset* is a row of the frame's listing, a *photo*, a *video*
or a *Live Photo*; a *file* is what lands on disk: a photo gives one, a video or a Live
Photo two (its still and its clip). *Placeholders* are rows of uploads that never
completed: nothing to download.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
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
        assets: listing rows, not placeholders, with a file the selection wants (a video is
            one asset; with ``--no-videos`` it still counts, by its still).
        photos: of those, photos only (no clip).
        videos: video assets (a still and a clip each).
        live_photos: Live Photos (a still and a motion clip each).
        placeholders: rows of unfinished uploads: nothing to fetch.
        files: files the selection wants (what a download would consider).
        excluded: files the selection leaves out.
        uploaders: the uploaders' names in the listing (``--uploader`` names one).
    """

    frame: str
    assets: int = 0
    photos: int = 0
    videos: int = 0
    live_photos: int = 0
    placeholders: int = 0
    files: int = 0
    excluded: int = 0
    uploaders: set[str] = field(default_factory=set)

    def add(self, assets: Iterable[Asset], selection: Selection) -> None:
        """Count one page of the listing."""
        for asset in assets:
            if asset.is_placeholder:
                self.placeholders += 1
                continue
            if asset.uploader_name:
                self.uploaders.add(asset.uploader_name)
            kinds = asset_kinds(asset)
            wanted = sum(1 for kind in kinds if selection.wants(asset, kind))
            self.files += wanted
            self.excluded += len(kinds) - wanted
            if not wanted:
                continue
            self.assets += 1
            clip = asset.clip_kind
            if clip is MediaKind.VIDEO:
                self.videos += 1
            elif clip is MediaKind.LIVE:
                self.live_photos += 1
            else:
                self.photos += 1

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
