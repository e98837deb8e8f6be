"""One big video: aura-async's throughput against curl's, and aura-async's peak memory.

An emulator process serves a frame holding a single video of ``--size`` bytes (default
1 GB) and nothing else. Each round fetches the clip with ``aura-async --videos-only`` (so
the video's poster still is left out), with ``curl`` from the same signed URL, and with
``benchmarks/bare_client.py --stream`` (the baseline: aiohttp streaming the body, hashing and
writing it on the loop, no ``.part``, retry or state), each into a fresh folder, in a
rotating order. It prints the median throughput of each, the median
ratio aura-async/curl (target >= 0.9) and aura-async's peak RSS (target <= 100 MB), read
from ``os.wait4``. curl missing: the throughput ratio is skipped, the RSS still measured.

Usage::

    python -m benchmarks.bigfile                  # 1 GB, 3 rounds
    python -m benchmarks.bigfile --runs 5 --size 250000000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

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
    write_config,
)

THROUGHPUT_TARGET = 0.9
RSS_TARGET_MB = 100.0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", "-n", type=int, default=3, help="rounds (default 3)")
    p.add_argument("--size", type=int, default=10**9, help="video bytes (default 10**9)")
    add_workdir(p)
    return p


def _check(folder: Path, size: int) -> str | None:
    files = [p for p in folder.rglob("*") if p.is_file() and ".aura-async" not in p.parts]
    if len(files) != 1 or files[0].stat().st_size != size:
        return f"expected one file of {size} B, found {[(p.name, p.stat().st_size) for p in files]}"
    return None


def _throughput_ratio(mine: list[Sample], other: list[Sample]) -> float:
    """Median per-round throughput ratio mine/other (the same bytes: other's wall / mine)."""
    return median([b.wall / a.wall for a, b in zip(mine, other, strict=True)])


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print the report; exit 1 if a run failed."""
    args = _parser().parse_args(argv)
    aura = aura_async_command()
    curl = shutil.which("curl")
    print(f"# {machine_line()}")
    where = args.workdir or tempfile.gettempdir()
    print(f"# one video of {args.size} B, {args.runs} rounds, run folders under {where}")
    if aura is None:
        print("aura-async MISSING: install this package (pip install -e .)")
        return 1
    if curl is None:
        print("peer curl MISSING: not on PATH (apt-get install curl); ratio skipped")
    emulator_args = [
        *("--photos", "0", "--videos", "1", "--live-photos", "0", "--placeholders", "0"),
        *("--hidden", "0", "--extra-frames", "0", "--video-size", str(args.size)),
    ]
    samples: dict[str, list[Sample]] = {"aura-async": [], "curl": [], BARE: []}
    with (
        tempfile.TemporaryDirectory(prefix="aura-bench-", dir=args.workdir) as tmp,
        emulator_process(emulator_args) as info,
    ):
        work = Path(tmp)
        jobs = list_jobs(info, stills=False)
        if len(jobs) != 1:
            print(f"error: the listing gave {len(jobs)} clips, expected 1")
            return 1
        commands = {
            "aura-async": lambda folder: [
                aura,
                *("--config", str(write_config(info, folder.with_suffix(".ini"), folder))),
                *("myframe", "--videos-only", "--rate", "0", "--quiet"),
            ],
        }
        if curl is not None:
            commands["curl"] = lambda folder: [
                curl,
                *("--silent", "--show-error", "--fail", "--output", "video.bin", jobs[0].url),
            ]
        bare_list = work / "bare.tsv"
        bare_list.write_text(f"{jobs[0].url}\tvideo.bin\n", encoding="utf-8")
        commands[BARE] = lambda folder: [
            sys.executable,
            *(str(BARE_CLIENT), str(bare_list), "--stream"),
        ]
        names = list(commands)
        for round_no in range(args.runs):
            shift = round_no % len(names)
            order = names[shift:] + names[:shift]
            for name in order:
                folder = work / f"{name}-{round_no}"
                folder.mkdir()
                sample = measure(commands[name](folder), cwd=folder)
                problem = _check(folder, args.size)
                if sample.returncode != 0 or problem:
                    print(f"round {round_no + 1} {name}: exit {sample.returncode}; {problem}")
                    print(sample.stderr[-1000:], info.exit_status() or "", sep="\n")
                    print("stopping: no figures from a failed run")
                    return 1
                samples[name].append(sample)
                shutil.rmtree(folder)
            print(
                f"round {round_no + 1}/{args.runs}: "
                + ", ".join(
                    f"{n} {args.size / samples[n][-1].wall / 1e6:.0f} MB/s "
                    f"(cpu {samples[n][-1].cpu:.2f}s, rss {samples[n][-1].maxrss_mb:.0f} MB)"
                    for n in names
                ),
                flush=True,
            )
    print()
    for name in names:
        runs = samples[name]
        print(
            f"{name:<12} {median([args.size / s.wall / 1e6 for s in runs]):>6.0f} MB/s  "
            f"cpu {median([s.cpu for s in runs]):.2f}s  "
            f"peak RSS {median([s.maxrss_mb for s in runs]):.0f} MB (max "
            f"{max(s.maxrss_mb for s in runs):.0f})"
        )
    print()
    if "curl" in names:
        ratio = _throughput_ratio(samples["aura-async"], samples["curl"])
        verdict = "met" if ratio >= THROUGHPUT_TARGET else "MISSED"
        print(f"throughput aura-async/curl x{ratio:.3f} (target >= {THROUGHPUT_TARGET}: {verdict})")
        base = _throughput_ratio(samples[BARE], samples["curl"])
        print(f"throughput {BARE}/curl x{base:.3f} (the baseline: no .part, retry or state)")
    mine = _throughput_ratio(samples["aura-async"], samples[BARE])
    print(f"throughput aura-async/{BARE} x{mine:.3f}")
    rss = max(s.maxrss_mb for s in samples["aura-async"])
    verdict = "met" if rss <= RSS_TARGET_MB else "MISSED"
    print(
        f"aura-async peak RSS {rss:.0f} MB, worst run (target <= {RSS_TARGET_MB:.0f} MB: {verdict})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
