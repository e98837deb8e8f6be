"""Folders another run holds: the run exits 6 naming it, and --all goes on past it (the
lock itself: test_lock)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from aura_async.cli import ExitCode, app
from aura_async.emulator import Emulator, FrameSpec
from aura_async.store.lock import FolderLock

from .conftest import small_config, write_config


class TestLock:
    def test_locked_folder_exits_6(self, threaded_emulator: Emulator, tmp_path: Path) -> None:
        """A run on a folder another run holds exits 6 and fetches nothing."""
        config = write_config(threaded_emulator, tmp_path)
        with FolderLock(tmp_path / "photos"):
            result = CliRunner().invoke(app, ["--config", str(config), "myframe"])
        assert result.exit_code == ExitCode.LOCKED
        assert "another aura-async run (pid" in result.stderr
        assert threaded_emulator.counters.media_requests == 0


def test_all_goes_on_past_a_locked_folder(tmp_path: Path) -> None:
    """With --all, a frame whose folder is locked is reported and the next frame still runs;
    the JSON line of the locked frame says why."""
    import json

    from aura_async.emulator.thread import emulator_in_thread

    config = small_config()
    config.frames.append(
        FrameSpec(name="Cabin", photos=3, videos=0, live_photos=0, placeholders=0, hidden=0)
    )
    with emulator_in_thread(config) as emu:
        path = write_config(emu, tmp_path)
        with FolderLock(tmp_path / "photos"):
            result = CliRunner().invoke(
                app, ["--config", str(path), "--all", "--json", "--rate", "0"]
            )
    assert result.exit_code == ExitCode.LOCKED
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert "another aura-async run" in first["error"]
    assert (second["frame"], second["downloaded"], second["error"]) == ("frame2", 3, None)
