"""Deciding what to fetch (pure): which files each asset gives, where they go, what is there.

Nothing here touches the disk or the network: the caller passes the names already present in
the download folder (see :func:`aura_async.downloader.scan_folder`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from urllib.parse import quote

from .models import Asset, MediaKind
from .paths import media_relpath

__all__ = ["Job", "Plan", "Selection", "image_url", "plan_assets"]


@dataclass(frozen=True, slots=True)
class Selection:
    """Which kinds of file a run wants."""

    stills: bool = True
    clips: bool = True


@dataclass(frozen=True, slots=True)
class Job:
    """One file to fetch: the asset, which of its files, where it goes, and from where."""

    asset: Asset
    kind: MediaKind
    relpath: str
    url: str

    @property
    def name(self) -> str:
        """The file's name without its folder."""
        return self.relpath.rsplit("/", 1)[-1]


@dataclass
class Plan:
    """The outcome of planning one frame."""

    jobs: list[Job] = field(default_factory=list)
    present: list[Job] = field(default_factory=list)
    placeholders: int = 0
    excluded: int = 0
    listed: int = 0


def image_url(base: str, asset: Asset) -> str:
    """The unauthenticated still URL: ``{image_url}/{user_id}/{file_name}`` (aura-api.md 4)."""
    assert asset.user_id is not None
    assert asset.file_name is not None
    return f"{base}/{quote(asset.user_id, safe='')}/{quote(asset.file_name, safe='')}"


def asset_jobs(asset: Asset, image_base: str, *, years: bool) -> list[Job]:
    """Every file a non-placeholder asset offers: its still and, when it has one, its clip."""
    jobs = []
    if asset.file_name is not None and asset.user_id is not None:
        jobs.append(
            Job(
                asset,
                MediaKind.PHOTO,
                media_relpath(asset, MediaKind.PHOTO, years=years),
                image_url(image_base, asset),
            )
        )
    kind = asset.clip_kind
    if kind is not None and asset.video_url is not None:
        jobs.append(Job(asset, kind, media_relpath(asset, kind, years=years), asset.video_url))
    return jobs


def plan_assets(
    assets: Iterable[Asset],
    *,
    image_base: str,
    years: bool,
    selection: Selection,
    present_names: Collection[str],
) -> Plan:
    """Split a listing into files to fetch, files already present, and rows to skip.

    A file counts as present when a file of the same name exists anywhere the old script
    could have put it (the folder itself or a year folder), so a folder made with or without
    ``--years`` is adopted either way: the name holds the asset id, so it cannot be mistaken.
    """
    plan = Plan()
    seen: set[str] = set()
    for asset in assets:
        plan.listed += 1
        if asset.is_placeholder:
            plan.placeholders += 1
            continue
        for job in asset_jobs(asset, image_base, years=years):
            if job.relpath in seen:
                continue  # the same asset listed twice across pages
            seen.add(job.relpath)
            wanted = selection.stills if job.kind is MediaKind.PHOTO else selection.clips
            if not wanted:
                plan.excluded += 1
            elif job.name in present_names:
                plan.present.append(job)
            else:
                plan.jobs.append(job)
    return plan
