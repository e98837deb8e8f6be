"""store/lock.py: one run per folder, the holder named, released by the OS when a run dies."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from aura_async.exceptions import LockHeld, StorageError
from aura_async.store.lock import FolderLock
from aura_async.store.state import STATE_DIR

_HOLDER = """
import sys
from pathlib import Path
from aura_async.store.lock import FolderLock
FolderLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
sys.stdin.read()
"""


def test_second_holder_is_refused_with_a_name(tmp_path: Path) -> None:
    """While one lock is held, a second fails naming the holder; after release it works."""
    with FolderLock(tmp_path), pytest.raises(LockHeld, match=r"pid \d+ on "):
        FolderLock(tmp_path).acquire()
    with FolderLock(tmp_path):
        pass


def test_the_lock_file_names_its_holder(tmp_path: Path) -> None:
    """The lock lives in the folder's .aura-async/ and says which process on which host
    holds it; LockHeld carries that description."""
    with FolderLock(tmp_path) as lock:
        assert lock.path == tmp_path / STATE_DIR / "lock"
        holder = f"pid {os.getpid()} on {socket.gethostname()}"
        assert lock.path.read_text() == holder
        with pytest.raises(LockHeld) as info:
            FolderLock(tmp_path).acquire()
    assert info.value.holder == holder
    assert str(tmp_path) in str(info.value)


@pytest.mark.skipif(sys.platform == "win32", reason="takes the lock with flock")
def test_a_holder_that_wrote_nothing_is_an_unknown_process(tmp_path: Path) -> None:
    """A lock held by something that left the file empty is still refused, said plainly."""
    import fcntl

    path = tmp_path / STATE_DIR / "lock"
    path.parent.mkdir()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(LockHeld, match=r"another aura-async run \(unknown process\)"):
            FolderLock(tmp_path).acquire()
    finally:
        os.close(fd)


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    """A run killed with SIGKILL (no cleanup at all) never blocks the next run."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"held\n"
        with pytest.raises(LockHeld, match=rf"pid {proc.pid} on "):
            FolderLock(tmp_path).acquire()
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        with FolderLock(tmp_path) as lock:
            assert lock.path.read_text().startswith(f"pid {os.getpid()} on ")
    finally:
        proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


def test_release_is_idempotent_and_keeps_the_file(tmp_path: Path) -> None:
    """Releasing twice, or a lock never taken, is harmless; the lock file stays."""
    lock = FolderLock(tmp_path)
    lock.release()
    lock.acquire()
    lock.release()
    lock.release()
    assert lock.path.is_file()
    with FolderLock(tmp_path):
        pass


def test_released_on_an_error_inside_the_block(tmp_path: Path) -> None:
    """An error inside ``with FolderLock(...)`` still lets the lock go."""
    with pytest.raises(RuntimeError), FolderLock(tmp_path):
        raise RuntimeError("boom")
    with FolderLock(tmp_path):
        pass


def test_a_folder_that_cannot_hold_the_lock_is_a_storage_error(tmp_path: Path) -> None:
    """When the lock file cannot be created (the folder is a file), the error says where."""
    folder = tmp_path / "photos"
    folder.write_bytes(b"not a folder")
    with pytest.raises(StorageError, match=r"cannot create lock file .*photos"):
        FolderLock(folder).acquire()
