"""Which files a run wants (pure): the selection flags and the duplicate policy."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from aura_async.models import Asset, MediaKind

__all__ = ["Dedupe", "Selection", "unmatched_uploaders"]


class Dedupe(StrEnum):
    """What to do with a photo whose ``md5_hash`` matches one already here or planned."""

    HARDLINK = "hardlink"
    """Give it its own name as a hard link to the first copy (no bytes fetched or stored)."""
    SKIP = "skip"
    """Do not create it at all."""
    OFF = "off"
    """Download it like any other photo."""


@dataclass(frozen=True, slots=True)
class Selection:
    """Which files a run wants.

    Attributes:
        stills: photos and the stills of videos and Live Photos.
        clips: video clips and Live Photo motion.
        since: keep assets taken on or after this ISO date/time prefix (``2024-01-01``).
        until: keep assets taken before the end of this prefix (``2024-12-31``).
        uploaders: keep assets uploaded by these names (case-insensitive); empty: all.
    """

    stills: bool = True
    clips: bool = True
    since: str | None = None
    until: str | None = None
    uploaders: frozenset[str] = frozenset()

    def wants(self, asset: Asset, kind: MediaKind) -> bool:
        """Whether this file of ``asset`` is selected."""
        if not (self.stills if kind is MediaKind.PHOTO else self.clips):
            return False
        taken = asset.taken_at or ""
        if self.since and taken[: len(self.since)] < self.since:
            return False
        if self.until and taken[: len(self.until)] > self.until:
            return False
        return not self.uploaders or (asset.uploader_name or "").casefold() in self.uploaders


def unmatched_uploaders(wanted: Iterable[str], seen: Iterable[str]) -> list[str]:
    """The ``--uploader`` names (as given) that match none of the uploaders ``seen``,
    compared as :meth:`Selection.wants` does (case-insensitively)."""
    known = {name.casefold() for name in seen}
    return [name for name in wanted if name.casefold() not in known]
