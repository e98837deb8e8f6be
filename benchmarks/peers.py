"""aura-async against curl and aria2c: the same photos, the same emulator, the same concurrency.

An emulator process serves one frame of ``--photos`` photos of ``--photo-size`` bytes (no
videos, Live Photos, placeholders or hidden photos; no throttling). Each round runs every
peer once, in a rotating order, into a fresh temporary folder:

- ``aura-async --config CFG myframe -j J --rate 0 --quiet``
- ``curl --parallel --parallel-max J --config LIST`` (``url``/``output`` pairs)
- ``aria2c -j J --input-file LIST`` (``out=`` lines)
- ``python benchmarks/bare_client.py LIST -j J``: the baseline, a plain aiohttp client
  (fetch, SHA-256, write; no ``.part``, retry, limiter or state), so the report can tell
  what Python and aiohttp cost from what aura-async adds

over the image URLs that the listing API gives (``{image_url}/{user_id}/{file_name}``).
Wall time is measured around each client process, CPU time is user + sys of that process
and its children only (``os.wait4``). The script prints per-peer medians and, per peer, the
median of the per-round ratios aura-async/peer, and whether the targets are met. A peer that
is not installed is reported and skipped; nothing is installed here.

Usage::

    python -m benchmarks.peers                 # 1,000 x 200 KB photos, -j 8, 5 rounds
    python -m benchmarks.peers --runs 9 --photos 2000 --concurrency 8
    python -m benchmarks.peers --photos 2000 --latency 0.04   # a real link: match curl
    python -m benchmarks.peers --sidecars json --compare before=OTHER/bin/aura-async
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aura_async.plan.planner import Job
from benchmarks.common import (
    BARE,
    BARE_CLIENT,
    Sample,
    add_workdir,
    aura_async_command,
    emulator_process,
    list_jobs,
    machine_line,
    measure,
    median,
    process_cpu,
    write_config,
)

# Targets of issue 6: aura-async's figure divided by the peer's must be at most this.
WALL_TARGETS = {"curl": 1.1, "aria2c": 0.7}
LINK_WALL_TARGET = 1.05
"""With --latency (a real link), aura-async's wall time over curl's (issue 15)."""
CPU_TARGETS = {"curl": 1.5, "aria2c": 1.0}
CPU_STRICT = {"curl": False, "aria2c": True}  # "below aria2c" is a strict bound


@dataclass
class Peer:
    """One client under test: how to build its command for a run folder."""

    name: str
    command: Callable[[Path], list[str]]
    samples: list[Sample]
    server_cpu: list[float]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", "-n", type=int, default=5, help="rounds (each peer once; default 5)")
    p.add_argument("--photos", type=int, default=1000, help="photos in the frame (default 1000)")
    p.add_argument(
        "--photo-size", type=int, default=200 * 1024, help="bytes per photo (default 204800)"
    )
    p.add_argument("--concurrency", "-j", type=int, default=8, help="parallel downloads (8)")
    p.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="seconds the emulator adds to every request (a real link: e.g. 0.04); then "
        "curl's time is bound by the link, not by CPU, and aura-async must match it",
    )
    p.add_argument(
        "--peers",
        default=f"aura-async,curl,aria2c,{BARE}",
        help=f"comma-separated peers to run (default aura-async,curl,aria2c,{BARE})",
    )
    p.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="also run another aura-async executable (an older build) as peer NAME, and "
        "print aura-async/NAME: the A/B of a change, side by side (repeatable)",
    )
    p.add_argument(
        "--sidecars",
        choices=("json", "xmp"),
        default=None,
        help="aura-async builds also write a sidecar beside each photo (the others do not)",
    )
    add_workdir(p)
    return p


def _write_lists(jobs: list[Job], work: Path) -> tuple[Path, Path, Path]:
    curl_list = work / "curl.cfg"
    aria_list = work / "aria2.txt"
    bare_list = work / "bare.tsv"
    with (
        curl_list.open("w", encoding="utf-8") as curl,
        aria_list.open("w", encoding="utf-8") as aria,
        bare_list.open("w", encoding="utf-8") as bare,
    ):
        for job in jobs:
            curl.write(f'url = "{job.url}"\noutput = "{job.relpath}"\n')
            aria.write(f"{job.url}\n  out={job.relpath}\n")
            bare.write(f"{job.url}\t{job.relpath}\n")
    return curl_list, aria_list, bare_list


def _config_path(folder: Path) -> Path:
    return folder.with_name(f"{folder.name}.ini")


def _peers(args: argparse.Namespace, work: Path, jobs: list[Job]) -> list[Peer]:
    curl_list, aria_list, bare_list = _write_lists(jobs, work)
    j = str(args.concurrency)
    peers: list[Peer] = []
    aura = aura_async_command()
    if aura is None:
        print("peer aura-async MISSING: install this package (pip install -e .)")
    else:
        peers.append(Peer("aura-async", _aura_command(aura, j, args.sidecars), [], []))

    curl = shutil.which("curl")
    if curl is None:
        print("peer curl MISSING: not on PATH (apt-get install curl); skipped")
    else:
        peers.append(
            Peer(
                "curl",
                lambda _folder: [
                    curl,
                    "--silent",
                    "--show-error",
                    "--no-progress-meter",
                    "--fail",
                    "--parallel",
                    "--parallel-max",
                    j,
                    "--config",
                    str(curl_list),
                ],
                [],
                [],
            )
        )
    aria2c = shutil.which("aria2c")
    if aria2c is None:
        print("peer aria2c MISSING: not on PATH (apt-get install aria2); skipped")
    else:
        peers.append(
            Peer(
                "aria2c",
                lambda folder: [
                    aria2c,
                    "--quiet",
                    "-j",
                    j,
                    "--dir",
                    str(folder),
                    "--input-file",
                    str(aria_list),
                ],
                [],
                [],
            )
        )
    peers.append(
        Peer(
            BARE,
            lambda _folder: [sys.executable, str(BARE_CLIENT), str(bare_list), "-j", j],
            [],
            [],
        )
    )
    wanted = set(args.peers.split(","))
    chosen = [peer for peer in peers if peer.name in wanted]
    for name, path in _compared(args):
        chosen.append(Peer(name, _aura_command(path, j, args.sidecars), [], []))
    return chosen


def _compared(args: argparse.Namespace) -> list[tuple[str, str]]:
    pairs = []
    for item in args.compare:
        name, _, path = item.partition("=")
        if not (name and path):
            raise SystemExit(f"--compare takes NAME=PATH, not {item!r}")
        pairs.append((name, path))
    return pairs


def _aura_command(aura: str, j: str, sidecars: str | None) -> Callable[[Path], list[str]]:
    extra = ["--sidecars", sidecars] if sidecars else []

    def command(folder: Path) -> list[str]:
        config = str(_config_path(folder))
        return [aura, "--config", config, "myframe", "-j", j, "--rate", "0", "--quiet", *extra]

    return command


def _check_folder(folder: Path, jobs: list[Job], size: int) -> str | None:
    names = {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}
    missing = [job.relpath for job in jobs if names.get(job.relpath) != size]
    if missing:
        return f"{len(missing)} of {len(jobs)} files missing or of the wrong size"
    return None


def _ratios(mine: Peer, other: Peer) -> tuple[list[float], list[float]]:
    """Per-round ratios mine/other: wall times, CPU times."""
    pairs = list(zip(mine.samples, other.samples, strict=True))
    return [a.wall / b.wall for a, b in pairs], [a.cpu / b.cpu for a, b in pairs]


def _ratio_line(name: str, walls: list[float], cpus: list[float]) -> tuple[str, bool, bool]:
    wall, cpu = median(walls), median(cpus)
    wall_ok = wall <= WALL_TARGETS[name]
    cpu_ok = cpu < CPU_TARGETS[name] if CPU_STRICT[name] else cpu <= CPU_TARGETS[name]
    cpu_rel = "<" if CPU_STRICT[name] else "<="
    line = (
        f"aura-async/{name:<7} wall x{wall:.3f} (target <= {WALL_TARGETS[name]}: "
        f"{'met' if wall_ok else 'MISSED'})  cpu x{cpu:.3f} (target {cpu_rel} "
        f"{CPU_TARGETS[name]}: {'met' if cpu_ok else 'MISSED'})"
    )
    return line, wall_ok, cpu_ok


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print the report; exit 1 if a run failed."""
    args = _parser().parse_args(argv)
    emulator_args = [
        *("--photos", str(args.photos), "--videos", "0", "--live-photos", "0"),
        *("--placeholders", "0", "--hidden", "0", "--extra-frames", "0"),
        *("--photo-size", str(args.photo_size)),
        *("--latency", str(args.latency), "--api-latency", str(args.latency)),
    ]
    print(f"# {machine_line()}")
    print(
        f"# {args.photos} photos x {args.photo_size} B, concurrency {args.concurrency}, "
        f"latency {args.latency * 1000:.0f} ms, sidecars {args.sidecars}, {args.runs} rounds, "
        "run folders under "
        f"{args.workdir or tempfile.gettempdir()}"
    )
    failed = False
    with (
        tempfile.TemporaryDirectory(prefix="aura-bench-", dir=args.workdir) as tmp,
        emulator_process(emulator_args) as info,
    ):
        work = Path(tmp)
        jobs = list_jobs(info)
        if len(jobs) != args.photos:
            print(f"error: the listing gave {len(jobs)} files, expected {args.photos}")
            return 1
        peers = _peers(args, work, jobs)
        for round_no in range(args.runs):
            samples: dict[str, Sample] = {}
            server: dict[str, float] = {}
            ok = True
            shift = round_no % len(peers)
            for peer in peers[shift:] + peers[:shift]:
                folder = work / f"{peer.name}-{round_no}"
                folder.mkdir()
                write_config(info, _config_path(folder), folder)
                server_before = process_cpu(info.pid)
                sample = measure(peer.command(folder), cwd=folder)
                server[peer.name] = process_cpu(info.pid) - server_before
                problem = _check_folder(folder, jobs, args.photo_size)
                if sample.returncode != 0 or problem:
                    ok = False
                    print(f"round {round_no + 1} {peer.name}: exit {sample.returncode}; {problem}")
                    print(sample.stderr[-1000:])
                samples[peer.name] = sample
                shutil.rmtree(folder)
            ended = info.exit_status()
            if ended is not None:
                print(f"round {round_no + 1}: {ended}\nstopping; this round is dropped")
                failed = True
                break
            if not ok:
                failed = True
                print(f"round {round_no + 1}: dropped (a run failed)")
                continue
            for peer in peers:
                peer.samples.append(samples[peer.name])
                peer.server_cpu.append(server[peer.name])
            print(
                f"round {round_no + 1}/{args.runs}: "
                + ", ".join(
                    f"{p.name} {p.samples[-1].wall:.2f}s/{p.samples[-1].cpu:.2f}s cpu"
                    for p in peers
                ),
                flush=True,
            )
    print()
    if not peers or not peers[0].samples:
        print("no complete round: no figures")
        return 1
    print(f"{len(peers[0].samples)} complete rounds")
    print(f"{'peer':<12} {'wall':>7} {'cpu':>7} {'peak RSS':>9} {'server cpu':>11}  (medians)")
    for peer in peers:
        print(
            f"{peer.name:<12} {median([s.wall for s in peer.samples]):>6.2f}s "
            f"{median([s.cpu for s in peer.samples]):>6.2f}s "
            f"{median([s.maxrss_mb for s in peer.samples]):>6.0f} MB "
            f"{median(peer.server_cpu):>10.2f}s"
        )
    by_name = {peer.name: peer for peer in peers}
    aura = by_name.get("aura-async")
    print()
    if aura is None:
        print("aura-async is missing: no ratios")
        return 1
    for name in ("curl", "aria2c"):
        other = by_name.get(name)
        if other is None:
            why = "not selected" if name not in args.peers.split(",") else f"{name} is missing"
            print(f"aura-async/{name:<7} not measured: {why}")
            continue
        if args.latency and name == "curl":
            walls, cpus = _ratios(aura, other)
            wall = median(walls)
            verdict = "met" if wall <= LINK_WALL_TARGET else "MISSED"
            print(
                f"aura-async/curl    wall x{wall:.3f} at {args.latency * 1000:.0f} ms a request "
                f"(target <= {LINK_WALL_TARGET}: {verdict})  cpu x{median(cpus):.3f}"
            )
            continue
        print(_ratio_line(name, *_ratios(aura, other))[0])
    bare, curl = by_name.get(BARE), by_name.get("curl")
    if bare is not None:
        print()
        print(f"{BARE} (no .part, retry, limiter or state) is a plain aiohttp baseline:")
        if curl is not None:
            walls, cpus = _ratios(bare, curl)
            print(f"{BARE}/curl     wall x{median(walls):.3f}  cpu x{median(cpus):.3f}")
        walls, cpus = _ratios(aura, bare)
        print(f"aura-async/{BARE} wall x{median(walls):.3f}  cpu x{median(cpus):.3f}")
    compared = [by_name[name] for name, _ in _compared(args) if name in by_name]
    if compared:
        print()
    for other in compared:
        walls, cpus = _ratios(aura, other)
        print(
            f"aura-async/{other.name} wall x{median(walls):.3f} (per round "
            f"{min(walls):.3f}-{max(walls):.3f})  cpu x{median(cpus):.3f} (per round "
            f"{min(cpus):.3f}-{max(cpus):.3f})"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
