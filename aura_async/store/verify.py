"""``--verify``: re-hash a folder's files against its state database (no network)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aura_async.config import FrameConfig
from aura_async.store.scan import FileStatus, check_file
from aura_async.store.state import State, state_path

__all__ = ["VerifyReport", "verify_frame"]


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
        StorageError: the state or a file cannot be read.
    """
    report = VerifyReport(frame.name)
    if not state_path(frame.file_path).is_file():
        report.has_state = False
        return report
    with State.open(frame.file_path) as state:
        for record in state.files().values():
            report.checked += 1
            status = check_file(frame.file_path, record)
            if status is FileStatus.MISSING:
                report.missing.append(record.relpath)
            elif status is FileStatus.CHANGED:
                report.changed.append(record.relpath)
    return report
