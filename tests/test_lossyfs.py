"""The lossy FUSE filesystem of the power-cut tests: what a cut keeps, and that it behaves
like a filesystem until then (tests/lossyfs.py)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import LossyFactory
from .lossyfs import is_mounted, sync_dir, sync_file

DATA = bytes(range(256)) * 1000  # 256,000 bytes: several FUSE writes


def write(path: Path, data: bytes = DATA, *, fsync: bool = False) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        if fsync:
            os.fsync(handle.fileno())


class TestWhatACutKeeps:
    def test_a_file_never_synced_whose_name_never_was_is_gone(self, lossy: LossyFactory) -> None:
        """Written without any fsync, a new file is gone after a cut."""
        fs = lossy()
        write(fs.mountpoint / "photo.jpg")
        fs.reboot()
        assert not (fs.mountpoint / "photo.jpg").exists()

    def test_a_file_never_synced_comes_back_empty_under_a_durable_name(
        self, lossy: LossyFactory
    ) -> None:
        """A durable name (directory fsynced) whose file was never fsynced holds 0 bytes."""
        fs = lossy()
        write(fs.mountpoint / "photo.jpg")
        sync_dir(fs.mountpoint)
        fs.reboot()
        assert (fs.mountpoint / "photo.jpg").read_bytes() == b""

    def test_a_rename_without_a_directory_fsync_is_lost(self, lossy: LossyFactory) -> None:
        """fsync the file, rename, no directory fsync: after a cut the final name is
        missing and the bytes are whole under the old name."""
        fs = lossy()
        part, final = fs.mountpoint / "photo.jpg.part", fs.mountpoint / "photo.jpg"
        write(part, fsync=True)
        sync_dir(fs.mountpoint)
        part.replace(final)
        assert final.read_bytes() == DATA  # until the cut, the rename is there
        fs.reboot()
        assert not final.exists()
        assert part.read_bytes() == DATA

    def test_the_durable_commit_keeps_the_final_name_with_every_byte(
        self, lossy: LossyFactory
    ) -> None:
        """fsync the file, rename, fsync the directory: after a cut the final name holds
        every byte and the old name is gone."""
        fs = lossy()
        part, final = fs.mountpoint / "photo.jpg.part", fs.mountpoint / "photo.jpg"
        write(part, fsync=True)
        part.replace(final)
        sync_dir(fs.mountpoint)
        fs.reboot()
        assert final.read_bytes() == DATA
        assert not part.exists()

    def test_only_the_last_fsynced_bytes_survive(self, lossy: LossyFactory) -> None:
        """Writes after the last fsync (an append, an overwrite, a truncate) are lost."""
        fs = lossy()
        path = fs.mountpoint / "state"
        write(path, b"first", fsync=True)
        sync_dir(fs.mountpoint)
        with path.open("r+b") as handle:
            handle.write(b"FIRST and more")
        fs.reboot()
        assert path.read_bytes() == b"first"
        os.truncate(path, 0)
        fs.reboot()
        assert path.read_bytes() == b"first"

    def test_an_unlink_needs_a_directory_fsync(self, lossy: LossyFactory) -> None:
        """An unlinked durable file is back after a cut, unless its directory was fsynced."""
        fs = lossy()
        path = fs.mountpoint / "photo.jpg"
        write(path, fsync=True)
        sync_dir(fs.mountpoint)
        path.unlink()
        fs.reboot()
        assert path.read_bytes() == DATA
        path.unlink()
        sync_dir(fs.mountpoint)
        fs.reboot()
        assert not path.exists()

    def test_a_directory_never_synced_comes_back_empty(self, lossy: LossyFactory) -> None:
        """A subdirectory whose own entries were never fsynced is empty after a cut, even
        if its name and its files' bytes were durable."""
        fs = lossy()
        folder = fs.mountpoint / "2024"
        folder.mkdir()
        write(folder / "photo.jpg", fsync=True)
        sync_dir(fs.mountpoint)
        fs.reboot()
        assert folder.is_dir()
        assert list(folder.iterdir()) == []

    def test_a_hard_link_shares_the_inode_and_survives_with_it(self, lossy: LossyFactory) -> None:
        """os.link gives a second name of the same inode; both survive a directory fsync."""
        fs = lossy()
        first, second = fs.mountpoint / "a.jpg", fs.mountpoint / "b.jpg"
        write(first, fsync=True)
        os.link(first, second)
        assert first.stat().st_ino == second.stat().st_ino
        assert second.stat().st_nlink == 2
        sync_dir(fs.mountpoint)
        fs.reboot()
        assert first.read_bytes() == second.read_bytes() == DATA
        assert first.stat().st_ino == second.stat().st_ino

    def test_sync_makes_nothing_durable(self, lossy: LossyFactory) -> None:
        """sync(2) reaches no FUSE server: only fsync makes a file's bytes durable."""
        fs = lossy()
        write(fs.mountpoint / "photo.jpg")
        sync_dir(fs.mountpoint)
        os.sync()
        fs.reboot()
        assert (fs.mountpoint / "photo.jpg").read_bytes() == b""

    def test_a_clean_unmount_keeps_everything(self, lossy: LossyFactory) -> None:
        """fusermount3 -u syncs what was never fsynced, as a real unmount does."""
        fs = lossy()
        (fs.mountpoint / "2024").mkdir()
        write(fs.mountpoint / "2024" / "photo.jpg")
        fs.unmount()
        fs.mount()
        assert (fs.mountpoint / "2024" / "photo.jpg").read_bytes() == DATA

    def test_what_survived_survives_further_cuts(self, lossy: LossyFactory) -> None:
        """Durable state carries over several reboots, and new inodes never reuse a
        surviving one's number."""
        fs = lossy()
        write(fs.mountpoint / "a", b"a", fsync=True)
        sync_dir(fs.mountpoint)
        fs.reboot()
        fs.reboot()
        write(fs.mountpoint / "b", b"b", fsync=True)
        sync_dir(fs.mountpoint)
        assert (fs.mountpoint / "a").stat().st_ino != (fs.mountpoint / "b").stat().st_ino
        fs.reboot()
        assert (fs.mountpoint / "a").read_bytes() == b"a"
        assert (fs.mountpoint / "b").read_bytes() == b"b"


class TestJournal:
    def test_an_fsync_elsewhere_commits_a_rename_but_not_the_bytes(
        self, lossy: LossyFactory
    ) -> None:
        """ext4 with delayed allocation: any fsync commits every rename, not the renamed
        file's bytes, so the final name comes back with zero length."""
        fs = lossy(journal_interval=3600.0)  # no timer commit in this test: only the fsync
        part, final = fs.mountpoint / "photo.jpg.part", fs.mountpoint / "photo.jpg"
        write(part)
        part.replace(final)
        write(fs.mountpoint / "state.db", b"row", fsync=True)
        fs.reboot()
        assert final.exists()
        assert final.stat().st_size == 0
        assert (fs.mountpoint / "state.db").read_bytes() == b"row"

    def test_the_commit_timer_makes_renames_durable(self, lossy: LossyFactory) -> None:
        """Without any fsync, the journal's timer commits a new name (with no bytes)."""
        fs = lossy(journal_interval=0.01)
        final = fs.mountpoint / "photo.jpg"
        write(final)
        meta = fs.store / "meta.json"
        deadline = time.monotonic() + 5
        while '"photo.jpg"' not in meta.read_text():
            assert time.monotonic() < deadline, "the journal never committed"
            time.sleep(0.005)
        fs.reboot()
        assert final.exists()
        assert final.read_bytes() == b""


class TestBehavesLikeAFilesystem:
    def test_reads_writes_and_metadata_work_before_a_cut(self, lossy: LossyFactory) -> None:
        """Offsets, truncation, rename over a file, mkdir/rmdir, chmod and utime behave as
        on a local disk."""
        root = lossy().mountpoint
        path = root / "f"
        write(path, b"0123456789")
        with path.open("r+b") as handle:
            handle.seek(20)
            handle.write(b"x")
            handle.seek(2)
            assert handle.read(3) == b"234"
        assert path.stat().st_size == 21
        assert path.read_bytes()[10:20] == bytes(10)
        os.truncate(path, 4)
        assert path.read_bytes() == b"0123"
        write(root / "g", b"other")
        (root / "g").replace(path)
        assert path.read_bytes() == b"other"
        assert sorted(p.name for p in root.iterdir()) == ["f"]
        path.chmod(0o600)
        assert path.stat().st_mode & 0o777 == 0o600
        os.utime(path, (1_000_000_000, 1_500_000_000.25))
        assert path.stat().st_mtime == 1_500_000_000.25
        (root / "d").mkdir()
        (root / "d" / "inner").write_bytes(b"")
        with pytest.raises(OSError, match="not empty") as info:
            (root / "d").rmdir()
        assert info.value.errno == errno.ENOTEMPTY
        (root / "d" / "inner").unlink()
        (root / "d").rmdir()
        assert not (root / "d").exists()

    def test_an_unlinked_open_file_stays_usable(self, lossy: LossyFactory) -> None:
        """A file unlinked while open can still be written and read through its descriptor,
        and leaves no .fuse_hidden name (fstat of it fails: see the module docstring)."""
        root = lossy().mountpoint
        with (root / "temp").open("w+b") as handle:
            (root / "temp").unlink()
            handle.write(b"still here")
            handle.flush()
            handle.seek(0)
            assert handle.read() == b"still here"
            assert list(root.iterdir()) == []

    def test_flock_is_exclusive_and_a_reboot_frees_it(self, lossy: LossyFactory) -> None:
        """flock (aura-async's folder lock) excludes a second holder on the mount; the kernel
        keeps it locally, so it is gone with the mount after a cut."""
        fs = lossy()
        lock = fs.mountpoint / "lock"
        write(lock, b"")
        sync_dir(fs.mountpoint)
        holder = os.open(lock, os.O_RDWR)
        other = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            probe = [sys.executable, "-c", _TRY_FLOCK, str(lock)]
            assert subprocess.run(probe, check=False).returncode == 1  # another process too
        finally:
            os.close(other)
            fs.reboot()
            with contextlib.suppress(OSError):  # its mount is gone: ENOTCONN, yet closed
                os.close(holder)
        again = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(again, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(again)

    def test_sqlite_in_wal_mode_keeps_what_it_synced(self, lossy: LossyFactory) -> None:
        """SQLite's own fsyncs (WAL, database, directory) work: a commit with
        synchronous=FULL by a process killed in the cut survives, and the database passes
        its integrity check."""
        fs = lossy()
        path = fs.mountpoint / "state.db"
        # SQLite maps -shm: a process holding it must not outlive the mount (SIGBUS)
        writer = subprocess.Popen(
            [sys.executable, "-c", _COMMIT_AND_WAIT, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        try:
            assert writer.stdout is not None
            assert writer.stdout.readline() == b"committed\n"
            assert sorted(p.name for p in fs.mountpoint.iterdir()) == [
                "state.db",
                "state.db-shm",
                "state.db-wal",
            ]
            writer.send_signal(signal.SIGSTOP)
            fs.reboot()
        finally:
            writer.kill()
            writer.communicate()
        db = sqlite3.connect(path)
        try:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert db.execute("SELECT x FROM t").fetchall() == [(1,)]
        finally:
            db.close()

    def test_fsync_of_a_file_and_a_directory_succeeds(self, lossy: LossyFactory) -> None:
        """fsync, fdatasync and a directory fsync return without error (no ENOSYS)."""
        root = lossy().mountpoint
        write(root / "f", b"x")
        sync_file(root / "f")
        fd = os.open(root / "f", os.O_RDONLY)
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)
        sync_dir(root)


class TestHarness:
    def test_nothing_stays_mounted_after_a_cut_or_a_dead_server(
        self, lossy: LossyFactory, tmp_path: Path
    ) -> None:
        """cut() unmounts, and close() cleans up after a server that died by itself."""
        fs = lossy()
        fs.cut()
        assert not is_mounted(fs.mountpoint)
        fs.mount()
        assert fs._proc is not None
        fs._proc.kill()  # the server dies on its own: auto_unmount removes the mount
        fs._proc.wait()
        fs.close()
        assert not is_mounted(fs.mountpoint)

    def test_a_mount_is_visible_in_mountinfo(self, lossy: LossyFactory) -> None:
        """While served, the mount point is a fuse.lossyfs mount."""
        fs = lossy()
        assert is_mounted(fs.mountpoint)
        assert "fuse.lossyfs" in Path("/proc/self/mountinfo").read_text()


_TRY_FLOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    sys.exit(1)
"""

_COMMIT_AND_WAIT = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode = WAL")
db.execute("PRAGMA synchronous = FULL")
db.execute("CREATE TABLE t (x)")
db.execute("INSERT INTO t VALUES (1)")
print("committed", flush=True)
sys.stdin.read()  # until killed
"""
