"""Big frames: peak memory and time of every kind of run at 20,000 and 100,000 assets, and
how soon the first photo starts downloading when the listing is slow.

For each size (``--sizes``, default 20,000 and 100,000 photos of 600 B; no videos, Live
Photos, placeholders or hidden photos), an emulator process serves the frame and each
round measures, with ``os.wait4``, the peak RSS and wall time of

- a full download into an empty folder (``-j 16 --rate 0``);
- ``--count``, which reads the whole listing and keeps counts: the listing alone;
- a no-op rerun over the complete folder (lists, plans, fetches nothing), whose JSON
  summary is checked: 0 downloaded;
- ``--until-found 200`` over the complete folder (reads one page);

then ``--pairs`` more runs each of ``--count`` and the no-op rerun over the last round's
folder, alternated (the machine's speed drifts between minutes: the no-op / listing ratio
is of their medians); and, at the largest size, ``--count`` and the no-op rerun again
against pages that take
``--listing-latency`` (a server farther away than loopback, where a run's own work per
page can hide behind the server's).

The report shows each figure per size, how it grows per asset from the smallest size to the
largest, and the targets of issue 15: at 100,000 assets ``--count`` and ``--until-found``
<= 64 MB, a no-op rerun <= 128 MB and <= 1.1 x the listing, a full download <= 128 MB;
memory growing by less than 0.5 KB per asset.

Then the time to the first byte: an in-process emulator whose API routes answer after
``--api-latency`` seconds (a slow listing; default 0.2 s) serves a frame of 5,000 photos in
pages of 500, and a real ``aura-async`` process downloads it; the script notes when the
emulator answered the login and the first photo. Target: the first photo within two page
latencies of the start (the login's answer: one latency for the first page, and at most one
more for anything else).

Usage::

    python -m benchmarks.manifest                       # 20,000 and 100,000, 1 round
    python -m benchmarks.manifest --sizes 20000 --runs 3
    python -m benchmarks.manifest --only full           # only the full download, both sizes
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from aura_async.emulator import EmulatorConfig, FrameSpec
from aura_async.emulator.thread import emulator_in_thread
from benchmarks.common import (
    EmulatorInfo,
    Sample,
    add_workdir,
    aura_async_command,
    emulator_process,
    machine_line,
    measure,
    median,
    page_seconds,
    write_config,
)

TARGETS_MB = {"full download": 128.0, "count": 64.0, "no-op rerun": 128.0, "until-found": 64.0}
"""Peak RSS targets at 100,000 assets."""
GROWTH_TARGET_KB = 0.5
"""Memory may grow by less than this per asset from the smallest size to the largest."""
NOOP_OVER_LISTING = 1.1
FIRST_BYTE_LATENCIES = 2.0
ONLY = {
    "full": "full download",
    "count": "count",
    "noop": "no-op rerun",
    "until-found": "until-found",
    "first-byte": "first-byte",
}
"""``--only``'s names and the runs they measure."""


def _only(text: str) -> set[str]:
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = names - ONLY.keys()
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown run {', '.join(sorted(unknown)) or '(none)'}: choose from {', '.join(ONLY)}"
        )
    return {ONLY[name] for name in names}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", "-n", type=int, default=1, help="rounds per size (default 1)")
    p.add_argument(
        "--sizes", default="20000,100000", help="comma-separated asset counts (20000,100000)"
    )
    p.add_argument("--photo-size", type=int, default=600, help="bytes per photo (600)")
    p.add_argument(
        "--api-latency", type=float, default=0.2, help="API latency of the first-byte test (0.2)"
    )
    p.add_argument(
        "--listing-latency",
        type=float,
        default=0.05,
        help="also time --count and the no-op rerun at the largest size against pages that "
        "take this long (a server farther than loopback; default 0.05, 0 to skip)",
    )
    p.add_argument(
        "--only",
        type=_only,
        default=set(ONLY.values()),
        help=f"comma-separated runs to measure, of {','.join(ONLY)} (default: all; the "
        "no-op rerun and --until-found still need a full download first, unmeasured if "
        "not asked for)",
    )
    p.add_argument(
        "--pairs",
        type=int,
        default=5,
        help="then, at each size, this many more runs each of --count and the no-op rerun, "
        "alternated (default 5; their medians make the no-op / listing ratio)",
    )
    add_workdir(p)
    return p


def _commands(aura: str, config: Path) -> dict[str, list[str]]:
    base = [aura, "--config", str(config), "myframe", "--quiet"]
    return {
        "full download": [*base, "-j", "16", "--rate", "0"],
        "count": [aura, "--config", str(config), "myframe", "--count"],
        "no-op rerun": [*base, "-j", "16", "--rate", "0"],
        "until-found": [*base, "-j", "16", "--rate", "0", "--until-found", "200"],
    }


def _check_noop(aura: str, config: Path, assets: int) -> str | None:
    out = subprocess.run(
        [aura, "--config", str(config), "myframe", "--json", "--quiet", "--rate", "0"],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    summary = json.loads(out.stdout.splitlines()[-1])
    if summary.get("downloaded") != 0 or summary.get("skipped") != assets:
        return f"the rerun was not a no-op: {summary}"
    return None


def _measure_size(
    aura: str, assets: int, args: argparse.Namespace
) -> dict[str, list[Sample]] | None:
    emulator_args = [
        *("--photos", str(assets), "--videos", "0", "--live-photos", "0"),
        *("--placeholders", "0", "--hidden", "0", "--extra-frames", "0"),
        *("--photo-size", str(args.photo_size)),
    ]
    wanted = [name for name in TARGETS_MB if name in args.only]
    samples: dict[str, list[Sample]] = {name: [] for name in wanted}
    needs_folder = bool(args.only & {"no-op rerun", "until-found"})
    with (
        tempfile.TemporaryDirectory(prefix="aura-bench-", dir=args.workdir) as tmp,
        emulator_process(emulator_args) as info,
    ):
        for round_no in range(args.runs):
            folder = Path(tmp) / f"frame-{round_no}"
            config = write_config(info, Path(tmp) / f"aura-{round_no}.ini", folder)
            for name, command in _commands(aura, config).items():
                if name not in args.only and not (name == "full download" and needs_folder):
                    continue
                sample = measure(command)
                if sample.returncode != 0:
                    print(f"{assets} {name}: exit {sample.returncode}")
                    print(sample.stderr[-1000:], info.exit_status() or "", sep="\n")
                    return None
                if name in samples:
                    samples[name].append(sample)
                if name == "full download":
                    problem = _check_noop(aura, config, assets)
                    if problem:
                        print(f"{assets}: {problem}")
                        return None
            print(
                f"{assets} assets, round {round_no + 1}/{args.runs}: "
                + ", ".join(
                    f"{n} {s[-1].wall:.2f}s {s[-1].maxrss_mb:.0f} MB" for n, s in samples.items()
                ),
                flush=True,
            )
        pairs = args.pairs if {"count", "no-op rerun"} <= samples.keys() else 0
        if pairs and not _alternate(aura, config, assets, samples, pairs):
            return None
        largest = assets == max(int(s) for s in args.sizes.split(","))
        if args.only & {"count", "no-op rerun"} and args.listing_latency and largest:
            slow = [*emulator_args, "--api-latency", str(args.listing_latency)]
            with emulator_process(slow) as slower:  # the same seed: the same frame
                config = write_config(slower, Path(tmp) / "slow.ini", Path(tmp) / "frame-0")
                commands = _commands(aura, config)
                for name in ("count", "no-op rerun"):
                    if name not in args.only:
                        continue
                    sample = measure(commands[name])
                    if sample.returncode != 0:
                        print(f"{assets} {name} with a slow listing: exit {sample.returncode}")
                        return None
                    samples[f"{name}, slow listing"] = [sample]
    return samples


def _alternate(
    aura: str, config: Path, assets: int, samples: dict[str, list[Sample]], pairs: int
) -> bool:
    """``pairs`` more runs each of ``--count`` and the no-op rerun over the last round's
    folder, alternating which goes first (the machine's speed drifts over minutes, and
    the ratio of the two is a target); False if one failed."""
    commands = _commands(aura, config)
    ratios = []
    for pair in range(pairs):
        order = ("count", "no-op rerun") if pair % 2 else ("no-op rerun", "count")
        for name in order:
            sample = measure(commands[name])
            if sample.returncode != 0:
                print(f"{assets} {name}: exit {sample.returncode}\n{sample.stderr[-1000:]}")
                return False
            samples[name].append(sample)
        ratios.append(samples["no-op rerun"][-1].wall / samples["count"][-1].wall)
    print(
        f"{assets} assets, {pairs} alternated pairs: no-op / count "
        + " ".join(f"{r:.3f}" for r in ratios),
        flush=True,
    )
    return True


def _first_byte(aura: str, latency: float, workdir: Path | None) -> tuple[float, float, float]:
    """Seconds from the process start, and from the login's answer, to the first photo's
    answer, against a listing whose API answers after ``latency``; and the seconds one page
    of 500 takes to arrive (the latency plus the server's own work)."""
    config = EmulatorConfig(
        frames=[FrameSpec(photos=5000, videos=0, live_photos=0, placeholders=0, hidden=0)],
        photo_size=600,
        api_latency=latency,
    )
    with (
        tempfile.TemporaryDirectory(prefix="aura-bench-", dir=workdir) as tmp,
        emulator_in_thread(config) as emu,
    ):
        path = Path(tmp) / "aura.ini"
        path.write_text(emu.config_text(str(Path(tmp) / "photos")), encoding="utf-8")
        info = EmulatorInfo(
            api_url=emu.api_url,
            image_url=emu.image_url,
            email=config.email,
            password=config.password,
            frame_id=next(iter(emu.library.frames)),
            pid=0,
            exit_status=lambda: None,
        )
        page = min(page_seconds(info) for _ in range(3))
        emu.counters.reset()
        marks: dict[str, float] = {}
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set() and "media" not in marks:
                now = time.perf_counter()
                if "login" not in marks and emu.counters.count("login"):
                    marks["login"] = now
                if emu.counters.media_requests:
                    marks["media"] = now
                time.sleep(0.0005)

        watcher = threading.Thread(target=watch, daemon=True)
        started = time.perf_counter()
        watcher.start()
        proc = subprocess.Popen(
            [aura, "--config", str(path), "myframe", "--quiet", "--rate", "0", "-j", "8"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 120
            while "media" not in marks and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.01)
        finally:
            stop.set()
            proc.kill()
            proc.wait()
            watcher.join()
        if "media" not in marks or "login" not in marks:
            raise SystemExit("first-byte test: no photo was requested")
        return marks["media"] - started, marks["media"] - marks["login"], page


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print the report; exit 1 if a run failed."""
    args = _parser().parse_args(argv)
    aura = aura_async_command()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"# {machine_line()}")
    print(f"# sizes {sizes}, photos of {args.photo_size} B, {args.runs} round(s) each")
    if aura is None:
        print("aura-async MISSING: install this package (pip install -e .)")
        return 1
    results: dict[int, dict[str, list[Sample]]] = {}
    for assets in sizes:
        measured = _measure_size(aura, assets, args)
        if measured is None:
            print("stopping: no figures from a failed run")
            return 1
        results[assets] = measured
    print()
    small, large = min(sizes), max(sizes)
    header = "".join(f"{n:>14}" for n in sizes)
    print(f"{'run':<14}{header}   growth/asset  target at {large}")
    for name, target in TARGETS_MB.items():
        if name not in args.only:
            continue
        rss = {n: max(s.maxrss_mb for s in results[n][name]) for n in sizes}
        wall = {n: median([s.wall for s in results[n][name]]) for n in sizes}
        growth = (rss[large] - rss[small]) * 1e6 / 1024 / (large - small) if large > small else 0
        verdict = "met" if rss[large] <= target and growth < GROWTH_TARGET_KB else "MISSED"
        cells = "".join(f"{rss[n]:>7.0f}MB {wall[n]:>4.1f}s" for n in sizes)
        print(f"{name:<14}{cells}   {growth:>6.2f} KB   <= {target:.0f} MB, < 0.5 KB: {verdict}")
    for suffix, what in (("", "on loopback"), (", slow listing", f"{args.listing_latency}s pages")):
        if not {f"no-op rerun{suffix}", f"count{suffix}"} <= results[large].keys():
            continue
        noops = [s.wall for s in results[large][f"no-op rerun{suffix}"]]
        listings = [s.wall for s in results[large][f"count{suffix}"]]
        ratio = median(noops) / median(listings)
        verdict = "met" if ratio <= NOOP_OVER_LISTING else "MISSED"
        print(
            f"no-op rerun / listing alone at {large}, {what}: {median(noops):.2f}s / "
            f"{median(listings):.2f}s = x{ratio:.3f} (medians of {len(noops)} and "
            f"{len(listings)} runs; target <= 1.1: {verdict})"
        )
    if "first-byte" not in args.only:
        return 0
    from_start, from_login, page = _first_byte(aura, args.api_latency, args.workdir)
    latencies = from_login / page
    verdict = "met" if latencies <= FIRST_BYTE_LATENCIES else "MISSED"
    print(
        f"first photo, API latency {args.api_latency:.2f}s (a page of 500 arrives in "
        f"{page:.3f}s): {from_start:.2f}s after the process started, {from_login:.3f}s after "
        f"the login's answer = {latencies:.2f} pages (target <= {FIRST_BYTE_LATENCIES:.0f}: "
        f"{verdict})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
