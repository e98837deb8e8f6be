"""The library's front door: list_frames and run_frames, as examples/ use them."""

from __future__ import annotations

from pathlib import Path

import pytest

from aura_async import list_frames, run_frames
from aura_async.emulator import Emulator
from aura_async.exceptions import ConfigError
from aura_async.options import RunOptions

from .conftest import first_frame_id, settings_for


async def test_list_frames(emulator: Emulator, tmp_path: Path) -> None:
    """list_frames logs in and returns the account's frames."""
    frames = await list_frames(settings_for(emulator, tmp_path))
    assert [f.id for f in frames] == [first_frame_id(emulator)]


async def test_run_frames(emulator: Emulator, tmp_path: Path) -> None:
    """run_frames downloads the named frames and returns one report each."""
    settings = settings_for(emulator, tmp_path)
    (report,) = await run_frames(settings, ["myframe"], RunOptions(rate=None))
    assert report.downloaded == 37
    assert report.failed == 0


async def test_run_frames_checks_names_first(emulator: Emulator, tmp_path: Path) -> None:
    """An unknown frame name fails before any request."""
    with pytest.raises(ConfigError):
        await run_frames(settings_for(emulator, tmp_path), ["nope"])
    assert emulator.counters.count("login") == 0
