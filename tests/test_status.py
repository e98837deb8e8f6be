"""--status: each folder's state read without network, writing or locking."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aura_async.cli import ExitCode, app
from aura_async.cli.status import status_text
from aura_async.emulator import Emulator
from aura_async.store.lock import FolderLock, lock_holder
from aura_async.store.records import RunRecord
from aura_async.store.schema import MIGRATIONS
from aura_async.store.state import State
from aura_async.store.status import FolderStatus, read_status, run_exit_code

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


def folder_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


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
        before = folder_files(tmp_path / "photos")
        code, out, _ = invoke("--config", str(config), "--status")  # no FRAME: every frame
        assert code == ExitCode.OK
        assert threaded_emulator.counters.count("login") == 0
        assert folder_files(tmp_path / "photos") == before  # not even SQLite's -wal and -shm
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


NOW = 1_800_000_000.0


def run(started: float, summary: dict[str, Any], frame: str = "f") -> RunRecord:
    return RunRecord(1, frame, started, started + 12.5, summary)


@pytest.mark.parametrize(
    ("status", "lines"),
    [
        (
            FolderStatus(
                Path("/p"),
                has_state=True,
                last_run=run(NOW - 65, {"error": "cannot create /p", "interrupted": True}),
                complete_listing_recorded=True,
                caught_up=False,
                files=3,
                removed=1,
            ),
            [
                "(1 min ago), 12.5 s, exit 130 (derived: this run predates recorded exit codes)",
                ", interrupted; cannot create /p",
                "complete listing: none yet (every run stopped listing early",
                "caught up:        no: files are left to fetch",
                "files recorded:   3 (1 removed from the frame)",
            ],
        ),
        (
            FolderStatus(
                Path("/p"),
                has_state=True,
                last_run=run(NOW - 5, {"error": "disk full"}, frame="old-name"),
                seen_since=NOW - 3 * 86400,
            ),
            [
                "(5 s ago), 12.5 s, exit code not recorded (the run stopped on an error)",
                "(recorded as [old-name]); disk full",
                "not recorded in this folder's state; every file still listed was seen in a "
                "listing since",
                "(3 d ago)",
            ],
        ),
        (
            FolderStatus(Path("/p"), has_state=True),
            ["last run:         none recorded", "complete listing: not recorded"],
        ),
    ],
)
def test_status_text(status: FolderStatus, lines: list[str]) -> None:
    """The text says what each state tells, and what it does not record."""
    text = status_text("f", status, NOW)
    for line in lines:
        assert line in text


def test_a_time_to_come_has_no_ago() -> None:
    """A time after now (a clock set back since) is shown without "ago"."""
    status = FolderStatus(Path("/p"), has_state=True, complete_listing=NOW + 60)
    line = status_text("f", status, NOW).split("complete listing: ")[1].split("\n")[0]
    assert line.startswith("20")
    assert "ago" not in line


class TestUnreadable:
    def test_a_newer_or_broken_state_is_an_error_for_that_frame(self, tmp_path: Path) -> None:
        """A state of a newer schema, or not a database: exit 1 naming it; nothing changes."""
        path = tmp_path / "c.ini"
        path.write_text(
            "[login]\nemail = a\npassword = b\n"
            f"[new]\nframe_id = x\nfile_path = {tmp_path / 'new'}\n"
            f"[junk]\nframe_id = y\nfile_path = {tmp_path / 'junk'}\n"
        )
        path.chmod(0o600)
        (tmp_path / "new" / ".aura-async").mkdir(parents=True)
        with sqlite3.connect(tmp_path / "new" / ".aura-async" / "state.db") as conn:
            conn.execute("PRAGMA user_version = 99")
        (tmp_path / "junk" / ".aura-async").mkdir(parents=True)
        (tmp_path / "junk" / ".aura-async" / "state.db").write_bytes(b"not a database" * 100)
        before = (tmp_path / "junk" / ".aura-async" / "state.db").read_bytes()
        code, _, err = invoke("--config", str(path), "--status")
        assert code == ExitCode.FAILED
        assert "schema 99 is newer than this aura-async understands" in err
        assert f"state database {tmp_path / 'junk' / '.aura-async' / 'state.db'}" in err
        assert (tmp_path / "junk" / ".aura-async" / "state.db").read_bytes() == before

    def test_a_state_cut_to_a_byte_is_damaged_not_empty(self, tmp_path: Path) -> None:
        """A state.db of one byte (SQLite alone would read it as an empty database): exit 1,
        one line saying it is cut short; nothing changes."""
        path = tmp_path / "c.ini"
        path.write_text(
            "[login]\nemail = a\npassword = b\n"
            f"[cut]\nframe_id = x\nfile_path = {tmp_path / 'cut'}\n"
        )
        path.chmod(0o600)
        (tmp_path / "cut" / ".aura-async").mkdir(parents=True)
        (tmp_path / "cut" / ".aura-async" / "state.db").write_bytes(b"S")
        code, _, err = invoke("--config", str(path), "--status")
        assert code == ExitCode.FAILED
        assert "damaged: cut to 1 of its bytes" in err
        assert "no such table" not in err
        assert (tmp_path / "cut" / ".aura-async" / "state.db").read_bytes() == b"S"

    def test_a_schema_1_state_has_no_runs_yet(self, tmp_path: Path) -> None:
        """A state from before runs were recorded: its files, no last run, nothing removed."""
        folder = tmp_path / "old"
        (folder / ".aura-async").mkdir(parents=True)
        (folder / "a.jpg").write_bytes(b"x")
        with sqlite3.connect(folder / ".aura-async" / "state.db") as conn:
            for statement in MIGRATIONS[0]:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO files (asset_id, kind, relpath, first_seen, last_seen) "
                "VALUES ('a', 'photo', 'a.jpg', 1.0, 2.0), ('b', 'photo', 'b.jpg', 1.0, 3.0)"
            )
            conn.execute("PRAGMA user_version = 1")
        status = read_status(folder, "old")
        assert (status.last_run, status.files, status.removed) == (None, 2, 0)
        assert status.missing == ("b.jpg",)
        assert status.seen_since == 2.0
