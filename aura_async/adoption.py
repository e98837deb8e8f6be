"""Bringing an existing folder into the state, and checking recorded files against the disk.

A folder made by the old script (or by aura-async before it kept state) holds files whose
names the planner recognises (``<taken_at>_<asset id><ext>``, flat or under year folders).
:func:`adopt` records those files so the state matches the folder; :func:`check_file` and
:func:`sha256_file` serve ``--verify``. Everything here blocks on the disk: from async code
call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from pathlib import Path

from .exceptions import StorageError
from .plan import Job
from .state import FileRecord, State

__all__ = ["HASH_CHUNK", "FileStatus", "adopt", "check_file", "scan_relpaths", "sha256_file"]

HASH_CHUNK = 1024 * 1024
"""Bytes read at a time by :func:`sha256_file`."""
PART_SUFFIX = ".part"


def sha256_file(path: Path, chunk_size: int = HASH_CHUNK) -> str:
    """Hex SHA-256 of a file, read in chunks.

    Args:
        path: the file.
        chunk_size: bytes per read.

    Returns:
        The 64-character lowercase hex digest.

    Raises:
        StorageError: the file cannot be read (``__cause__`` holds the ``OSError``).
    """
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(chunk_size):
                digest.update(chunk)
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def scan_relpaths(folder: Path) -> dict[str, list[str]]:
    """Where each file name occurs in ``folder`` and its direct sub-folders (year folders).

    The same places :func:`aura_async.downloader.scan_folder` looks: hidden entries of the
    top level (such as ``.aura-async/``) and ``.part`` files do not count.

    Args:
        folder: the frame's download folder; a missing folder holds nothing.

    Returns:
        ``{name: [relpath, ...]}``, POSIX relpaths, a top-level file before sub-folders,
        sub-folders in name order.

    Raises:
        StorageError: the folder cannot be listed.
    """
    found: dict[str, list[str]] = {}
    try:
        if not folder.is_dir():
            return found
        with os.scandir(folder) as top:
            entries = sorted(top, key=lambda e: e.name)
        subdirs = []
        for entry in entries:
            if entry.name.startswith("."):
                continue  # the state's own .aura-async/ among them
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry)
            elif entry.is_file() and not entry.name.endswith(PART_SUFFIX):
                found.setdefault(entry.name, []).append(entry.name)
        for sub in subdirs:
            with os.scandir(sub.path) as inner:
                for entry in sorted(inner, key=lambda e: e.name):
                    if entry.is_file() and not entry.name.endswith(PART_SUFFIX):
                        found.setdefault(entry.name, []).append(f"{sub.name}/{entry.name}")
    except OSError as exc:
        raise StorageError(f"cannot list {folder}: {exc.strerror or exc}") from exc
    return found


def adopt(
    state: State,
    folder: Path,
    jobs: Iterable[Job],
    *,
    now: float,
    hash_files: bool = True,
    found: Mapping[str, Sequence[str]] | None = None,
) -> list[FileRecord]:
    """Record the files of ``jobs`` that the folder already holds and the state lacks.

    A job's file is found by its name anywhere :func:`scan_relpaths` looks, so a flat folder
    is adopted by a ``--years`` run and the other way round; where it occurs twice, the
    job's own ``relpath`` wins, else the first occurrence. Adopted records get the listing's
    metadata, the size on disk, ``downloaded_at=None`` and, with ``hash_files``, the SHA-256.

    Args:
        state: the open state.
        folder: the frame's download folder.
        jobs: files of the listing (typically ``plan.present``; others are skipped if absent).
        now: unix time of the listing (``first_seen``/``last_seen``).
        hash_files: compute each file's SHA-256 (reads every byte: slow on a big folder).
        found: a :func:`scan_relpaths` result to reuse; scanned when ``None``.

    Returns:
        The records written, in job order.

    Raises:
        StorageError: the folder or a file cannot be read, or the state cannot be written.
    """
    where = scan_relpaths(folder) if found is None else found
    known = state.files()
    records: list[FileRecord] = []
    for job in jobs:
        candidates = where.get(job.name)
        if not candidates or (job.asset.id, job.kind.value) in known:
            continue
        relpath = job.relpath if job.relpath in candidates else candidates[0]
        path = folder / relpath
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from exc
        sha256 = sha256_file(path) if hash_files else None
        records.append(
            FileRecord.from_asset(job.asset, job.kind, relpath, now=now, size=size, sha256=sha256)
        )
    state.record(records)
    return records


class FileStatus(StrEnum):
    """How a recorded file compares with the disk."""

    OK = "ok"
    """Present, with the recorded size and (when recorded and checked) SHA-256."""
    MISSING = "missing"
    """No file at the recorded path."""
    CHANGED = "changed"
    """Present, but its size or SHA-256 differs from the record."""


def check_file(folder: Path, record: FileRecord, *, check_hash: bool = True) -> FileStatus:
    """Compare one recorded file with the disk (for ``--verify``).

    Args:
        folder: the frame's download folder.
        record: the file's record.
        check_hash: also hash the file when the record has a SHA-256 (reads every byte).

    Returns:
        :attr:`FileStatus.OK`, :attr:`~FileStatus.MISSING` or :attr:`~FileStatus.CHANGED`.

    Raises:
        StorageError: the file exists but cannot be read.
    """
    path = record.path(folder)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return FileStatus.MISSING
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if record.size is not None and size != record.size:
        return FileStatus.CHANGED
    if check_hash and record.sha256 is not None and sha256_file(path) != record.sha256:
        return FileStatus.CHANGED
    return FileStatus.OK
