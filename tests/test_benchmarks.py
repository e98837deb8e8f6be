"""The benchmarks' own plumbing: a killed benchmark leaves no emulator running; the
slow-disk benchmark's client downloads a whole frame; the throttling sweep prints its rows,
serves every file once, and writes Retry-After as the emulator does."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from email.utils import formatdate
from pathlib import Path

import aiohttp
import pytest

from aura_async.emulator import Emulator, FixedWindow, LongWait, RetryAfterMode, TokenBucket
from benchmarks import common, slow_disk_client, throttle_sweep
from benchmarks.throttle_sweep import Settings, Variant
from tests.conftest import small_config, write_config
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


def test_the_sweep_prints_a_row_per_variant_and_a_summary_per_mode(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A small sweep prints one row per policy variant and mode (18 token buckets, 2 long
    waits), then one summary row per policy and mode."""
    argv = ["--photos", "60", "--policies", "bucket,long", "--modes", "seconds,none"]
    status = throttle_sweep.main(argv)
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines if line.startswith(("bucket ", "long "))]
    variants = [r for r in rows if r[1][0].isdigit()]  # "20/s burst 5", "200 per 60 s"
    summary = [r for r in rows if not r[1][0].isdigit()]
    assert len(variants) == (18 + 2) * 2
    assert sum(1 for r in variants if r[:3] == ["bucket", "20/s", "burst"]) == 3 * 2
    assert [r[:2] for r in summary] == [
        ["bucket", "seconds"],
        ["bucket", "none"],
        ["long", "seconds"],
        ["long", "none"],
    ]
    assert [r[2] for r in summary] == ["18", "18", "2", "2"]  # variants per row
    assert status == (1 if any("MISS" in line for line in lines) else 0)


@pytest.mark.parametrize("mode", ["seconds", "none"])
def test_a_throttled_variant_serves_every_file_exactly_once(mode: RetryAfterMode) -> None:
    """Against a fixed window that throttles, the simulated pool fetches each file once:
    the server served every file exactly once, and its requests are the gate's served
    plus refused ones."""
    photos = 60
    variant = Variant("fixed", FixedWindow(quota=20, window=5.0), mode)
    outcome = throttle_sweep.simulate(variant, Settings(photos=photos))
    assert outcome.throttled > 0
    assert outcome.served == [1] * photos
    assert outcome.admitted == photos
    assert outcome.requests == photos + outcome.throttled == outcome.admitted + outcome.refused
    assert outcome.elapsed >= 10.0  # three windows of 20: two waits of 5 s
    assert throttle_sweep.bookkeeping(outcome, photos) == []


def test_the_bookkeeping_finds_a_file_served_twice() -> None:
    """The sweep's bookkeeping check fails a run where one file was served twice and
    another never."""
    variant = Variant("bucket", TokenBucket(rate=50.0, burst=5), "seconds")
    outcome = throttle_sweep.simulate(variant, Settings(photos=10))
    assert throttle_sweep.bookkeeping(outcome, 10) == []
    outcome.served[0], outcome.served[1] = 2, 0
    assert throttle_sweep.bookkeeping(outcome, 10) == ["2 files not served exactly once (first: 0)"]


def test_a_run_past_max_wait_gives_up() -> None:
    """A wait past --max-wait stops every worker, as WaitedTooLong stops the real run, and
    the requests cut short on their way count nowhere (the counts still agree)."""
    variant = Variant("long", LongWait(quota=20, period=300.0), "seconds")
    outcome = throttle_sweep.simulate(variant, Settings(photos=150, max_wait=1800.0))
    assert outcome.gave_up is not None
    assert "--max-wait" in outcome.gave_up
    assert sum(outcome.served) == 20 * 7  # seven windows served, the eighth past --max-wait
    assert throttle_sweep.bookkeeping(outcome, 150) == []


@pytest.mark.parametrize("mode", ["seconds", "fractional", "date", "none"])
async def test_the_sweep_writes_retry_after_as_the_emulator_does(mode: RetryAfterMode) -> None:
    """The sweep's Retry-After for a wait is the emulator's header for the same wait at the
    same wall-clock time, in every mode."""
    wall = 1_700_000_000.37
    config = small_config()
    config.throttle.policy = FixedWindow(quota=1, window=7.3)
    config.throttle.retry_after = mode
    emu = Emulator(config, clock=lambda: 100.0, wallclock=lambda: wall)
    async with emu, aiohttp.ClientSession() as session:
        name = next(iter(emu.library.images))
        headers = []
        for _ in range(2):
            async with session.get(f"{emu.image_url}/u/{name}") as response:
                headers.append(response.headers.get("Retry-After"))
    assert headers[0] is None
    assert headers[1] == throttle_sweep.retry_after_header(mode, 7.3, wall)
    if mode == "date":
        assert headers[1] == formatdate(1_700_000_008, usegmt=True)


def test_the_sweep_reads_a_policy_without_evaluating_it() -> None:
    """--trace takes a policy as a call of its class or short name, literals only."""
    assert throttle_sweep.parse_policy("bucket(20, burst=1)") == ("bucket", TokenBucket(20, 1))
    assert throttle_sweep.parse_policy("FixedWindow(quota=100, window=10)") == (
        "fixed",
        FixedWindow(100, 10),
    )
    with pytest.raises(ValueError, match="unknown policy"):
        throttle_sweep.parse_policy("__import__('os')")
    with pytest.raises(ValueError, match="bad arguments"):
        throttle_sweep.parse_policy("bucket(rate=len('x'))")


def test_the_virtual_loop_jumps_to_the_next_timer_and_finds_a_deadlock() -> None:
    """The sweep's loop runs an hour's sleep at once, its clock an hour on, and raises
    instead of spinning when every task waits for something no timer will bring."""

    async def sleep_an_hour() -> float:
        await asyncio.sleep(3600)
        return asyncio.get_running_loop().time()

    async def wait_forever() -> None:
        await asyncio.Event().wait()

    started = time.monotonic()
    with asyncio.Runner(loop_factory=throttle_sweep.VirtualLoop) as runner:
        assert runner.run(sleep_an_hour()) == 3600.0
        with pytest.raises(throttle_sweep.Deadlock):
            runner.run(wait_forever())
    assert time.monotonic() - started < 5


def _fake_aura_async(tmp_path: Path, says: str) -> str:
    script = tmp_path / "aura-async"
    script.write_text(f"#!/bin/sh\necho '{says}'\n", encoding="utf-8")
    script.chmod(0o755)
    return str(script)


def test_a_benchmark_says_when_it_would_measure_another_checkout(tmp_path: Path) -> None:
    """The ``aura-async`` a benchmark runs says where its package is (``--version``): one
    from another checkout gets a warning (a venv's editable install of it was measured
    silently); this checkout's, and the real command's, none."""
    ours = ROOT / "aura_async"
    elsewhere = _fake_aura_async(
        tmp_path, "aura-async 0.1.0 from /elsewhere/aura_async (Python 3.11)"
    )
    warning = common.other_install(elsewhere, ours)
    assert warning is not None
    assert "/elsewhere/aura_async" in warning
    assert str(ours) in warning
    here = _fake_aura_async(tmp_path, f"aura-async 0.1.0 from {ours} (Python 3.11)")
    assert common.other_install(here, ours) is None
    mute = _fake_aura_async(tmp_path, "aura-async 0.1.0")
    assert "does not say where" in (common.other_install(mute, ours) or "")
    real = [sys.executable, "-m", "aura_async", "--version"]
    said = subprocess.run(real, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert said.startswith("aura-async ")
    assert f" from {ours} (Python " in said
