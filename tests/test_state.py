"""The SQLite state of a download folder, against real database files in tmp_path."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from aura_async.exceptions import StorageError
from aura_async.models import Asset, MediaKind
from aura_async.report import FrameReport
from aura_async.store.records import FileRecord, Indexed
from aura_async.store.schema import CURRENT_VERSION, MIGRATIONS
from aura_async.store.state import STATE_DIR, STATE_FILE, State

# The schema as version 1 released it, written out by hand: the migration must keep working
# on databases made by that version even if MIGRATIONS is later refactored.
V1_DDL = """
CREATE TABLE files (
    asset_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('photo', 'video', 'live')),
    relpath TEXT NOT NULL,
    size INTEGER,
    md5_hash TEXT,
    taken_at TEXT,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    downloaded_at REAL,
    PRIMARY KEY (asset_id, kind)
);
CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
PRAGMA user_version = 1;
"""


def db_path(folder: Path) -> Path:
    """Where the state of ``folder`` lives."""
    return folder / STATE_DIR / STATE_FILE


def rec(asset_id: str = "a1", kind: MediaKind = MediaKind.PHOTO, **fields: object) -> FileRecord:
    """A record with a path derived from its id and kind, seen at t=100."""
    values: dict[str, object] = {
        "relpath": f"2023/{asset_id}-{kind.value}.jpg",
        "first_seen": 100.0,
        "last_seen": 100.0,
    }
    values.update(fields)
    return FileRecord(asset_id, kind, **values)  # type: ignore[arg-type]


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    """An open, empty state in a fresh folder."""
    with State.open(tmp_path) as opened:
        yield opened


def columns(path: Path, table: str) -> list[tuple[str, str]]:
    """``(name, type)`` of every column of ``table``, read with a separate connection."""
    with closing(sqlite3.connect(path)) as conn:
        return [(row[1], row[2]) for row in conn.execute(f"PRAGMA table_info({table})")]


class TestOpen:
    """Opening creates, configures and versions the database."""

    def test_creates_hidden_folder_and_file(self, tmp_path: Path) -> None:
        """The database is created at <folder>/.aura-async/state.db, folders included."""
        folder = tmp_path / "photos" / "frame"
        with State.open(folder) as state:
            assert state.path == db_path(folder)
        assert db_path(folder).is_file()

    def test_wal_mode_and_current_version(self, tmp_path: Path) -> None:
        """A new database is in WAL mode and at the current schema version."""
        with State.open(tmp_path) as state:
            assert state.version == CURRENT_VERSION == len(MIGRATIONS) == 2
        with closing(sqlite3.connect(db_path(tmp_path))) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA user_version").fetchone()[0] == 2

    def test_reopen_keeps_rows(self, tmp_path: Path) -> None:
        """Rows written before closing are there after reopening."""
        with State.open(tmp_path) as state:
            state.record([rec()])
        with State.open(tmp_path) as state:
            assert state.get("a1", MediaKind.PHOTO) == rec()

    def test_a_read_only_open_leaves_no_wal_files(self, tmp_path: Path) -> None:
        """A read-only open (--dry-run) removes the -wal and -shm it created: the folder
        and the database are as they were."""
        with State.open(tmp_path) as state:
            state.record([rec()])
        before = db_path(tmp_path).read_bytes()
        readonly = State.open_readonly(tmp_path)
        assert readonly is not None
        assert readonly.get("a1", MediaKind.PHOTO) == rec()
        readonly.close()
        assert sorted(p.name for p in db_path(tmp_path).parent.iterdir()) == [STATE_FILE]
        assert db_path(tmp_path).read_bytes() == before

    def test_commits_made_while_it_read_are_left_to_their_run(self, tmp_path: Path) -> None:
        """A run that commits and closes while a read-only open reads cannot remove its
        WAL (the reader still uses it): the reader's close leaves it, and the database's
        bytes, as they are; the commit is there at the next open."""
        with State.open(tmp_path) as state:
            state.record([rec()])
        before = db_path(tmp_path).read_bytes()
        readonly = State.open_readonly(tmp_path)
        assert readonly is not None
        readonly.get("a1", MediaKind.PHOTO)
        with State.open(tmp_path) as writer:
            writer.record([rec("a2")])
        readonly.close()
        wal = db_path(tmp_path).with_name(STATE_FILE + "-wal")
        assert wal.stat().st_size > 0
        assert db_path(tmp_path).read_bytes() == before
        with State.open(tmp_path) as state:
            assert state.get("a2", MediaKind.PHOTO) == rec("a2")

    def test_newer_schema_is_refused(self, tmp_path: Path) -> None:
        """A database from a newer aura-async is refused rather than misread."""
        db_path(tmp_path).parent.mkdir()
        with closing(sqlite3.connect(db_path(tmp_path))) as conn:
            conn.execute("PRAGMA user_version = 99")
        with pytest.raises(StorageError, match=r"schema 99 is newer"):
            State.open(tmp_path)

    def test_folder_that_is_a_file(self, tmp_path: Path) -> None:
        """A download folder that cannot hold .aura-async/ gives a StorageError."""
        (tmp_path / "frame").write_text("not a folder")
        with pytest.raises(StorageError, match="cannot create") as caught:
            State.open(tmp_path / "frame")
        assert isinstance(caught.value.__cause__, OSError)


class TestMigrations:
    """Older databases are brought to the current schema with their rows."""

    def make_v1(self, folder: Path) -> Path:
        """A version-1 database with two files and the learned rate."""
        path = db_path(folder)
        path.parent.mkdir(parents=True)
        with closing(sqlite3.connect(path)) as conn:
            conn.executescript(V1_DDL)
            conn.executemany(
                "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    ("a1", "photo", "a1.jpg", 10, "m1", "2023-10-04T13:10:37.690Z", 1.0, 2.0, 2.0),
                    ("a1", "live", "a1.mov", 20, "m1", "2023-10-04T13:10:37.690Z", 1.0, 2.0, None),
                ],
            )
            conn.execute("INSERT INTO kv VALUES ('rate', '2.5')")
            conn.commit()
        return path

    def test_v1_is_migrated_and_rows_kept(self, tmp_path: Path) -> None:
        """Opening a v1 database migrates it to v2 and keeps every row and value."""
        self.make_v1(tmp_path)
        with State.open(tmp_path) as state:
            assert state.version == 2
            assert state.get("a1", "photo") == FileRecord(
                "a1",
                MediaKind.PHOTO,
                "a1.jpg",
                first_seen=1.0,
                last_seen=2.0,
                size=10,
                md5_hash="m1",
                taken_at="2023-10-04T13:10:37.690Z",
                downloaded_at=2.0,
            )
            assert set(state.files()) == {("a1", "photo"), ("a1", "live")}
            assert state.get_value("rate") == 2.5
            assert state.runs() == []
            assert state.get("a1", MediaKind.LIVE) is not None  # v1 rows kept

    def test_migrated_schema_equals_fresh_schema(self, tmp_path: Path) -> None:
        """A migrated v1 database has exactly the tables and columns of a new one."""
        old = self.make_v1(tmp_path / "old")
        State.open(tmp_path / "old").close()
        State.open(tmp_path / "new").close()
        new = db_path(tmp_path / "new")
        for table in ("files", "kv", "runs"):
            assert columns(old, table) == columns(new, table)
            assert columns(new, table)

    def test_migrated_database_accepts_new_columns(self, tmp_path: Path) -> None:
        """After migration the v2 columns can be written and read back."""
        self.make_v1(tmp_path)
        with State.open(tmp_path) as state:
            updated = rec("a1", relpath="a1.jpg", sha256="s", uploader_name="Ann", removed_at=5.0)
            state.record([updated])
            assert state.get("a1", MediaKind.PHOTO) == rec(
                "a1",
                relpath="a1.jpg",
                first_seen=1.0,
                sha256="s",
                uploader_name="Ann",
                removed_at=5.0,
            )


class TestFileRecord:
    """The record type itself."""

    def test_key_and_path(self, tmp_path: Path) -> None:
        """The key is (asset_id, kind value) and the path joins the POSIX relpath."""
        record = rec("x", MediaKind.VIDEO, relpath="2023/x.mp4")
        assert record.key == ("x", "video")
        assert record.path(tmp_path) == tmp_path / "2023" / "x.mp4"

    def test_from_asset(self) -> None:
        """A record built from an asset carries its md5, taken_at and uploader."""
        asset = Asset(
            id="a",
            user_id="u1",
            file_name="f.jpg",
            taken_at="2023-10-04T13:10:37.690Z",
            md5_hash="m",
            uploader_name="Ann",
        )
        record = FileRecord.from_asset(
            asset, MediaKind.PHOTO, "x.jpg", now=7.0, size=3, sha256="s", downloaded_at=8.0
        )
        assert record == FileRecord(
            "a",
            MediaKind.PHOTO,
            "x.jpg",
            first_seen=7.0,
            last_seen=7.0,
            size=3,
            sha256="s",
            md5_hash="m",
            taken_at="2023-10-04T13:10:37.690Z",
            uploader_id="u1",
            uploader_name="Ann",
            downloaded_at=8.0,
        )


class TestFiles:
    """Recording and reading files."""

    def test_round_trip_of_every_field(self, state: State) -> None:
        """A record with every field set reads back equal."""
        record = rec(
            size=1,
            sha256="s",
            md5_hash="m",
            taken_at="t",
            uploader_id="u",
            uploader_name="Ann",
            downloaded_at=101.5,
            removed_at=102.25,
        )
        assert state.record([record]) == 1
        assert state.get("a1", MediaKind.PHOTO) == record

    def test_unknown_file_is_none(self, state: State) -> None:
        """A file never recorded reads as None, whatever the kind spelling."""
        state.record([rec()])
        assert state.get("a1", MediaKind.VIDEO) is None
        assert state.get("a1", "photo") == rec()

    def test_upsert_keeps_first_seen_and_latest_last_seen(self, state: State) -> None:
        """Recording a file again replaces its fields but keeps the earliest first_seen."""
        state.record([rec(first_seen=50.0, last_seen=60.0, size=1, sha256="old")])
        state.record([rec(first_seen=200.0, last_seen=200.0, size=2)])
        state.record([rec(first_seen=150.0, last_seen=150.0, size=3)])
        assert state.get("a1", MediaKind.PHOTO) == rec(first_seen=50.0, last_seen=200.0, size=3)

    def test_record_is_one_transaction(self, state: State) -> None:
        """A batch with one invalid row writes nothing at all."""
        bad = rec("b", relpath=None)
        with pytest.raises(StorageError, match="NOT NULL"):
            state.record([rec("a"), bad])
        assert state.files() == {}
        assert state.record([]) == 0

    def test_files_by_key_in_path_order(self, state: State) -> None:
        """files() maps keys to records in relpath order, optionally without removed ones."""
        state.record(
            [rec("b", relpath="b.jpg"), rec("a", relpath="a.jpg", removed_at=1.0), rec("c")]
        )
        assert list(state.files()) == [("c", "photo"), ("a", "photo"), ("b", "photo")]
        assert list(state.files(include_removed=False)) == [("c", "photo"), ("b", "photo")]

    def test_index(self, state: State) -> None:
        """index gives every row's path, md5, removal and size, removed rows included."""
        state.record(
            [
                rec("a", md5_hash="m", relpath="x/a.jpg", size=7),
                rec("b", relpath="b.jpg", removed_at=1.0),
            ]
        )
        index = state.index()
        assert index[("a", "photo")] == Indexed("x/a.jpg", "m", None, 7)
        assert index[("b", "photo")].removed_at == 1.0


class TestListing:
    """Following the frame's listing: seen and removed files."""

    @staticmethod
    def _listing(state: State, keys: list[tuple[str, str]], now: float) -> list[str]:
        """One complete listing offering ``keys``; the relpaths it found removed."""
        state.begin_listing()
        state.note_listed(keys)
        return state.end_listing(now, complete=True)

    def test_a_listing_sees_what_it_offers(self, state: State) -> None:
        """Files listed get last_seen and lose removed_at; keys without a row are ignored."""
        state.record([rec("a", removed_at=150.0), rec("b")])
        self._listing(state, [("a", "photo"), ("b", "photo"), ("zz", MediaKind.VIDEO)], 300.0)
        assert state.get("a", "photo") == rec("a", last_seen=300.0)
        assert state.files().keys() == {("a", "photo"), ("b", "photo")}

    def test_a_listing_removes_only_what_it_does_not_offer(self, state: State) -> None:
        """A file of an asset still listed, but of a kind no longer offered, is removed."""
        state.record([rec("a"), rec("b"), rec("b", MediaKind.LIVE)])
        gone = self._listing(state, [("a", "photo"), ("b", MediaKind.PHOTO)], 400.0)
        assert gone == [rec("b", MediaKind.LIVE).relpath]
        assert state.get("b", MediaKind.LIVE) == rec("b", MediaKind.LIVE, removed_at=400.0)
        assert state.get("a", "photo") == rec("a", last_seen=400.0)

    def test_a_removal_keeps_its_first_time_and_its_row(self, state: State) -> None:
        """An already removed file keeps its first removal time and its row."""
        state.record([rec("a")])
        assert len(self._listing(state, [], 400.0)) == 1
        assert self._listing(state, [], 500.0) == []
        assert state.files() == {("a", "photo"): rec("a", removed_at=400.0)}

    def test_reappearing_file_is_listed_again(self, state: State) -> None:
        """A removed file that a later listing offers again loses its removed_at."""
        state.record([rec("a")])
        self._listing(state, [], 400.0)
        self._listing(state, [("a", "photo")], 500.0)
        assert state.files(include_removed=False) == {("a", "photo"): rec("a", last_seen=500.0)}


class TestRunsAndValues:
    """Run history and the key/value table."""

    def test_runs_newest_first(self, state: State) -> None:
        """Runs come back newest first, limited and filtered by frame."""
        report = FrameReport("home", frame_id="f1", downloaded=3, failures=[("x.jpg", "gone")])
        first = state.add_run("home", 1.0, 2.0, report.to_json())
        second = state.add_run("cabin", 3.0, 4.0, {"frame": "cabin"})
        third = state.add_run("home", 5.0, 6.5, {"frame": "home"})
        assert [r.id for r in state.runs()] == [third, second, first]
        assert [r.id for r in state.runs(2)] == [third, second]
        older = state.runs(frame="home")[1]
        assert (older.frame, older.started, older.finished) == ("home", 1.0, 2.0)
        assert older.summary == report.to_json()

    def test_unserialisable_summary(self, state: State) -> None:
        """A summary that is not JSON raises TypeError and writes nothing."""
        with pytest.raises(TypeError):
            state.add_run("home", 1.0, 2.0, {"bad": object()})
        assert state.runs() == []

    def test_values(self, tmp_path: Path) -> None:
        """Values round-trip as JSON, replace earlier ones and survive reopening."""
        with State.open(tmp_path) as state:
            assert state.get_value("rate") is None
            assert state.get_value("rate", 25.0) == 25.0
            state.set_value("rate", 3.0)
            state.set_value("rate", 2.5)
            state.set_value("seen", {"ids": ["a"]})
        with State.open(tmp_path) as state:
            assert state.get_value("rate") == 2.5
            assert state.get_value("seen") == {"ids": ["a"]}


class TestErrors:
    """Every sqlite3 failure is a one-line StorageError naming the database."""

    def test_corrupt_file(self, tmp_path: Path) -> None:
        """Garbage in state.db is reported as a StorageError with the path."""
        db_path(tmp_path).parent.mkdir()
        db_path(tmp_path).write_bytes(b"this is not sqlite at all\n" * 200)
        with pytest.raises(StorageError) as caught:
            State.open(tmp_path)
        message = str(caught.value)
        assert str(db_path(tmp_path)) in message
        assert "not a database" in message
        assert "\n" not in message
        assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)

    def test_locked_database(self, tmp_path: Path) -> None:
        """A write while another connection holds the write lock fails as StorageError."""
        with State.open(tmp_path, timeout=0) as state:
            with closing(sqlite3.connect(db_path(tmp_path), isolation_level=None)) as other:
                other.execute("BEGIN IMMEDIATE")
                with pytest.raises(StorageError, match="locked") as caught:
                    state.record([rec()])
                assert str(db_path(tmp_path)) in str(caught.value)
                assert state.get("a1", "photo") is None  # WAL: reading still works
                other.execute("ROLLBACK")
            state.record([rec()])
            assert state.get("a1", "photo") == rec()

    def test_closed_state(self, tmp_path: Path) -> None:
        """Using a closed state raises StorageError, not a bare sqlite3 error."""
        state = State.open(tmp_path)
        state.close()
        with pytest.raises(StorageError, match="closed"):
            state.files()

    def test_unknown_kind_in_file(self, tmp_path: Path) -> None:
        """A row whose kind this version does not know is a StorageError, not a crash."""
        State.open(tmp_path).close()
        with closing(sqlite3.connect(db_path(tmp_path))) as conn:
            conn.execute("PRAGMA ignore_check_constraints = ON")
            conn.execute(
                "INSERT INTO files (asset_id, kind, relpath, first_seen, last_seen) "
                "VALUES ('a', 'hologram', 'a.x', 1, 1)"
            )
            conn.commit()
        with State.open(tmp_path) as state, pytest.raises(StorageError, match="hologram"):
            state.files()

    def test_unopenable_file(self, tmp_path: Path) -> None:
        """A state.db that cannot be opened (here a folder) is a StorageError."""
        db_path(tmp_path).mkdir(parents=True)
        with pytest.raises(StorageError, match="cannot open: unable to open"):
            State.open(tmp_path)
