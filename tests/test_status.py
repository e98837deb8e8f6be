"""--status: each folder's state read without network, writing or locking."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aura_async.cli import ExitCode, app
from aura_async.emulator import Emulator
from aura_async.store.lock import FolderLock, lock_holder
from aura_async.store.state import State
from aura_async.store.status import read_status, run_exit_code

from .conftest import write_config

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        ({"exit_code": 4, "failed": 0}, (4, True)),
        ({"failed": 0, "interrupted": False, "error": None}, (0, False)),
        ({"failed": 2}, (1, False)),
        ({"interrupted": True, "failed": 1}, (130, False)),
        ({"error": "cannot create /x"}, (None, False)),
    ],
)
def test_run_exit_code(summary: dict[str, Any], expected: tuple[int | None, bool]) -> None:
    """A run's exit code: recorded, or derived from its summary (None when it cannot be)."""
    assert run_exit_code(summary) == expected


def test_lock_holder_only_looks(tmp_path: Path) -> None:
    """lock_holder names a holder while a run holds the lock, and never takes it itself."""
    assert lock_holder(tmp_path) is None
    with FolderLock(tmp_path):
        assert (lock_holder(tmp_path) or "").startswith("pid ")
        assert lock_holder(tmp_path) is not None  # looking twice changes nothing
    assert lock_holder(tmp_path) is None
    with FolderLock(tmp_path):  # and the lock is still free to take afterwards
        pass


class TestStatus:
    def test_before_and_after_a_download(self, threaded_emulator: Emulator, tmp_path: Path) -> None:
        """--status says a folder was never downloaded into, then shows the last run, the
        files recorded and missing, and the lock; it sends no request."""
        config = write_config(threaded_emulator, tmp_path)
        code, out, _ = invoke("--config", str(config), "--status", "myframe")
        assert code == ExitCode.OK
        assert "state: none yet: nothing was downloaded into this folder" in out
        invoke("--config", str(config), "myframe", "--rate", "0")
        victim = sorted(p for p in (tmp_path / "photos").iterdir() if p.is_file())[0]
        victim.unlink()
        threaded_emulator.counters.reset()
        code, out, _ = invoke("--config", str(config), "--status")  # no FRAME: every frame
        assert code == ExitCode.OK
        assert threaded_emulator.counters.count("login") == 0
        lines = out.splitlines()
        assert lines[0] == f"myframe  {tmp_path / 'photos'}"
        assert ", exit 0: 37 downloaded, 0 skipped, 0 failed, 424.0 KiB" in lines[1]
        assert "complete listing: 20" in out  # the time the state recorded
        assert "caught up:        yes: nothing was left to fetch" in out
        assert "files recorded:   37" in out
        assert "missing locally:  1 (--restore-missing fetches them)" in out
        assert "lock:             free: no run is under way" in out

    def test_json_and_the_lock(self, threaded_emulator: Emulator, tmp_path: Path) -> None:
        """--status --json gives one object per frame; a held lock names its holder."""
        config = write_config(threaded_emulator, tmp_path)
        invoke("--config", str(config), "myframe", "--rate", "0")
        with FolderLock(tmp_path / "photos"):
            code, out, _ = invoke("--config", str(config), "--status", "myframe", "--json")
            _, text, _ = invoke("--config", str(config), "--status", "myframe")
        assert code == ExitCode.OK
        (status,) = [json.loads(line) for line in out.splitlines()]
        assert status["locked"] is True
        assert status["lock_holder"].startswith("pid ")
        assert f"lock:             held by {status['lock_holder']}: a run is under way" in text
        assert status["last_run"]["exit_code"] == 0
        assert status["last_run"]["exit_code_recorded"] is True
        assert status["last_run"]["downloaded"] == 37
        assert (status["files_recorded"], status["missing_locally"]) == (37, 0)

    def test_what_the_state_does_not_record_is_said(self, tmp_path: Path) -> None:
        """Without listing_complete in the runs, --status says so and gives what the files
        tell; a recorded complete listing is shown; an old run's exit code is derived."""
        folder = tmp_path / "photos"
        with State.open(folder) as state:
            state.add_run("f", 1000.0, 1010.0, {"frame": "f", "downloaded": 2, "failed": 1})
        status = read_status(folder, "f")
        assert status.complete_listing is None
        assert status.complete_listing_recorded is False
        assert status.last_run is not None
        assert run_exit_code(status.last_run.summary) == (1, False)
        with State.open(folder) as state:
            state.add_run("f", 2000.0, 2010.0, {"frame": "f", "listing_complete": True})
            state.add_run("f", 3000.0, 3005.0, {"frame": "f", "listing_complete": False})
        status = read_status(folder, "f")
        assert (status.complete_listing, status.complete_listing_recorded) == (2010.0, True)
        assert status.last_run is not None
        assert status.last_run.started == 3000.0

    def test_status_text_of_an_old_run(self, tmp_path: Path) -> None:
        """The text says when an exit code was derived and what the listing record lacks."""
        path = tmp_path / "c.ini"
        path.write_text(
            f"[login]\nemail = a\npassword = b\n[f]\nframe_id = x\nfile_path = {tmp_path / 'f'}\n"
        )
        path.chmod(0o600)
        with State.open(tmp_path / "f") as state:
            state.add_run("f", 1000.0, 1010.0, {"frame": "f", "downloaded": 2, "failed": 1})
        code, out, _ = invoke("--config", str(path), "--status")
        assert code == ExitCode.OK
        assert "exit 1 (derived: this run predates recorded exit codes): 2 downloaded" in out
        assert "complete listing: not recorded in this folder's state" in out

    @pytest.mark.parametrize("other", ["--count", "--verify", "--dry-run", "--demo"])
    def test_status_runs_on_its_own(self, other: str) -> None:
        """--status with another action is a usage error."""
        assert invoke("--status", other)[0] == ExitCode.USAGE
