"""A damaged state database (store/recovery.py), from open_state down to the command line:
moved aside with one warning, a new one started, the folder adopted by name, nothing
fetched twice, and never a traceback."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aura_async.cli import ExitCode, app
from aura_async.emulator import Emulator
from aura_async.exceptions import StateUnreadable, StorageError
from aura_async.models import MediaKind
from aura_async.store.records import FileRecord
from aura_async.store.recovery import DAMAGED_SUFFIX, open_state
from aura_async.store.schema import CURRENT_VERSION
from aura_async.store.state import State, state_path

from .conftest import write_config

NOW = 1_800_000_000.0
"""A fixed wall clock for open_state: 2027-01-15 08:00:00 UTC."""
STAMP = time.strftime("%Y%m%dT%H%M%S", time.gmtime(NOW))


def garbage(path: Path) -> None:
    """Overwrite the database with bytes that are not SQLite at all."""
    path.write_bytes(b"\x00not a database, the disk returned this\n" * 300)


def truncate_to(size: Callable[[int], int]) -> Callable[[Path], None]:
    """A damage that keeps only the first ``size(length)`` bytes of the database."""

    def damage(path: Path) -> None:
        data = path.read_bytes()
        path.write_bytes(data[: size(len(data))])

    return damage


def torn_page(path: Path) -> None:
    """Scribble over the second page (a write torn by a power cut): the file still opens,
    only reading every page finds it."""
    data = bytearray(path.read_bytes())
    data[4096:8192] = b"\xa5" * 4096
    path.write_bytes(bytes(data))


def newer(path: Path) -> None:
    """Make the database look written by a newer aura-async (schema 99)."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA user_version = 99")


DAMAGES: dict[str, Callable[[Path], None]] = {
    "garbage": garbage,
    "one byte": truncate_to(lambda n: 1),
    "ten bytes": truncate_to(lambda n: 10),
    "header only": truncate_to(lambda n: 100),
    "one page": truncate_to(lambda n: 4096),
    "half": truncate_to(lambda n: n // 2),
    "torn page": torn_page,
    "newer": newer,
}
REASONS = {
    "garbage": "not a database",
    "one byte": "cut to 1 of its bytes",  # SQLite alone takes it for an empty database
    "ten bytes": "cut to 10 of its bytes",
    "header only": "malformed",
    "one page": "malformed",
    "half": "malformed",
    "torn page": "damaged: *** in database main *** Page 2:",
    "newer": "schema 99 is newer",
}


def records(count: int) -> list[FileRecord]:
    return [
        FileRecord(f"a{i}", MediaKind.PHOTO, f"p{i}.jpg", 1.0, 1.0, size=100) for i in range(count)
    ]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A download folder whose state holds 40 records and a run (several pages)."""
    root = tmp_path / "frame"
    with State.open(root) as state:
        state.record(records(40))
        state.add_run("frame", 1.0, 2.0, {"downloaded": 40})
    return root


@contextmanager
def write_locked(path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holding the database's write lock (BEGIN IMMEDIATE)."""
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        yield other
        if other.in_transaction:
            other.execute("ROLLBACK")


def damaged_copies(folder: Path) -> list[Path]:
    """The moved-aside databases of ``folder`` (not their -wal/-shm companions)."""
    return sorted(
        p
        for p in state_path(folder).parent.glob(f"state.db{DAMAGED_SUFFIX}*")
        if not p.name.endswith(("-wal", "-shm", "-journal"))
    )


class TestOpenState:
    def test_a_sound_state_is_kept(self, folder: Path) -> None:
        """A readable state is opened as it is: its rows kept, nothing moved aside."""
        opened = open_state(folder, NOW, timeout=0.1)
        with opened.state as state:
            assert (opened.moved_to, opened.reason) == (None, None)
            assert len(state.files()) == 40
            assert len(state.runs()) == 1
        assert damaged_copies(folder) == []

    @pytest.mark.parametrize("kind", DAMAGES)
    def test_damage_is_moved_aside(self, folder: Path, kind: str) -> None:
        """A damaged or newer database is moved, bytes untouched, to state.db.damaged-<time>,
        and a new, empty, current and writable one takes its place."""
        path = state_path(folder)
        DAMAGES[kind](path)
        damaged = path.read_bytes()
        opened = open_state(folder, NOW, timeout=0.1)
        with opened.state as state:
            assert opened.moved_to == path.with_name(f"state.db{DAMAGED_SUFFIX}{STAMP}")
            assert opened.moved_to.read_bytes() == damaged
            assert opened.reason is not None
            assert str(path) in opened.reason
            assert REASONS[kind] in opened.reason
            assert "\n" not in opened.reason  # said in one line
            assert state.path == path
            assert state.version == CURRENT_VERSION
            assert state.files() == {}
            state.record(records(1))
            assert len(state.files()) == 1
        assert damaged_copies(folder) == [opened.moved_to]

    def test_locked_by_a_connection_that_never_lets_go(self, folder: Path) -> None:
        """A write lock held past the timeout (a client that is gone) is treated as damage:
        the database is moved aside and the new one does not wait for that lock."""
        path = state_path(folder)
        with write_locked(path):
            opened = open_state(folder, NOW, timeout=0.1)
            with opened.state as state:
                assert opened.moved_to == path.with_name(f"state.db{DAMAGED_SUFFIX}{STAMP}")
                assert opened.reason is not None
                assert "locked" in opened.reason
                state.record(records(1))
                assert len(state.files()) == 1
        with closing(sqlite3.connect(opened.moved_to)) as conn:  # the old rows, kept
            assert conn.execute("SELECT count(*) FROM files").fetchone() == (40,)

    def test_a_second_damage_in_the_same_second_keeps_the_first_copy(self, folder: Path) -> None:
        """Damage found twice (three times) at the same second gives each moved database its
        own name: no copy ever replaces an earlier one."""
        path = state_path(folder)
        moved = []
        for damage in (garbage, newer, garbage):
            damage(path)
            damaged = path.read_bytes()
            opened = open_state(folder, NOW, timeout=0.1)
            opened.state.close()
            assert opened.moved_to is not None
            assert opened.moved_to.read_bytes() == damaged
            moved.append((opened.moved_to, damaged))
        first = path.with_name(f"state.db{DAMAGED_SUFFIX}{STAMP}")
        assert [p for p, _ in moved] == [
            first,
            first.with_name(f"{first.name}-2"),
            first.with_name(f"{first.name}-3"),
        ]
        for copy, data in moved:
            assert copy.read_bytes() == data
        assert damaged_copies(folder) == sorted(p for p, _ in moved)

    def test_the_journal_goes_with_it(self, folder: Path) -> None:
        """A locked database is moved with its -wal and -shm: what the holder commits later
        lands in the moved copy, never in the new database."""
        path = state_path(folder)
        with write_locked(path) as holder:
            holder.execute(
                "INSERT INTO files (asset_id, kind, relpath, first_seen, last_seen) "
                "VALUES ('late', 'photo', 'late.jpg', 1, 1)"
            )
            opened = open_state(folder, NOW, timeout=0.1)
            holder.execute("COMMIT")
            moved = opened.moved_to
            assert moved is not None
            for companion in ("-wal", "-shm"):
                assert moved.with_name(moved.name + companion).exists()
            with closing(sqlite3.connect(moved)) as conn:
                assert conn.execute("SELECT count(*) FROM files").fetchone() == (41,)
            with opened.state as state:
                assert state.files() == {}

    def test_other_storage_errors_are_raised_not_moved(self, tmp_path: Path) -> None:
        """A state that cannot be opened for another reason (here state.db is a folder) is a
        StorageError for the user to fix, not damage to move aside."""
        state_path(tmp_path).mkdir(parents=True)
        with pytest.raises(StorageError) as caught:
            open_state(tmp_path, NOW, timeout=0.1)
        assert not isinstance(caught.value, StateUnreadable)
        assert state_path(tmp_path).is_dir()
        assert damaged_copies(tmp_path) == []


# -- the command line ------------------------------------------------------------------------

runner = CliRunner()
CLI_DAMAGES = ["garbage", "half", "torn page", "newer"]


def run_cli(config: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--config", str(config), "myframe", "--rate", "0", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (INFO|WARNING|ERROR) ")


def warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if " WARNING " in line]


def downloaded(threaded_emulator: Emulator, tmp_path: Path) -> tuple[Path, Path]:
    """A complete first download; returns the config and the folder."""
    config = write_config(threaded_emulator, tmp_path)
    code, _, err = run_cli(config)
    assert code == ExitCode.OK, err
    assert "37 downloaded" in err.strip().splitlines()[-1]
    return config, tmp_path / "photos"


@contextmanager
def locked_by_another_process(path: Path) -> Iterator[None]:
    """Another process holding the database's write lock until the block ends."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "conn.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert holder.stdin is not None
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline() == b"locked\n"
        yield
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
        holder.stdout.close()


def folder_snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root``, aura-async's own included."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


class TestCommandLine:
    @pytest.mark.parametrize("kind", CLI_DAMAGES)
    def test_next_runs_recover(
        self, threaded_emulator: Emulator, tmp_path: Path, kind: str
    ) -> None:
        """After a complete download, a damaged state.db costs one warning naming it and where
        it went; the run exits 0 and fetches nothing; a second damage gets its own copy; the
        run after that needs no warning at all."""
        config, root = downloaded(threaded_emulator, tmp_path)
        path = state_path(root)
        moved: list[tuple[Path, bytes]] = []
        for _ in range(2):
            DAMAGES[kind](path)
            damaged = path.read_bytes()
            threaded_emulator.counters.reset()
            code, _, err = run_cli(config)
            assert code == ExitCode.OK, err
            assert "Traceback" not in err
            (warning,) = warnings(err)
            assert all(LOG_LINE.match(line) for line in err.splitlines())  # nothing spills over
            assert str(path) in warning
            copies = [p for p in damaged_copies(root) if p not in {m for m, _ in moved}]
            assert len(copies) == 1
            assert f"moved it to {copies[0]}" in warning
            moved.append((copies[0], damaged))
            assert threaded_emulator.counters.media_requests == 0
            assert "0 downloaded, 37 skipped, 0 failed" in err.strip().splitlines()[-1]
        for copy, data in moved:  # the second damage never overwrote the first copy
            assert copy.read_bytes() == data
        threaded_emulator.counters.reset()
        code, _, err = run_cli(config)
        assert code == ExitCode.OK
        assert warnings(err) == []
        assert threaded_emulator.counters.media_requests == 0

    def test_a_lock_held_by_a_process_that_never_lets_go(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """A state whose write lock another process holds for ever (a client that is gone):
        after the wait, one warning, the database moved aside, nothing fetched (the wait is
        the state's 5 s timeout)."""
        config, root = downloaded(threaded_emulator, tmp_path)
        path = state_path(root)
        with locked_by_another_process(path):
            threaded_emulator.counters.reset()
            code, _, err = run_cli(config)
        assert code == ExitCode.OK, err
        (warning,) = warnings(err)
        (copy,) = damaged_copies(root)
        assert str(path) in warning
        assert "locked" in warning
        assert f"moved it to {copy}" in warning
        assert threaded_emulator.counters.media_requests == 0
        assert "0 downloaded, 37 skipped, 0 failed" in err.strip().splitlines()[-1]

    @pytest.mark.parametrize("kind", [*CLI_DAMAGES, "header only"])
    def test_dry_run_on_a_damaged_state_writes_nothing(
        self, threaded_emulator: Emulator, tmp_path: Path, kind: str
    ) -> None:
        """--dry-run on a damaged state.db exits 0 without a traceback, plans to fetch
        nothing that is on disk, and leaves every file, the damaged database included, as it
        was."""
        config, root = downloaded(threaded_emulator, tmp_path)
        DAMAGES[kind](state_path(root))
        before = folder_snapshot(root)
        threaded_emulator.counters.reset()
        code, out, err = run_cli(config, "--dry-run")
        assert code == ExitCode.OK, err
        assert "Traceback" not in err
        assert "would download" not in out
        assert "0 files to download, 37 already here" in err
        # nothing appears (not even SQLite's -wal and -shm), nothing is moved aside
        assert folder_snapshot(root) == before
        assert threaded_emulator.counters.media_requests == 0

    def test_dry_run_on_a_locked_state(self, threaded_emulator: Emulator, tmp_path: Path) -> None:
        """--dry-run on a state another process holds locked reads it as it is (no wait, no
        warning, nothing moved) and plans to fetch nothing."""
        config, root = downloaded(threaded_emulator, tmp_path)
        with locked_by_another_process(state_path(root)):
            threaded_emulator.counters.reset()
            code, out, err = run_cli(config, "--dry-run")
        assert code == ExitCode.OK, err
        assert warnings(err) == []
        assert "would download" not in out
        assert "0 files to download, 37 already here" in err
        assert damaged_copies(root) == []
        assert threaded_emulator.counters.media_requests == 0
