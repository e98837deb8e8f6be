"""Power cuts during a real aura-async run on a disk that loses what was never synced
(tests/lossyfs.py), then a reboot and two normal runs."""

from __future__ import annotations

import itertools
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aura_async.emulator import Emulator, EmulatorConfig, FrameSpec

from .conftest import LossyFactory, first_frame_id, small_config
from .lossyfs import LossyMount, sync_dir
from .test_downloader import expected_files

SEED = 20261201  # the cut points; change it to explore others
JOURNAL = 0.05  # ext4 commits metadata every 5 s; one run here lasts about a second


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """33 files of 40-64 KiB, served a little slowly, so that a run lasts long enough to
    be cut at several points."""
    return small_config(
        frames=[FrameSpec(photos=24, videos=2, live_photos=2, placeholders=1, hidden=1)],
        photo_size=64 * 1024,
        media_latency=0.02,
    )


def start(config: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "aura_async", "--config", str(config), "myframe"]
    return subprocess.Popen(
        [*command, "--rate", "0", "-j", "4"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def final_files(folder: Path) -> dict[str, Path]:
    """The final files under ``folder`` by relative path: not hidden, not ``.part``."""
    return {
        path.relative_to(folder).as_posix(): path
        for path in folder.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
        and not path.name.endswith(".part")
    }


def final_names(folder: Path) -> int:
    """How many final names the (flat) folder lists: one readdir, no stat per file, so the
    poll lags the run as little as it can."""
    names = [path.name for path in folder.iterdir()]
    return sum(not n.startswith(".") and not n.endswith(".part") for n in names)


def wait_for_final_files(folder: Path, count: int, proc: subprocess.Popen[bytes]) -> None:
    """Until ``count`` files have their final names, or the run has ended."""
    deadline = time.monotonic() + 30
    while final_names(folder) < count and proc.poll() is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {count} files ever got their final names")
        time.sleep(0.005)


def damage(folder: Path, expected: dict[str, bytes], *, complete: bool) -> dict[str, list[str]]:
    """What is wrong in ``folder``, by kind: final names holding nothing, or other bytes
    than the server's, or no file of this frame; if ``complete``, also files missing and
    ``.part`` files left."""
    bad: dict[str, list[str]] = {"empty": [], "wrong bytes": [], "unexpected": []}
    present = final_files(folder)
    for name, path in sorted(present.items()):
        data = path.read_bytes()
        if name not in expected:
            bad["unexpected"].append(name)
        elif not data:
            bad["empty"].append(name)
        elif data != expected[name]:
            bad["wrong bytes"].append(f"{name} ({len(data)} of {len(expected[name])} bytes)")
    if complete:
        bad["missing"] = sorted(set(expected) - set(present))
        bad[".part left"] = sorted(
            p.relative_to(folder).as_posix() for p in folder.rglob("*.part") if p.is_file()
        )
    return bad


def describe(bad: dict[str, list[str]]) -> str:
    listed = [f"{len(names)} {kind}: {', '.join(names)}" for kind, names in bad.items() if names]
    return "; ".join(listed) or "fine"


def cut_points(total: int) -> list[int | None]:
    """After how many final files each run loses power: one in each third of the run,
    then ``None``, just after a complete run."""
    rng = random.Random(SEED)
    bounds = [1, total // 3, 2 * total // 3, total]
    points = [rng.randint(low, max(low, high - 1)) for low, high in itertools.pairwise(bounds)]
    return [*points, None]


def add_duplicates(emu: Emulator) -> None:
    """Two photos with another's md5: aura-async hard-links them (os.link, then rename)."""
    frame = emu.library.frames[first_frame_id(emu)]
    stills = [a for a in frame.assets if a["file_name"] and not a["video_url"]]
    stills = [a for a in stills if a["id"] not in frame.hidden_ids]
    for source in stills[:2]:
        emu.library.add_asset(frame, "photo", md5_of=source["id"])


def run_and_cut(fs: LossyMount, config: Path, folder: Path, count: int | None) -> str:
    """Run aura-async and cut the power after ``count`` final files (or after the run);
    returns where the cut fell."""
    proc = start(config)
    if count is None:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        fs.cut()  # the nightly run has just ended: nothing it wrote is older than a second
        return "power cut just after a complete run"
    try:
        wait_for_final_files(folder, count, proc)
        proc.send_signal(signal.SIGSTOP)  # frozen where it is, as by the cut itself
        seen = final_names(folder)
        ended = proc.poll()  # None while stopped: the run was still going
        fs.cut()
    finally:
        proc.kill()
        _, err = proc.communicate()
    assert not ended, err.decode()  # the run failed before the cut: nothing to learn
    return f"power cut after {seen} final files" + (" (the run had ended)" if ended == 0 else "")


@pytest.mark.timeout(120)
def test_power_cuts_leave_no_empty_or_wrong_final_file(
    threaded_emulator: Emulator, lossy: LossyFactory, tmp_path: Path
) -> None:
    """After a power cut at any point of a run (or just after it), no final name holds an
    empty or wrong file, and two normal runs after the reboot leave the folder complete."""
    add_duplicates(threaded_emulator)
    expected = expected_files(threaded_emulator)
    report: list[str] = []
    failed = False
    for index, count in enumerate(cut_points(len(expected))):
        fs = lossy(f"cut{index}", journal_interval=JOURNAL)
        folder = fs.mountpoint / "photos"
        folder.mkdir()  # an existing, durable folder, as after earlier nights
        sync_dir(folder)
        sync_dir(fs.mountpoint)
        config = tmp_path / f"cut{index}.ini"
        config.write_text(threaded_emulator.config_text(str(folder)), encoding="utf-8")
        config.chmod(0o600)

        report.append(run_and_cut(fs, config, folder, count) + ":")
        fs.mount()  # the reboot
        after_reboot = damage(folder, expected, complete=False)
        report.append(f"  right after the reboot: {describe(after_reboot)}")
        for run in (1, 2):
            proc = start(config)
            _, err = proc.communicate(timeout=60)
            if proc.returncode:
                failed = True
                report.append(f"  run {run} after the reboot exited {proc.returncode}:")
                tail = err.decode(errors="replace").strip().splitlines()[-3:]
                report += [f"    {line}" for line in tail]
        after_runs = damage(folder, expected, complete=True)
        report.append(f"  after two more runs: {describe(after_runs)}")
        failed = failed or any(after_reboot.values()) or any(after_runs.values())
        fs.close()
    assert not failed, (
        f"power cuts (seed {SEED}, metadata committed every {JOURNAL} s and on each fsync) "
        f"in runs fetching {len(expected)} files:\n" + "\n".join(report)
    )
