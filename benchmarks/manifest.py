"""A big manifest: peak memory of ``aura-async --count`` and of a no-op rerun.

An emulator process serves a frame of ``--assets`` small photos (default 20,000 of 2 KB; no
videos, Live Photos, placeholders or hidden photos). Each round measures, with
``os.wait4``, the peak RSS and wall time of

- ``aura-async --config CFG myframe --count``, which reads the whole listing, and
- ``aura-async --config CFG myframe --json`` over a folder that already holds every file
  (one byte each, under the names the planner gives), which lists, plans and fetches nothing.

Target: peak RSS <= 200 MB each. The rerun's JSON summary is checked: 0 downloaded.

Usage::

    python -m benchmarks.manifest                 # 20,000 assets, 3 rounds
    python -m benchmarks.manifest --assets 50000 --runs 1
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import (
    Sample,
    add_workdir,
    aura_async_command,
    emulator_process,
    list_jobs,
    machine_line,
    measure,
    median,
    write_config,
)

RSS_TARGET_MB = 200.0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", "-n", type=int, default=3, help="rounds (default 3)")
    p.add_argument("--assets", type=int, default=20_000, help="photos in the frame (20000)")
    p.add_argument("--photo-size", type=int, default=2048, help="bytes per photo (2048)")
    add_workdir(p)
    return p


def _noop_summary(aura: str, config: Path) -> dict[str, object]:
    out = subprocess.run(
        [aura, "--config", str(config), "myframe", "--json", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    summary: dict[str, object] = json.loads(out.stdout.splitlines()[-1])
    return summary


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print the report; exit 1 if a run failed."""
    args = _parser().parse_args(argv)
    aura = aura_async_command()
    print(f"# {machine_line()}")
    print(f"# {args.assets} assets of {args.photo_size} B, {args.runs} rounds")
    if aura is None:
        print("aura-async MISSING: install this package (pip install -e .)")
        return 1
    emulator_args = [
        *("--photos", str(args.assets), "--videos", "0", "--live-photos", "0"),
        *("--placeholders", "0", "--hidden", "0", "--extra-frames", "0"),
        *("--photo-size", str(args.photo_size)),
    ]
    samples: dict[str, list[Sample]] = {"count": [], "no-op rerun": []}
    with (
        tempfile.TemporaryDirectory(prefix="aura-bench-", dir=args.workdir) as tmp,
        emulator_process(emulator_args) as info,
    ):
        folder = Path(tmp) / "frame"
        folder.mkdir()
        jobs = list_jobs(info)
        for job in jobs:
            (folder / job.relpath).write_bytes(b"x")  # not empty: an empty file is damage
        config = write_config(info, Path(tmp) / "aura.ini", folder)
        summary = _noop_summary(aura, config)
        if summary.get("downloaded") != 0 or summary.get("skipped") != len(jobs):
            print(f"error: the rerun was not a no-op: {summary}")
            return 1
        commands = {
            "count": [aura, "--config", str(config), "myframe", "--count"],
            "no-op rerun": [aura, "--config", str(config), "myframe", "--quiet"],
        }
        for round_no in range(args.runs):
            for name, command in commands.items():
                sample = measure(command)
                if sample.returncode != 0:
                    print(f"round {round_no + 1} {name}: exit {sample.returncode}")
                    print(sample.stderr[-1000:], info.exit_status() or "", sep="\n")
                    print("stopping: no figures from a failed run")
                    return 1
                samples[name].append(sample)
            print(
                f"round {round_no + 1}/{args.runs}: "
                + ", ".join(
                    f"{n} {s[-1].wall:.2f}s, rss {s[-1].maxrss_mb:.0f} MB"
                    for n, s in samples.items()
                ),
                flush=True,
            )
    print()
    for name, runs in samples.items():
        rss = max(s.maxrss_mb for s in runs)
        verdict = "met" if rss <= RSS_TARGET_MB else "MISSED"
        print(
            f"{name:<12} wall {median([s.wall for s in runs]):.2f}s  "
            f"cpu {median([s.cpu for s in runs]):.2f}s  "
            f"peak RSS {rss:.0f} MB worst run (target <= {RSS_TARGET_MB:.0f} MB: {verdict})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
