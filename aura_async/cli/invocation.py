"""What one invocation of the command was asked to do, and what it notes while its frames
are listed.

Part of the CLI layer: :class:`Invocation` carries the settings, the frame names, the run
options, the display and stdout to every action, and is the run's progress callback (the
display, ``--dry-run``'s files on stdout, the ``--uploader`` and ``--write-exif`` notes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from aura_async.cli.console import Display
from aura_async.cli.stdout import Stdout
from aura_async.config import Settings
from aura_async.exceptions import ExitCode
from aura_async.options import RunOptions
from aura_async.plan.selection import unmatched_uploaders
from aura_async.report import Event, PlanReady, WouldDownload, plural
from aura_async.seams import Seams

__all__ = ["Invocation"]


@dataclass
class Invocation:
    """What one invocation was asked to do."""

    settings: Settings
    names: list[str]
    options: RunOptions
    display: Display
    out: Stdout
    list_frames: bool = False
    count: bool = False
    verify: bool = False
    repair: bool = False
    keep_changed: bool = True
    json_out: bool = False
    uploaders: tuple[str, ...] = ()
    """The ``--uploader`` names as given."""
    seen_uploaders: set[str] = field(default_factory=set)
    """The uploaders of the frames listed so far."""
    exif_note_said: bool = False
    seams: Seams | None = None
    """Sleep, clocks and disk for the run (``None``: the real ones; tests inject theirs)."""

    def on_event(self, event: Event) -> None:
        """The run's progress callback: the display, after a look at each listing;
        ``--dry-run``'s files on stdout."""
        if isinstance(event, WouldDownload):
            if not self.json_out:
                self.out.write(f"would download {event.folder / event.relpath}\n")
            return
        if isinstance(event, PlanReady):
            if not event.cut_short:  # a listing cut short knows only some of the uploaders
                self.note_uploaders(event.frame, event.uploaders)
                self.note_exif(event)
            self.display.handle(event)
            return
        self.display.handle(event)

    def note_exif(self, plan: PlanReady) -> None:
        """``--write-exif`` on a folder with files: say, once, that they stay as they are."""
        if self.exif_note_said or not (self.options.download.write_exif and plan.present):
            return
        self.exif_note_said = True
        self.display.info(
            f"--write-exif applies to new downloads only: the {plural(plan.present, 'file')} "
            f"already in the folder of [{plan.frame}] are left as they are"
        )

    def note_uploaders(self, frame: str, names: Iterable[str]) -> None:
        """Remember a frame's uploaders; with several frames, warn of ``--uploader`` names
        that are not among them."""
        names = set(names)
        self.seen_uploaders |= names
        unknown = unmatched_uploaders(self.uploaders, names)
        if unknown and len(self.names) > 1:
            self.display.warning(
                f"{frame}: no uploader {_quoted(unknown)} in this frame (its uploaders: "
                f"{', '.join(sorted(names)) or 'none named'})"
            )

    def unmatched_uploaders(self) -> ExitCode:
        """After the frames: an ``--uploader`` name that matched nobody is a mistake."""
        unknown = unmatched_uploaders(self.uploaders, self.seen_uploaders)
        if not unknown:
            return ExitCode.OK
        where = "this frame" if len(self.names) == 1 else "these frames"
        self.display.error(
            f"--uploader {_quoted(unknown)} matches no uploader of {where}, so it selected "
            f"nothing (uploaders: {', '.join(sorted(self.seen_uploaders)) or 'none named'})"
        )
        return ExitCode.USAGE


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(repr(name) for name in names)
