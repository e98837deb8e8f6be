"""aura-async builds side by side on a slow disk: the worker-thread path of the ``.part``
writes, closes, commits and sidecars.

``benchmarks/peers.py`` writes to a quick local disk, where a download's disk work runs on
the event loop. Here each build downloads the same frame through
``benchmarks/slow_disk_client.py``, whose injected disk makes every file operation wait
(``--latency`` per read, write and close, plus the bytes at ``--bandwidth``; ``--sync-latency``
per ``fsync``): the folder's pace sends the disk work to worker threads, as a network share
or a USB disk does. An emulator process serves ``--photos`` photos of ``--photo-size``
bytes and ``--videos`` videos of ``--video-size`` bytes (a video spans several 1 MiB
batches). Each round runs every build once, in a rotating order, into a fresh folder;
wall time and CPU time (user + sys of the client process, ``os.wait4``) are measured around
each client process. The script prints per-build medians and, for each compared build, the
median of the per-round ratios this-build/that-build with their spread (lowest-highest),
and the load average at each round's start (other work on the machine shows there).

Usage::

    python -m benchmarks.slowdisk --compare before=/path/to/other/venv/bin/aura-async
    python -m benchmarks.slowdisk --runs 7 --photos 500 --videos 4 --sidecars json \\
        --compare before=/path/to/other/venv/bin/aura-async
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from aura_async.models import MediaKind
from benchmarks.common import (
    Sample,
    add_workdir,
    emulator_process,
    list_jobs,
    machine_line,
    measure,
    median,
    write_config,
)

CLIENT = Path(__file__).with_name("slow_disk_client.py")
THIS = "this"
"""The build of the interpreter running the benchmark."""


@dataclass
class Build:
    """One build under test: the interpreter that has it installed."""

    name: str
    python: str
    samples: list[Sample] = field(default_factory=list)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", "-n", type=int, default=5, help="rounds (default 5)")
    p.add_argument("--photos", type=int, default=1000, help="photos in the frame (default 1000)")
    p.add_argument(
        "--photo-size", type=int, default=200 * 1024, help="bytes per photo (default 204800)"
    )
    p.add_argument("--videos", type=int, default=0, help="videos in the frame (default 0)")
    p.add_argument(
        "--video-size", type=int, default=8 * 1024 * 1024, help="bytes per video (8 MiB)"
    )
    p.add_argument("--concurrency", "-j", type=int, default=8, help="parallel downloads (8)")
    p.add_argument("--latency", type=float, default=0.002, help="seconds per file op (0.002)")
    p.add_argument("--bandwidth", type=float, default=50e6, help="disk bytes/s (50e6)")
    p.add_argument("--sync-latency", type=float, default=0.005, help="seconds per fsync")
    p.add_argument("--sidecars", choices=("json", "xmp"), default=None, help="write sidecars")
    p.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="also run another build, given by its aura-async executable (its interpreter "
        "runs the client), and print this/NAME (repeatable)",
    )
    add_workdir(p)
    return p


def interpreter_of(script: Path) -> str:
    """The interpreter a console script (``venv/bin/aura-async``) runs under: its ``#!``."""
    with script.open("rb") as handle:
        first = handle.readline().decode().strip()
    if not first.startswith("#!"):
        raise SystemExit(f"{script} is not a console script (no #! line)")
    return first[2:].split()[0]


def _builds(args: argparse.Namespace) -> list[Build]:
    builds = [Build(THIS, sys.executable)]
    for item in args.compare:
        name, _, path = item.partition("=")
        if not (name and path) or name == THIS:
            raise SystemExit(f"--compare takes NAME=PATH (NAME not {THIS!r}), not {item!r}")
        builds.append(Build(name, interpreter_of(Path(path))))
    return builds


def spread(values: list[float]) -> str:
    """``median (lowest-highest)`` of ratios."""
    return f"x{median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def _check(folder: Path, expected: dict[str, int]) -> str | None:
    found = {
        str(p.relative_to(folder)): p.stat().st_size
        for p in folder.rglob("*")
        if p.is_file() and ".aura-async" not in p.parts
    }
    wrong = [name for name, size in expected.items() if found.get(name) != size]
    if wrong:
        return f"{len(wrong)} of {len(expected)} files missing or of the wrong size"
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print the report; exit 1 if a run failed."""
    args = _parser().parse_args(argv)
    builds = _builds(args)
    emulator_args = [
        *("--photos", str(args.photos), "--videos", str(args.videos), "--live-photos", "0"),
        *("--placeholders", "0", "--hidden", "0", "--extra-frames", "0"),
        *("--photo-size", str(args.photo_size), "--video-size", str(args.video_size)),
    ]
    client_args = [
        *("-j", str(args.concurrency), "--latency", str(args.latency)),
        *("--bandwidth", str(args.bandwidth), "--sync-latency", str(args.sync_latency)),
        *(("--sidecars", args.sidecars) if args.sidecars else ()),
    ]
    print(f"# {machine_line()}")
    print(
        f"# {args.photos} photos x {args.photo_size} B, {args.videos} videos x "
        f"{args.video_size} B, concurrency {args.concurrency}, sidecars {args.sidecars}; "
        f"slow disk: {args.latency * 1000:g} ms a file op + {args.bandwidth / 1e6:g} MB/s, "
        f"{args.sync_latency * 1000:g} ms an fsync; {args.runs} rounds"
    )
    for build in builds:
        print(f"# {build.name}: {build.python}")
    loads: list[float] = []
    with (
        tempfile.TemporaryDirectory(prefix="aura-slowdisk-", dir=args.workdir) as tmp,
        emulator_process(emulator_args) as info,
    ):
        work = Path(tmp)
        expected = {
            job.relpath: args.video_size if job.kind is MediaKind.VIDEO else args.photo_size
            for job in list_jobs(info)
        }
        for round_no in range(args.runs):
            loads.append(os.getloadavg()[0])
            shift = round_no % len(builds)
            samples: dict[str, Sample] = {}
            for build in builds[shift:] + builds[:shift]:
                folder = work / f"{build.name}-{round_no}"
                config = write_config(info, work / f"{build.name}-{round_no}.ini", folder)
                sample = measure([build.python, str(CLIENT), str(config), *client_args])
                problem = _check(folder, expected)
                if sample.returncode != 0 or problem:
                    print(f"round {round_no + 1} {build.name}: exit {sample.returncode}; {problem}")
                    print(sample.stderr[-2000:])
                    return 1
                samples[build.name] = sample
                shutil.rmtree(folder)
            for build in builds:
                build.samples.append(samples[build.name])
            print(
                f"round {round_no + 1}/{args.runs} (load {loads[-1]:.2f}): "
                + ", ".join(
                    f"{b.name} {b.samples[-1].wall:.2f}s/{b.samples[-1].cpu:.2f}s cpu"
                    for b in builds
                ),
                flush=True,
            )
    print(f"\nload average (1 min) at the rounds' starts: {min(loads):.2f}-{max(loads):.2f}")
    print(f"{'build':<12} {'wall':>7} {'cpu':>7} {'peak RSS':>9}  (medians)")
    for build in builds:
        print(
            f"{build.name:<12} {median([s.wall for s in build.samples]):>6.2f}s "
            f"{median([s.cpu for s in build.samples]):>6.2f}s "
            f"{median([s.maxrss_mb for s in build.samples]):>6.0f} MB"
        )
    mine = builds[0]
    for other in builds[1:]:
        pairs = list(zip(mine.samples, other.samples, strict=True))
        walls = [a.wall / b.wall for a, b in pairs]
        cpus = [a.cpu / b.cpu for a, b in pairs]
        print(f"{THIS}/{other.name}: wall {spread(walls)}  cpu {spread(cpus)}  (median, range)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
