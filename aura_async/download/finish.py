"""Finishing a verified file: EXIF, its date, the rename; small atomic writes (blocking)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aura_async.metadata.exif import add_exif
from aura_async.models import Asset
from aura_async.plan.paths import PART_SUFFIX

__all__ = ["Finish", "finish_file", "taken_at_timestamp", "write_atomic"]


@dataclass(frozen=True)
class Finish:
    """What to do to a complete ``.part`` before it takes its final name.

    Attributes:
        exif: add capture date, place, author and caption to JPEGs that have no EXIF.
        sidecars: ``(suffix, content)`` files to write beside the final file.
    """

    exif: bool = False
    sidecars: tuple[tuple[str, bytes], ...] = ()


def taken_at_timestamp(taken_at: str | None) -> float | None:
    """``taken_at`` as a Unix time for the file's mtime, or ``None`` if unparseable."""
    if not taken_at:
        return None
    try:
        return datetime.fromisoformat(taken_at).timestamp()
    except (ValueError, OverflowError):
        return None


def write_atomic(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` through a temporary file and a rename."""
    temp = path.with_name(path.name + PART_SUFFIX)
    temp.write_bytes(content)
    temp.replace(path)


def finish_file(
    part: Path, final: Path, asset: Asset, finish: Finish, known: tuple[int, str] | None = None
) -> tuple[int, str]:
    """Finish a verified ``.part`` and rename it; returns ``(size, sha256)`` of the final bytes.

    Args:
        part: the complete ``.part`` file.
        final: its final name.
        asset: the asset (EXIF values, the mtime).
        finish: what to add (EXIF, sidecars).
        known: the part's size and SHA-256 if the writer computed them (else it is read).

    Blocking: run it in a thread (or on the loop where a :class:`DiskPace` allows).
    """
    if finish.exif:
        data = part.read_bytes()
        changed = add_exif(
            data,
            taken_at=asset.taken_at,
            artist=asset.uploader_name,
            description="\n".join(asset.captions) or None,
            gps=asset.location,
        )
        if changed is not data:
            part.write_bytes(changed)
            known = len(changed), hashlib.sha256(changed).hexdigest()
    if known is None:
        digest = hashlib.sha256()
        with part.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        known = part.stat().st_size, digest.hexdigest()
    mtime = taken_at_timestamp(asset.taken_at)
    if mtime is not None:
        with contextlib.suppress(OSError, OverflowError, ValueError):
            os.utime(part, (mtime, mtime))
    part.replace(final)
    for suffix, content in finish.sidecars:
        write_atomic(final.with_name(final.name + suffix), content)
    return known
