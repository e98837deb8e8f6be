"""What ``--count`` reports (pure): a frame's assets and the files they give, as selected.

One vocabulary everywhere: an *asset* is a row of the frame's listing, a *photo*, a *video*
or a *Live Photo*; a *file* is what lands on disk: a photo gives one, a video or a Live
Photo two (its still and its clip). *Placeholders* are rows of uploads that never
completed: nothing to download.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aura_async.models import Asset, MediaKind
from aura_async.plan.planner import asset_kinds
from aura_async.plan.selection import Selection

__all__ = ["Counts", "count_assets"]


@dataclass(frozen=True, slots=True)
class Counts:
    """A frame's listing, counted as a download with the same selection would see it.

    Attributes:
        photos: selected assets without a clip.
        videos: selected videos.
        live_photos: selected Live Photos.
        files: the files those assets give, as selected (what a download keeps).
        excluded: files left out by the selection.
        placeholders: rows of unfinished uploads.
    """

    photos: int = 0
    videos: int = 0
    live_photos: int = 0
    files: int = 0
    excluded: int = 0
    placeholders: int = 0

    @property
    def assets(self) -> int:
        """Selected assets: photos, videos and Live Photos with at least one file wanted."""
        return self.photos + self.videos + self.live_photos


def count_assets(assets: Iterable[Asset], selection: Selection | None = None) -> Counts:
    """Count a listing under ``selection`` (every file when ``None``).

    An asset counts when at least one of its files is selected: with ``--no-videos`` a
    video still counts, by its still; with ``--videos-only`` a photo does not.
    """
    wants = (selection or Selection()).wants
    kinds = {None: 0, MediaKind.VIDEO: 0, MediaKind.LIVE: 0}
    files = excluded = placeholders = 0
    seen: set[str] = set()
    for asset in assets:
        if asset.is_placeholder:
            placeholders += 1
            continue
        if asset.id in seen:  # listed twice across pages
            continue
        seen.add(asset.id)
        selected = sum(1 for kind in asset_kinds(asset) if wants(asset, kind))
        excluded += len(asset_kinds(asset)) - selected
        if selected:
            files += selected
            kinds[asset.clip_kind] += 1
    return Counts(
        photos=kinds[None],
        videos=kinds[MediaKind.VIDEO],
        live_photos=kinds[MediaKind.LIVE],
        files=files,
        excluded=excluded,
        placeholders=placeholders,
    )
