"""What the state database holds, as values: a file's record, its index entry, a run.

:mod:`aura_async.store.state` reads and writes them; the downloader, the planner and the
adoption of existing folders pass them around.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from aura_async.models import Asset, Key, MediaKind

__all__ = ["FileRecord", "Indexed", "RunRecord"]


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One file of the folder as the state knows it (a row of ``files``).

    Attributes:
        asset_id: the asset's id.
        kind: which of the asset's files this is.
        relpath: POSIX path relative to the download folder.
        first_seen: unix time of the first listing (or adoption) that offered the file.
        last_seen: unix time of the latest listing that offered it.
        size: bytes on disk, when known.
        sha256: hex SHA-256 of the local file, when computed.
        md5_hash: the server's ``md5_hash`` of the asset at download time.
        taken_at: the API's ``taken_at`` string, verbatim.
        uploader_id: the uploader's user id.
        uploader_name: the uploader's name.
        downloaded_at: unix time we fetched it; ``None`` for a file adopted from a folder
            made by the old script (or another tool).
        removed_at: unix time a complete listing no longer offered it; ``None`` while listed.
    """

    asset_id: str
    kind: MediaKind
    relpath: str
    first_seen: float
    last_seen: float
    size: int | None = None
    sha256: str | None = None
    md5_hash: str | None = None
    taken_at: str | None = None
    uploader_id: str | None = None
    uploader_name: str | None = None
    downloaded_at: float | None = None
    removed_at: float | None = None

    @property
    def key(self) -> Key:
        """``(asset_id, kind)``, the row's primary key."""
        return (self.asset_id, self.kind.value)

    def path(self, folder: Path) -> Path:
        """The file's absolute location under ``folder``.

        Args:
            folder: the frame's download folder.

        Returns:
            ``folder`` joined with the parts of :attr:`relpath`.
        """
        return folder.joinpath(*PurePosixPath(self.relpath).parts)

    @classmethod
    def from_asset(
        cls,
        asset: Asset,
        kind: MediaKind,
        relpath: str,
        *,
        now: float,
        size: int | None = None,
        sha256: str | None = None,
        downloaded_at: float | None = None,
    ) -> FileRecord:
        """The record of one of ``asset``'s files, first and last seen ``now``.

        Args:
            asset: the listed asset (gives md5, taken_at and uploader).
            kind: which of its files.
            relpath: where the file is, POSIX and relative to the folder.
            now: unix time for ``first_seen`` and ``last_seen``.
            size: bytes on disk.
            sha256: hex SHA-256 of the local file.
            downloaded_at: unix time of the download; ``None`` when adopted.

        Returns:
            A new record; :meth:`aura_async.store.state.State.record` keeps an existing row's
            earlier ``first_seen``.
        """
        return cls(
            asset_id=asset.id,
            kind=kind,
            relpath=relpath,
            first_seen=now,
            last_seen=now,
            size=size,
            sha256=sha256,
            md5_hash=asset.md5_hash,
            taken_at=asset.taken_at,
            uploader_id=asset.user_id,
            uploader_name=asset.uploader_name,
            downloaded_at=downloaded_at,
        )


class Indexed(NamedTuple):
    """One file as :meth:`aura_async.store.state.State.index` reads it."""

    relpath: str
    md5_hash: str | None
    removed_at: float | None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One past run of one frame (a row of ``runs``).

    Attributes:
        id: increasing row id.
        frame: the frame's name in the config.
        started: unix time the run began.
        finished: unix time it ended.
        summary: the ``--json`` object of the run (``FrameReport.to_json()``).
    """

    id: int
    frame: str
    started: float
    finished: float
    summary: Mapping[str, Any]
