"""The command line's flags checked before anything runs: which exclude each other, and the
selection they make.

Part of the CLI layer: a bad combination or a malformed date is a
:class:`~aura_async.exceptions.ConfigError`, shown as one usage error line (exit 2).
"""

from __future__ import annotations

from datetime import datetime

from aura_async.exceptions import ConfigError
from aura_async.plan.selection import Selection

__all__ = ["check_flags", "checked_selection"]


def check_flags(
    names: list[str],
    *,
    no_videos: bool,
    videos_only: bool,
    years: bool,
    folder_template: str | None,
    sidecars: str,
    demo: bool,
    all_frames: bool,
    list_frames: bool,
    count: bool,
    verify: bool,
    status: bool,
    dry_run: bool,
    setup: bool,
    repair: bool,
    no_keep: bool,
) -> None:
    """Flags that exclude each other, or nothing to do.

    Raises:
        ConfigError: the usage error to show.
    """
    if no_videos and videos_only:
        raise ConfigError("--no-videos and --videos-only exclude each other")
    if years and folder_template is not None:
        raise ConfigError('--years is --folder-template "{year}": give one of them')
    if sidecars not in ("json", "xmp", "off"):
        raise ConfigError(f"--sidecars takes json, xmp or off, not {sidecars!r}")
    if repair and not verify:
        raise ConfigError("--repair goes with --verify: aura-async FRAME --verify --repair")
    if no_keep and not repair:
        raise ConfigError("--no-keep goes with --verify --repair")
    if setup and (names or all_frames or list_frames or count or verify or status or demo):
        raise ConfigError("--setup runs on its own (with --config FILE, or --config - to print)")
    if demo and (names or all_frames or list_frames or count or verify or status):
        raise ConfigError("--demo runs on its own; drop the frame names and other actions")
    if list_frames and (names or all_frames or count or verify or status):
        raise ConfigError("--list-frames takes no frame names and no other action")
    if status and (count or verify or dry_run):
        raise ConfigError("--status runs on its own: give it frame names, or none for all")
    if all_frames and names:
        raise ConfigError("give frame names or --all, not both")
    if not (demo or names or all_frames or list_frames or status or setup):
        raise ConfigError(
            "name a frame from the config file (or use --all, --list-frames, --setup, "
            "--demo); see --help"
        )


def checked_selection(
    videos_only: bool,
    no_videos: bool,
    since: str | None,
    until: str | None,
    uploaders: list[str] | None,
) -> Selection:
    """The selection flags, checked.

    Raises:
        ConfigError: a date is malformed, or ``--since`` comes after ``--until``.
    """
    first, last = _date(since, "--since"), _date(until, "--until")
    if first is not None and last is not None:
        common = min(len(first), len(last))
        if first[:common] > last[:common]:
            raise ConfigError(
                f"--since {first} is after --until {last}: no photo can match; "
                "swap them, or drop one"
            )
    return Selection(
        stills=not videos_only,
        clips=not no_videos,
        since=first,
        until=last,
        uploaders=frozenset(n.casefold() for n in uploaders or []),
    )


def _date(value: str | None, flag: str) -> str | None:
    """Check a YYYY, YYYY-MM or YYYY-MM-DD date (compared with taken_at's prefix)."""
    if value is None:
        return None
    formats = {4: "%Y", 7: "%Y-%m", 10: "%Y-%m-%d"}
    try:
        datetime.strptime(value, formats[len(value)])
    except (KeyError, ValueError):
        raise ConfigError(
            f"{flag} takes a date like 2024, 2024-06 or 2024-06-30, not {value!r}"
        ) from None
    return value
