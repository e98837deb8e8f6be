"""``--verify``: re-hash a folder's files against its state database (no network), and set
aside what ``--verify --repair`` is about to fetch again.

Verifying holds the folder's lock, so it never reports on a folder a download is writing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from aura_async.config import FrameConfig
from aura_async.exceptions import StorageError
from aura_async.store.lock import FolderLock
from aura_async.store.scan import FileStatus, check_file
from aura_async.store.state import State, state_path

__all__ = ["CHANGED_SUFFIX", "VerifyReport", "set_aside", "verify_frame"]

CHANGED_SUFFIX = ".changed-"
"""Between a changed file's name and the date ``--verify --repair`` set it aside."""


@dataclass
class VerifyReport:
    """What ``--verify`` found in one frame's folder."""

    frame: str
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    has_state: bool = True

    @property
    def ok(self) -> bool:
        """True when every recorded file is present and unchanged."""
        return not (self.missing or self.changed)

    def summary_line(self) -> str:
        """One line for logs and terminals."""
        if not self.has_state:
            return f"{self.frame}: nothing to verify yet (no state: run a download first)"
        return (
            f"{self.frame}: verified {self.checked} files: {len(self.missing)} missing, "
            f"{len(self.changed)} changed"
        )

    def to_json(self) -> dict[str, Any]:
        """The ``--verify --json`` object."""
        return {
            "frame": self.frame,
            "checked": self.checked,
            "missing": self.missing,
            "changed": self.changed,
        }


def verify_frame(frame: FrameConfig) -> VerifyReport:
    """Check every file the state says is in the frame's folder (blocking: reads every byte).

    Files whose assets left the frame are checked too: they are still the family's photos.

    Raises:
        LockHeld: a download is writing into the folder.
        StorageError: the state or a file cannot be read.
    """
    report = VerifyReport(frame.name)
    if not state_path(frame.file_path).is_file():
        report.has_state = False
        return report
    with FolderLock(frame.file_path), State.open(frame.file_path) as state:
        for record in state.files().values():
            report.checked += 1
            status = check_file(frame.file_path, record)
            if status is FileStatus.MISSING:
                report.missing.append(record.relpath)
            elif status is FileStatus.CHANGED:
                report.changed.append(record.relpath)
    return report


def set_aside(folder: Path, relpaths: list[str], date: str, *, keep: bool) -> list[Path]:
    """Move changed files out of the way of ``--verify --repair`` (blocking).

    Args:
        folder: the frame's download folder.
        relpaths: the changed files.
        date: ``YYYY-MM-DD``, for the name each is kept under.
        keep: keep each as ``<name>.changed-<date>`` (``-2``, ``-3``... if taken); else
            delete it.

    Returns:
        Where each kept file now is (empty without ``keep``).

    Raises:
        StorageError: a file cannot be moved or deleted.
    """
    kept = []
    for relpath in relpaths:
        path = folder.joinpath(*PurePosixPath(relpath).parts)
        try:
            if not keep:
                path.unlink(missing_ok=True)
                continue
            target = path.with_name(f"{path.name}{CHANGED_SUFFIX}{date}")
            copy = 1
            while target.exists():
                copy += 1
                target = path.with_name(f"{path.name}{CHANGED_SUFFIX}{date}-{copy}")
            path.rename(target)
        except OSError as exc:
            raise StorageError(f"cannot set aside {path}: {exc.strerror or exc}") from exc
        kept.append(target)
    return kept
