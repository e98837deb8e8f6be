"""Bringing an existing folder into the state, and checking recorded files against the disk.

A folder made by the old script (or by aura-async before it kept state) holds files whose
names the planner recognises (``<taken_at>_<asset id><ext>``, flat or under year folders):
:func:`scan_relpaths` finds them for the planner, which records them as adopted;
:func:`check_file` and :func:`sha256_file` serve ``--verify``. Everything here blocks on
the disk: from async code call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import bisect
import hashlib
import os
from array import array
from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path

from aura_async.exceptions import StorageError
from aura_async.metadata.structure import Verdict, judge, shape_of
from aura_async.plan.paths import PART_SUFFIX
from aura_async.store.records import FileRecord

__all__ = [
    "HASH_CHUNK",
    "FileStatus",
    "FolderScan",
    "check_file",
    "inspect_file",
    "scan_folder",
    "scan_relpaths",
    "sha256_file",
    "sizes_of",
]

HASH_CHUNK = 1024 * 1024
"""Bytes read at a time by :func:`sha256_file`."""


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


def _walk(folder: Path, *, ordered: bool = True) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Every file and ``.part`` in ``folder`` at any depth, as ``(prefix, entry)``, shallower
    places first, then (``ordered``) in name order; hidden entries (``.aura-async/``) are
    skipped. Unordered, a folder's entries are never all held at once (100,000 of them
    took 25 MB)."""
    pending = [("", str(folder))]
    if not folder.is_dir():
        return
    while pending:
        prefix, path = pending.pop(0)
        with os.scandir(path) as found:
            entries = sorted(found, key=lambda e: e.name) if ordered else found
            for entry in entries:
                if entry.name.startswith("."):
                    continue  # the state's own .aura-async/ among them
                if entry.is_dir(follow_symlinks=False):
                    pending.append((f"{prefix}{entry.name}/", entry.path))
                elif entry.is_file():
                    yield prefix, entry


def scan_relpaths(
    folder: Path, parts: set[str] | None = None, sizes: dict[str, int] | None = None
) -> dict[str, list[str]]:
    """Where each file name occurs in ``folder``, at any depth (year or template folders).

    Hidden entries (such as ``.aura-async/``) and ``.part`` files do not count.

    Args:
        folder: the frame's download folder; a missing folder holds nothing.
        parts: when given, receives the relpaths of the ``.part`` files found (without
            the suffix), so resumable downloads are known without looking again.
        sizes: when given, receives each file's size by relpath (a ``stat`` per file:
            what lets every run notice a file a power cut emptied or cut short).

    Returns:
        ``{name: [relpath, ...]}``, POSIX relpaths, shallower places first, then in name
        order.

    Raises:
        StorageError: the folder cannot be listed.
    """
    found: dict[str, list[str]] = {}
    try:
        for prefix, entry in _walk(folder):
            if not entry.name.endswith(PART_SUFFIX):
                found.setdefault(entry.name, []).append(prefix + entry.name)
                if sizes is not None:
                    sizes[prefix + entry.name] = entry.stat().st_size
            elif parts is not None:
                parts.add(prefix + entry.name[: -len(PART_SUFFIX)])
    except OSError as exc:
        raise StorageError(f"cannot list {folder}: {exc.strerror or exc}") from exc
    return found


_FOLDER_BITS = 24
"""Bits of a :class:`FolderScan` entry that number its folder (16 million folders)."""
_HASH_MASK = (1 << (64 - _FOLDER_BITS)) - 1


def _name_key(name: str) -> int:
    return (hash(name) & _HASH_MASK) << _FOLDER_BITS


class FolderScan:
    """What a download folder holds, in about 8 bytes a file (100,000 files in under 1 MB):
    for each file, a hash of its name and the number of its folder, sorted. It answers where
    a name may be; a caller confirms with a ``stat`` (which gives the size too), so a hash
    collision costs a look at the disk, never a wrong answer.

    Attributes:
        parts: relpaths of the ``.part`` files (without the suffix): resumable downloads.
    """

    def __init__(self, folders: list[str], entries: array[int], parts: set[str]) -> None:
        self._folders = folders
        self._entries = entries
        self.parts = parts

    def __len__(self) -> int:
        return len(self._entries)

    def places(self, name: str) -> list[str]:
        """The relpaths where a file of this name may be (shallower folders first)."""
        key = _name_key(name)
        entries = self._entries
        found = []
        i = bisect.bisect_left(entries, key)
        while i < len(entries) and entries[i] >> _FOLDER_BITS == key >> _FOLDER_BITS:
            found.append(self._folders[entries[i] & ((1 << _FOLDER_BITS) - 1)] + name)
            i += 1
        return found


def scan_folder(folder: Path) -> FolderScan:
    """Scan a download folder for the planner (no ``stat``: the names only; blocking).

    Raises:
        StorageError: the folder cannot be listed.
    """
    folders: dict[str, int] = {}
    entries = array("Q")
    parts: set[str] = set()
    try:
        for prefix, entry in _walk(folder, ordered=False):
            if entry.name.endswith(PART_SUFFIX):
                parts.add(prefix + entry.name[: -len(PART_SUFFIX)])
                continue
            number = folders.setdefault(prefix, len(folders))
            if number >> _FOLDER_BITS:
                raise StorageError(f"cannot list {folder}: more than 16 million folders")
            entries.append(_name_key(entry.name) | number)
    except OSError as exc:
        raise StorageError(f"cannot list {folder}: {exc.strerror or exc}") from exc
    entries = array("Q", sorted(entries))  # one list of ints for a moment: 4 MB for 100,000
    return FolderScan(sorted(folders, key=folders.__getitem__), entries, parts)


def sizes_of(folder: Path, relpaths: Iterable[str]) -> dict[str, int]:
    """The size of each of these files that exists (a ``stat`` each; blocking).

    Raises:
        StorageError: a file exists but cannot be looked at.
    """
    sizes = {}
    base = os.fspath(folder) + os.sep  # plain strings: a Path per file costs more than its stat
    for relpath in relpaths:
        try:
            sizes[relpath] = os.stat(base + relpath).st_size  # noqa: PTH116 - see above
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            raise StorageError(f"cannot read {folder / relpath}: {exc.strerror or exc}") from exc
    return sizes


def inspect_file(path: Path, recorded: int | None) -> Verdict:
    """Whether a file on disk is fine, damaged (empty or cut short: fetch it again) or the
    user's edit (whole, but not the recorded size), reading only what its structure needs.

    Args:
        path: the file.
        recorded: the size the state recorded for it (``None``: adopted by name).

    Raises:
        StorageError: the file cannot be read.
    """
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size

            def read_at(offset: int, count: int) -> bytes:
                handle.seek(offset)
                return handle.read(count)

            return judge(size, recorded, shape_of(size, read_at))
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from exc


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
