"""The benchmarks' own plumbing: a killed benchmark leaves no emulator running; the
slow-disk benchmark's client downloads a whole frame."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from aura_async.emulator import Emulator
from benchmarks import slow_disk_client
from tests.conftest import write_config
from tests.test_downloader import expected_files, files_on_disk

ROOT = Path(__file__).resolve().parent.parent

_BENCHMARK = """
import time
from benchmarks.common import emulator_process
with emulator_process(["--photos", "1", "--videos", "0"]) as info:
    print(info.pid, flush=True)
    time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigterm_stops_the_emulator() -> None:
    """`kill` of a benchmark (a CI timeout) stops its emulator instead of orphaning it."""
    bench = subprocess.Popen(
        [sys.executable, "-c", _BENCHMARK], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert bench.stdout is not None
        emulator_pid = int(bench.stdout.readline())
        assert _alive(emulator_pid)
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(timeout=30) == 128 + signal.SIGTERM
        deadline = time.monotonic() + 10
        while _alive(emulator_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(emulator_pid)
    finally:
        bench.kill()
        bench.wait()
        if bench.stdout is not None:
            bench.stdout.close()


def test_the_slow_disk_client_downloads_the_whole_frame(
    threaded_emulator: Emulator, tmp_path: Path
) -> None:
    """benchmarks/slow_disk_client.py fetches every file intact through its slow disk, so
    the slow-disk benchmark times complete downloads."""
    config = write_config(threaded_emulator, tmp_path)
    argv = [str(config), "--latency", "0.001", "--sync-latency", "0.001"]
    assert slow_disk_client.main(argv) == 0
    assert files_on_disk(tmp_path / "photos") == expected_files(threaded_emulator)
