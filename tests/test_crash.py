"""A real aura-async process, killed or interrupted mid-download, then run again."""

from __future__ import annotations

import contextlib
import io
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aura_async.emulator import Emulator, EmulatorConfig, Faults, FrameSpec
from aura_async.emulator.thread import emulator_in_thread
from aura_async.models import MediaKind
from aura_async.store.records import FileRecord
from aura_async.store.state import State

from .conftest import first_frame_id, small_config, write_config
from .test_downloader import expected_files, files_on_disk


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return small_config(
        frames=[FrameSpec(photos=60, videos=2, live_photos=2, placeholders=1, hidden=0)],
        photo_size=256 * 1024,
        media_latency=0.05,
    )


def start(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aura_async",
            "--config",
            str(config),
            "myframe",
            "--rate",
            "0",
            "-j",
            "4",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_until(ready: Callable[[], bool], proc: subprocess.Popen[bytes], root: Path) -> None:
    """Poll the files in ``root`` that ``ready`` looks at until it says so (or the process
    ends)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        if ready():
            return
        time.sleep(0.02)
    # Not there: stop the run (no process left to the next test) and say what it printed.
    proc.kill()
    _, err = proc.communicate()
    tail = err.decode(errors="replace").strip().splitlines()[-5:]
    seen = sorted((p.name, p.stat().st_size) for p in root.glob("*") if p.is_file())
    raise AssertionError(
        f"the download never got where the test needs it: files {seen}\n" + "\n".join(tail)
    )


def wait_for_files(root: Path, count: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        done = [p for p in root.glob("*") if p.is_file() and not p.name.endswith(".part")]
        if len(done) >= count:
            return
        time.sleep(0.02)
    raise AssertionError("the download never got going")


def _still_or_clip_done(asset: dict[str, object], media: str, complete: set[str]) -> bool:
    """Whether the file of ``asset`` served as ``media`` was complete after the kill."""
    suffix = Path(media).suffix
    return any(name.endswith(f"_{asset['id']}{suffix}") for name in complete)


def test_sigkill_then_rerun(threaded_emulator: Emulator, tmp_path: Path) -> None:
    """After SIGKILL mid-run, a rerun completes every file byte-identical, fetching only
    what was missing, and leaves no .part."""
    config = write_config(threaded_emulator, tmp_path)
    root = tmp_path / "photos"
    proc = start(config)
    wait_for_files(root, 10, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    proc.communicate()
    expected = expected_files(threaded_emulator)
    after_kill = files_on_disk(root)
    complete = {n for n in after_kill if not n.endswith(".part")}
    assert 10 <= len(complete) < len(expected)
    for name in complete:  # the final names never hold a partial file, even after SIGKILL
        assert after_kill[name] == expected[name]

    threaded_emulator.counters.reset()
    rerun = start(config)
    _, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err.decode()
    assert files_on_disk(root) == expected
    complete_ids = {name.split("_", 1)[1].rsplit(".", 1)[0] for name in complete}
    frame = threaded_emulator.library.frames[first_frame_id(threaded_emulator)]
    refetched = [
        a["id"]
        for a in frame.assets
        for media in (a["file_name"], a["video_file_name"])
        if media
        and threaded_emulator.counters.files[media]
        and a["id"] in complete_ids
        and _still_or_clip_done(a, media, complete)
    ]
    assert refetched == []  # nothing already complete was fetched again


def test_ctrl_c_keeps_parts_and_prints_the_summary(
    threaded_emulator: Emulator, tmp_path: Path
) -> None:
    """SIGINT stops cleanly: exit 130, a summary line, and no partial file under a final name."""
    config = write_config(threaded_emulator, tmp_path)
    root = tmp_path / "photos"
    proc = start(config)
    wait_for_files(root, 5, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    text = err.decode()
    assert proc.returncode == 130, text
    lines = text.strip().splitlines()
    assert "interrupted: downloaded files are kept; the next run fetches the rest" in lines[-1]
    assert "downloaded" in lines[-2]
    assert "interrupted" in lines[-2]
    assert "Traceback" not in text
    expected = expected_files(threaded_emulator)
    for name, data in files_on_disk(root).items():
        if not name.endswith(".part"):
            assert data == expected[name]


def test_sigterm_stops_like_ctrl_c(threaded_emulator: Emulator, tmp_path: Path) -> None:
    """SIGTERM (systemctl stop, timeout) ends the run as Ctrl-C does: exit 130, a summary."""
    config = write_config(threaded_emulator, tmp_path)
    proc = start(config)
    wait_for_files(tmp_path / "photos", 5, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    text = err.decode()
    assert proc.returncode == 130, text
    assert "interrupted" in text.strip().splitlines()[-2]


def _read_until(proc: subprocess.Popen[bytes], needle: str, timeout: float) -> str:
    """stderr of ``proc`` up to the line holding ``needle`` (the process keeps running)."""
    assert proc.stderr is not None
    os.set_blocking(proc.stderr.fileno(), False)
    seen = b""
    deadline = time.monotonic() + timeout
    while needle.encode() not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            raise AssertionError(f"no {needle!r} on stderr; got:\n{seen.decode()}")
        select.select([proc.stderr], [], [], left)  # until it writes (or the deadline)
        seen += proc.stderr.read() or b""
    return seen.decode()


def _wait_until_reading(proc: subprocess.Popen[bytes], path: Path, timeout: float) -> None:
    """Until ``proc`` has ``path`` open and has read some of it (Linux's /proc fdinfo);
    elsewhere, at once."""
    fds = Path(f"/proc/{proc.pid}/fd")
    if not fds.is_dir():
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        for fd in fds.iterdir():
            with contextlib.suppress(OSError):
                if fd.readlink() == path.resolve():
                    fdinfo = (fds.parent / "fdinfo" / fd.name).read_text()
                    if int(fdinfo.split("pos:", 1)[1].split()[0]) > 0:
                        return
        time.sleep(0.01)
    raise AssertionError(f"{path} was never read")


def _wait_for_blocked_fifo_open(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Until a thread of ``proc`` waits in the kernel to open a FIFO (Linux's wchan)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        for task in Path(f"/proc/{proc.pid}/task").glob("*"):
            with contextlib.suppress(OSError):
                if (task / "wchan").read_text() == "wait_for_partner":
                    return
        time.sleep(0.02)
    raise AssertionError("no thread ever blocked on the FIFO")


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads Linux's /proc")
def test_a_hung_disk_write_cannot_hold_ctrl_c(threaded_emulator: Emulator, tmp_path: Path) -> None:
    """A disk write that never ends (here the listing's --save-assets file, opened as a FIFO
    nobody reads: a worker thread waits in it for ever, as on a share that stopped
    answering) still lets Ctrl-C print the summary; the wait for it is explained, and a
    second Ctrl-C quits at once with 130."""
    config = write_config(threaded_emulator, tmp_path)
    listing = tmp_path / "assets.json"
    os.mkfifo(listing.with_name("assets.json.part"))
    command = [sys.executable, "-m", "aura_async", "--config", str(config), "myframe"]
    proc = subprocess.Popen([*command, "--save-assets", str(listing)], stderr=subprocess.PIPE)
    try:
        _wait_for_blocked_fifo_open(proc, timeout=30)
        proc.send_signal(signal.SIGINT)
        text = _read_until(proc, "Ctrl-C to quit now", timeout=20)
        summary = [line for line in text.splitlines() if "myframe: 0 downloaded" in line]
        assert len(summary) == 1
        assert summary[0].endswith("(interrupted)")
        assert "interrupted: downloaded files are kept; the next run fetches the rest" in text
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
        assert proc.stderr is not None
        text += (proc.stderr.read() or b"").decode()
        assert "quit without waiting for the disk" in text
        assert "Traceback" not in text
    finally:
        proc.kill()
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def test_ctrl_c_during_verify(tmp_path: Path) -> None:
    """Ctrl-C while --verify hashes a big file: one line and 130, no traceback."""
    folder = tmp_path / "photos"
    folder.mkdir()
    big = folder / "big.mp4"
    size = 64 * 1024**3  # sparse: no disk used, yet hashing it takes far longer than a second
    with big.open("wb") as handle:
        handle.truncate(size)
    with State.open(folder) as state:
        state.record([FileRecord("v1", MediaKind.VIDEO, "big.mp4", 1.0, 1.0, size, "0" * 64)])
    config = tmp_path / "aura.ini"
    config.write_text(
        "[login]\nemail = a@b.c\npassword = pw-1234\n\n"
        f"[myframe]\nframe_id = f1\nfile_path = {folder}\n"
    )
    command = [sys.executable, "-m", "aura_async", "--config", str(config), "myframe"]
    proc = subprocess.Popen([*command, "--verify"], stderr=subprocess.PIPE)
    try:
        text = _read_until(proc, "myframe: verifying", timeout=30)
        _wait_until_reading(proc, big, timeout=30)  # into the hashing, which takes far longer
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        assert proc.stderr is not None
        text += (proc.stderr.read() or b"").decode()
    finally:
        proc.kill()
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    assert proc.returncode == 130, text
    assert text.strip().endswith("interrupted: --verify only reads, nothing was changed")
    assert "Traceback" not in text


def test_a_reader_going_away_never_stops_the_download(
    threaded_emulator: Emulator, tmp_path: Path
) -> None:
    """`aura-async ... 2>&1 | head -1`: the pipe closes, the run still fetches every file."""
    import os

    config = write_config(threaded_emulator, tmp_path)
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aura_async", "--config", str(config), "myframe", "--rate", "0"],
        stdout=write_end,
        stderr=write_end,
    )
    os.close(write_end)
    os.read(read_end, 100)
    os.close(read_end)  # the reader is gone, like `head` after one line
    assert proc.wait(timeout=60) == 0
    assert files_on_disk(tmp_path / "photos") == expected_files(threaded_emulator)


def test_sighup_stops_like_ctrl_c(tmp_path: Path) -> None:
    """SIGHUP (the SSH session closed) ends the run as Ctrl-C does: the summary, exit 130,
    finished files complete under their names and unfinished ones only as .part."""
    # Seed 12 stalls the 4th to 7th media requests half-way (1.5 of 3 MiB): three photos
    # finish, then all four workers hang in a body, each with 1 MiB in its .part.
    config = small_config(
        frames=[FrameSpec(photos=12, videos=0, live_photos=0, placeholders=0, hidden=0)],
        photo_size=3 * 1024 * 1024,
        faults=Faults(seed=12, stall=0.4, stall_seconds=30),
    )
    with emulator_in_thread(config) as emu:
        root = tmp_path / "photos"
        # A run started as usual: SIGHUP at its default, even when the tests themselves run
        # under nohup (which the run would respect: see the test below).
        previous = signal.signal(signal.SIGHUP, signal.SIG_DFL)
        try:
            proc = start(write_config(emu, tmp_path))
        finally:
            signal.signal(signal.SIGHUP, previous)

        def hung() -> bool:
            sizes = {p.name: p.stat().st_size for p in root.glob("*") if p.is_file()}
            parts = [size for name, size in sizes.items() if name.endswith(".part")]
            # each .part has its first 1 MiB batch written: up to a buffer of it may still
            # be in the writer's file object (Python buffers by the file system's block
            # size; flushed when the run closes the file, and checked below)
            written = 2**20 - max(io.DEFAULT_BUFFER_SIZE, tmp_path.stat().st_blksize)
            return len(sizes) - len(parts) == 3 and len(parts) == 4 and min(parts) >= written

        wait_until(hung, proc, root)
        proc.send_signal(signal.SIGHUP)
        _, err = proc.communicate(timeout=20)
        expected = expected_files(emu)
    text = err.decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text
    lines = text.strip().splitlines()
    assert "interrupted: downloaded files are kept; the next run fetches the rest" in lines[-1]
    assert "myframe: 3 downloaded" in lines[-2]
    assert lines[-2].endswith("interrupted)")
    on_disk = files_on_disk(root)
    finished = {name for name in on_disk if not name.endswith(".part")}
    assert len(finished) == 3
    for name in finished:  # a final name only ever holds the whole file
        assert on_disk[name] == expected[name]
    parts = set(on_disk) - finished
    assert len(parts) == 4
    for name in parts:  # the others only as .part, each a start of its file
        final = name.removesuffix(".part")
        assert final in expected
        assert len(on_disk[name]) >= 2**20
        assert expected[final].startswith(on_disk[name])


NOHUP = shutil.which("nohup")


@pytest.mark.skipif(NOHUP is None, reason="needs the nohup command")
def test_a_run_under_nohup_ignores_sighup(threaded_emulator: Emulator, tmp_path: Path) -> None:
    """A run started with SIGHUP ignored (nohup) keeps ignoring it: the session closing
    mid-download changes nothing, every file arrives, exit 0."""
    config = write_config(threaded_emulator, tmp_path)
    root = tmp_path / "photos"
    command = [sys.executable, "-m", "aura_async", "--config", str(config), "myframe"]
    proc = subprocess.Popen(
        [str(NOHUP), *command, "--rate", "0", "-j", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    wait_for_files(root, 5, proc)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert "interrupted" not in err.decode()
    assert files_on_disk(root) == expected_files(threaded_emulator)


@pytest.mark.parametrize("json_out", [[], ["--json"]], ids=["progress bar", "json"])
def test_a_closed_terminal_never_stops_the_download(
    threaded_emulator: Emulator, tmp_path: Path, json_out: list[str]
) -> None:
    """A run whose terminal went away without a SIGHUP (a job left running in the
    background: stdout and stderr a pty whose other end is closed, every write fails with
    EIO) still fetches every file and exits 0, progress bar or --json."""
    config = write_config(threaded_emulator, tmp_path)
    master, slave = os.openpty()
    command = [sys.executable, "-m", "aura_async", "--config", str(config), "myframe"]
    proc = subprocess.Popen(
        [*command, "--rate", "0", *json_out],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    try:
        assert os.read(master, 100)  # the run has begun writing to its terminal
    finally:
        os.close(master)  # the terminal is gone: every later write fails with EIO
    assert proc.wait(timeout=60) == 0
    assert files_on_disk(tmp_path / "photos") == expected_files(threaded_emulator)
