"""Deciding what to fetch (pure): which files each asset gives, where they go, what is there.

Nothing here touches the disk or the network. The caller passes what the download folder
holds (file names and where they are, from :func:`aura_async.store.scan.scan_relpaths`) and
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

A run that streams gives the planner, page by page (:meth:`Planner.learn`), what the folder's
state says of that page's files, so the planner itself keeps nothing per asset of the
frame: what it knows of md5s and of the files listed holds for one page, and the state
answers for the pages before (``listed``, ``placed``).
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
    "Page",
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
class Page:
    """What planning one page of the listing found (see :meth:`Plan.drain`)."""

    jobs: list[Job] = field(default_factory=list)
    present: list[Job] = field(default_factory=list)
    adopt: list[tuple[Job, str]] = field(default_factory=list)
    suspects: list[tuple[Job, int | None]] = field(default_factory=list)
    keys: list[Key] = field(default_factory=list)

    def fetch_again(self, damaged: Collection[Job]) -> None:
        """Move files found damaged on disk from ``present`` (and ``adopt``) to the jobs,
        each to be fetched into the place where it is."""
        places = {job.relpath for job in damaged}
        self.present = [job for job in self.present if job.relpath not in places]
        self.adopt = [(job, here) for job, here in self.adopt if here not in places]
        self.jobs.extend(damaged)


@dataclass
class Plan:
    """The outcome of planning one frame (see the module docstring for the buckets).

    A run that streams (downloads begin with the first page) takes each page's lists with
    :meth:`drain`, so memory is bounded by a page, not by the frame; the counts cover every
    page.
    """

    jobs: list[Job] = field(default_factory=list)
    present: list[Job] = field(default_factory=list)
    """Files already here, with the relpath where they are (their ``url`` is not needed)."""
    adopt: list[tuple[Job, str]] = field(default_factory=list)
    missing: list[Job] = field(default_factory=list)
    duplicates: list[tuple[Job, str]] = field(default_factory=list)
    """Each duplicate with the relpath of the file it is a copy of."""
    later_duplicates: list[Job] = field(default_factory=list)
    """Duplicates of photos placed on an earlier page of a streaming run (``placed`` of
    :meth:`Planner.learn`): where their first copy is, the state says once the run has
    recorded it; then they join :attr:`duplicates`."""
    suspects: list[tuple[Job, int | None]] = field(default_factory=list)
    """Files here (also in ``present``, or ``adopt``) whose size is not the recorded one, or
    that were found by name: each with its recorded size, for the run to inspect on disk
    (empty or cut short: fetch again; whole: the user's edit, kept)."""
    skipped_duplicates: int = 0
    placeholders: int = 0
    excluded: int = 0
    listed: int = 0
    keys: list[Key] = field(default_factory=list)
    """Every file the listing offers, selected or not (for the state's last_seen)."""
    uploaders: set[str] = field(default_factory=set)
    """The uploaders' names in the listing read (``--uploader`` names one of them)."""
    damaged: int = 0
    """Files here that were found empty or cut short, now among the jobs."""
    not_ready: int = 0
    """Videos the server has not finished (no ``video_url`` yet): fetched by a later run."""
    drained_jobs: int = 0
    drained_present: int = 0
    drained_missing: int = 0

    @property
    def job_count(self) -> int:
        """Files to fetch, on every page."""
        return self.drained_jobs + len(self.jobs)

    @property
    def present_count(self) -> int:
        """Files already here, on every page."""
        return self.drained_present + len(self.present)

    @property
    def missing_count(self) -> int:
        """Files missing locally, on every page."""
        return self.drained_missing + len(self.missing)

    def drain(self) -> Page:
        """Take the lists planned since the last drain, keeping only their counts."""
        page = Page(self.jobs, self.present, self.adopt, self.suspects, self.keys)
        self.drained_jobs += len(self.jobs)
        self.drained_present += len(self.present)
        self.drained_missing += len(self.missing)
        self.jobs, self.present, self.adopt, self.suspects, self.keys = [], [], [], [], []
        self.missing = []
        return page

    def fetch_again(self, damaged: Collection[Job]) -> None:
        """:meth:`Page.fetch_again` on what has not been drained yet."""
        page = Page(self.jobs, self.present, self.adopt, self.suspects, self.keys)
        page.fetch_again(damaged)
        self.jobs, self.present, self.adopt = page.jobs, page.present, page.adopt
        self.damaged += len({job.relpath for job in damaged})


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

    @property
    def size(self) -> int | None:
        """The file's size when it was recorded."""


class Planner:
    """Plans a listing asset by asset (so a run can stop listing early: ``--until-found``).

    Args:
        image_base: the image server's base URL.
        frame: the frame's name (for ``{frame}`` in templates).
        layout: where files go; the default is the old script's flat names.
        selection: which files are wanted.
        found: file names in the folder, mapped to where each occurs (relpaths); a plain
            collection of names means each sits at the top of the folder. With ``sizes``,
            only names found in sub-folders need to be here: a name at the top of the folder
            is its own relpath.
        known: the state's files by key (a streaming run gives each page's with
            :meth:`learn` instead).
        sizes: the size of each file on disk, by relpath (a recorded file of another size,
            or an empty one, is a suspect); when given, it says what is on disk.
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
        sizes: Mapping[str, int] | None = None,
        restore_missing: bool = False,
        dedupe: Dedupe = Dedupe.HARDLINK,
    ) -> None:
        self.image_base = image_base
        self.frame = frame
        self.layout = layout or Templates()
        self.selection = selection or Selection()
        self.known: Mapping[Key, Known] = known or {}
        self.sizes = sizes or {}
        self.restore_missing = restore_missing
        self.dedupe = dedupe
        self.where: Mapping[str, Sequence[str]] = (
            found if isinstance(found, Mapping) else {name: (name,) for name in found}
        )
        self.on_disk: Collection[str] = (
            self.sizes
            if sizes is not None
            else {relpath for places in self.where.values() for relpath in places}
        )
        self._here = {
            info.md5_hash: info.relpath
            for info in self.known.values()
            if info.md5_hash and info.relpath in self.on_disk
        }
        """Where a photo of each md5 is, or will be, as far as this planner knows: since the
        last :meth:`learn` (one page), or of the whole listing without it."""
        self._seen: set[Key] = set()
        """The files planned since the last :meth:`learn`."""
        self._listed: Collection[Key] = ()
        self._placed: Collection[str] = ()
        self.plan = Plan()
        self._wants = None if self.selection == Selection() else self.selection.wants

    def learn(
        self,
        known: Mapping[Key, Known],
        md5_places: Mapping[str, str],
        sizes: Mapping[str, int],
        where: Mapping[str, Sequence[str]],
        *,
        listed: Collection[Key] = (),
        placed: Collection[str] = (),
    ) -> None:
        """What the next page needs to know, asked of the state and the disk for just that
        page (a streaming run never loads every record or every file of the folder). What
        the planner learned of the page before is forgotten.

        Args:
            known: the state's records of the page's files.
            md5_places: where photos of the page's md5s already are (on disk).
            sizes: the size of each of the page's files found on disk: where the state put
                it, where the templates put it, and wherever a file of its name is.
            where: the page's file names found in sub-folders, and where.
            listed: the page's files that earlier pages listed already (planned there).
            placed: the page's md5s whose photos earlier pages placed (to fetch, or found
                by name) but the state does not have on disk yet: a photo of one is a
                duplicate (:attr:`Plan.later_duplicates`).
        """
        self.known = known
        self.sizes = sizes
        self.on_disk = sizes
        self.where = where
        self._here = dict(md5_places)
        self._seen = set()
        self._listed = listed
        self._placed = placed

    def _places(self, name: str) -> Sequence[str]:
        """Where a file of this name is in the folder (none: not there)."""
        places = self.where.get(name)
        if places is not None:
            return places
        return (name,) if self.sizes and name in self.sizes else ()

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
        if asset.video_not_ready:
            plan.not_ready += 1
            return False  # work left for a later run
        before = len(plan.jobs) + len(plan.duplicates) + len(plan.later_duplicates)
        for kind in asset_kinds(asset):
            key: Key = (asset.id, kind)
            if key in self._seen or key in self._listed:
                continue  # the same asset listed twice (pages shift as photos are added)
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
                if not self.sizes:  # else the state finds it by md5 (learn)
                    self._remember(asset, kind, info.relpath)
                size = self.sizes.get(info.relpath)
                if size is not None and (size == 0 or info.size not in (None, size)):
                    suspect = self._job(asset, kind)._replace(relpath=info.relpath)
                    plan.suspects.append((suspect, info.size))
            else:
                self._place(self._job(asset, kind), info)
        return len(plan.jobs) + len(plan.duplicates) + len(plan.later_duplicates) == before

    def _job(self, asset: Asset, kind: MediaKind) -> Job:
        relpath = self.layout.relpath(asset, kind, self.frame)
        if kind is MediaKind.PHOTO:
            return Job(asset, kind, relpath, image_url(self.image_base, asset))
        assert asset.video_url is not None
        return Job(asset, kind, relpath, asset.video_url)

    def _remember(self, asset: Asset, kind: MediaKind, relpath: str) -> None:
        if kind is MediaKind.PHOTO and asset.md5_hash:
            self._here.setdefault(asset.md5_hash, relpath)

    def _place(self, job: Job, info: Known | None) -> None:
        plan = self.plan
        md5 = job.asset.md5_hash if job.kind is MediaKind.PHOTO else None
        places = self._places(job.name)
        if job.relpath in self.on_disk or places:
            # The old script's folder, or moved by the user.
            here = job.relpath if job.relpath in self.on_disk else places[0]
            plan.present.append(Job(job.asset, job.kind, here, job.url))
            plan.adopt.append((job, here))
            plan.suspects.append((job._replace(relpath=here), None))
        elif info is not None and not self.restore_missing:
            plan.missing.append(job)
            return
        elif md5 and self.dedupe is not Dedupe.OFF and (md5 in self._here or md5 in self._placed):
            if self.dedupe is Dedupe.SKIP:
                plan.skipped_duplicates += 1
            elif md5 in self._here:
                plan.duplicates.append((job, self._here[md5]))
            else:
                plan.later_duplicates.append(job)
            return
        else:
            here = job.relpath
            plan.jobs.append(job)
        self._remember(job.asset, job.kind, here)
