"""Deciding what to fetch (pure): which files each asset gives, where they go, what is there.

Nothing here touches the disk or the network. The caller passes what the download folder
holds (file names and where they are, from :func:`aura_async.adoption.scan_relpaths`) and
what the folder's state database remembers; :class:`Planner` sorts every file of the
listing into exactly one bucket (:class:`Planner` does it asset by asset):

========== =================================================================================
jobs       to download
present    already here: recorded in the state and on disk, or found on disk by name
           (a folder made by the old script; such files are also in ``adopt``)
missing    downloaded once, then moved or deleted by the user: left alone unless
           ``restore_missing`` (then they are jobs)
duplicates the same photo (same ``md5_hash``) as another asset already here or planned:
           hard-linked to it, skipped, or downloaded, as ``dedupe`` says
excluded   left out by the selection (kind, dates, uploader)
========== =================================================================================
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol
from urllib.parse import quote

from aura_async.models import Asset, Key, MediaKind
from aura_async.plan.selection import Dedupe, Selection
from aura_async.plan.templates import Templates

__all__ = [
    "Dedupe",
    "Job",
    "Known",
    "Plan",
    "Planner",
    "Selection",
    "asset_kinds",
    "image_url",
]


class Job(NamedTuple):
    """One file to fetch: the asset, which of its files, where it goes, and from where.

    A named tuple, not a dataclass: a nightly run makes one per file of the frame.
    """

    asset: Asset
    kind: MediaKind
    relpath: str
    url: str

    @property
    def name(self) -> str:
        """The file's name without its folder."""
        return self.relpath.rsplit("/", 1)[-1]

    @property
    def key(self) -> Key:
        """The file's identity in the state: ``(asset id, kind)``."""
        return (self.asset.id, self.kind)  # a StrEnum: equal to, and hashed as, its value


@dataclass
class Plan:
    """The outcome of planning one frame (see the module docstring for the buckets)."""

    jobs: list[Job] = field(default_factory=list)
    present: list[Job] = field(default_factory=list)
    """Files already here, with the relpath where they are (their ``url`` is not needed)."""
    adopt: list[tuple[Job, str]] = field(default_factory=list)
    missing: list[Job] = field(default_factory=list)
    duplicates: list[tuple[Job, str]] = field(default_factory=list)
    skipped_duplicates: int = 0
    placeholders: int = 0
    excluded: int = 0
    listed: int = 0
    keys: list[Key] = field(default_factory=list)
    """Every file the listing offers, selected or not (for the state's last_seen)."""
    uploaders: set[str] = field(default_factory=set)
    """The uploaders' names in the listing read (``--uploader`` names one of them)."""


def image_url(base: str, asset: Asset) -> str:
    """The unauthenticated still URL: ``{image_url}/{user_id}/{file_name}`` (aura-api.md 4)."""
    assert asset.user_id is not None
    assert asset.file_name is not None
    return f"{base}/{quote(asset.user_id, safe='')}/{quote(asset.file_name, safe='')}"


def asset_kinds(asset: Asset) -> list[MediaKind]:
    """Which files a non-placeholder asset offers: its still and, if it has one, its clip."""
    kinds = []
    if asset.file_name is not None and asset.user_id is not None:
        kinds.append(MediaKind.PHOTO)
    clip = asset.clip_kind
    if clip is not None:
        kinds.append(clip)
    return kinds


class Known(Protocol):
    """What the planner needs the state to remember of a file (a ``FileRecord`` fits)."""

    @property
    def relpath(self) -> str:
        """Where the file was put, relative to the frame's folder."""

    @property
    def md5_hash(self) -> str | None:
        """The server's md5 of the photo."""


class Planner:
    """Plans a listing asset by asset (so a run can stop listing early: ``--until-found``).

    Args:
        image_base: the image server's base URL.
        frame: the frame's name (for ``{frame}`` in templates).
        layout: where files go; the default is the old script's flat names.
        selection: which files are wanted.
        found: file names in the folder, mapped to where each occurs (relpaths); a plain
            collection of names means each sits at the top of the folder.
        known: the state's files by key.
        restore_missing: fetch files the user moved away or deleted after a download.
        dedupe: what to do with a photo identical (``md5_hash``) to another one here.
    """

    def __init__(
        self,
        *,
        image_base: str,
        frame: str = "",
        layout: Templates | None = None,
        selection: Selection | None = None,
        found: Mapping[str, Sequence[str]] | Collection[str] = (),
        known: Mapping[Key, Known] | None = None,
        restore_missing: bool = False,
        dedupe: Dedupe = Dedupe.HARDLINK,
    ) -> None:
        self.image_base = image_base
        self.frame = frame
        self.layout = layout or Templates()
        self.selection = selection or Selection()
        self.known = known or {}
        self.restore_missing = restore_missing
        self.dedupe = dedupe
        self.where: Mapping[str, Sequence[str]] = (
            found if isinstance(found, Mapping) else {name: (name,) for name in found}
        )
        self.on_disk = {relpath for places in self.where.values() for relpath in places}
        self.by_md5 = {
            info.md5_hash: info.relpath
            for info in self.known.values()
            if info.md5_hash and info.relpath in self.on_disk
        }
        self.plan = Plan()
        self._seen: set[Key] = set()
        self._wants = None if self.selection == Selection() else self.selection.wants

    def add(self, asset: Asset) -> bool:
        """Plan one asset of the listing.

        Returns:
            True when the asset brings nothing new to fetch (all of its wanted files are
            here, or were here once); False for assets with work to do. Placeholders count
            as nothing new.
        """
        plan = self.plan
        wants = self._wants
        plan.listed += 1
        if asset.is_placeholder:
            plan.placeholders += 1
            return True
        if asset.uploader_name:
            plan.uploaders.add(asset.uploader_name)
        before = len(plan.jobs) + len(plan.duplicates)
        for kind in asset_kinds(asset):
            key = (asset.id, kind)
            if key in self._seen:
                continue  # the same asset listed twice across pages
            self._seen.add(key)
            plan.keys.append(key)
            if wants is not None and not wants(asset, kind):
                plan.excluded += 1
                continue
            info = self.known.get(key)
            if info is not None and info.relpath in self.on_disk:
                # Here, where we put it (even if the templates changed since): the common
                # case of a nightly run, so no URL or template is computed for it.
                plan.present.append(Job(asset, kind, info.relpath, ""))
                self._remember(asset, kind, info.relpath)
            else:
                self._place(self._job(asset, kind), info)
        return len(plan.jobs) + len(plan.duplicates) == before

    def _job(self, asset: Asset, kind: MediaKind) -> Job:
        relpath = self.layout.relpath(asset, kind, self.frame)
        if kind is MediaKind.PHOTO:
            return Job(asset, kind, relpath, image_url(self.image_base, asset))
        assert asset.video_url is not None
        return Job(asset, kind, relpath, asset.video_url)

    def _remember(self, asset: Asset, kind: MediaKind, relpath: str) -> None:
        if kind is MediaKind.PHOTO and asset.md5_hash:
            self.by_md5.setdefault(asset.md5_hash, relpath)

    def _place(self, job: Job, info: Known | None) -> None:
        plan = self.plan
        md5 = job.asset.md5_hash if job.kind is MediaKind.PHOTO else None
        if job.name in self.where:
            places = self.where[job.name]  # the old script's folder, or moved by the user
            here = job.relpath if job.relpath in places else places[0]
            plan.present.append(Job(job.asset, job.kind, here, job.url))
            plan.adopt.append((job, here))
        elif info is not None and not self.restore_missing:
            plan.missing.append(job)
            return
        elif md5 and md5 in self.by_md5 and self.dedupe is not Dedupe.OFF:
            if self.dedupe is Dedupe.SKIP:
                plan.skipped_duplicates += 1
            else:
                plan.duplicates.append((job, self.by_md5[md5]))
            return
        else:
            here = job.relpath
            plan.jobs.append(job)
        self._remember(job.asset, job.kind, here)
