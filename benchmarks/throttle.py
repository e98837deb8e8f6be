"""Throttling benchmark: how close to the server's limit does aura-async run?

The emulator allows 20 image requests per second (token bucket, burst 5) and answers 429
beyond that. aura-async fetches 400 photos at ``--concurrency 8`` with its default
``--rate``. Printed per variant of the 429 answer (``Retry-After`` in seconds, as an HTTP
date, or absent):

* elapsed / ideal, where ideal = photos / allowed rate (400 / 20 = 20 s);
* the share of media requests answered 429;
* the old script's pacing (one file at a time, then ``time.sleep(2)``) over aura-async,
  measured on a sample of files and extrapolated to the whole frame (``--old-sample 0``
  skips it, ``--old-sample 400`` runs it in full: 13 minutes).

Targets: elapsed <= 1.15 x ideal and <= 5 % throttled with Retry-After; <= 1.3 x ideal
without it.

Usage: python benchmarks/throttle.py [--photos 400] [--rate 20] [--variants seconds,date,none]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Literal

from aura_async.emulator import EmulatorConfig, FrameSpec, Throttle
from aura_async.emulator.thread import emulator_in_thread

TARGETS = {"seconds": (1.15, 0.05), "date": (1.15, 0.05), "none": (1.3, None)}
RetryMode = Literal["seconds", "date", "none"]


def run_aura(
    config_text: str, concurrency: int, extra: list[str]
) -> tuple[float, dict[str, object]]:
    """Run the CLI once into a fresh folder; return (wall seconds, its JSON summary)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = folder / "credentials.ini"
        config.write_text(config_text.replace("./aura-photos", str(folder / "photos")))
        config.chmod(0o600)
        started = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "aura_async",
                "--config",
                str(config),
                "myframe",
                "-j",
                str(concurrency),
                "--json",
                "--quiet",
                *extra,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"aura-async failed ({done.returncode}): {done.stderr.strip()}")
    summary: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return wall, summary


def old_script_pace(urls: list[str]) -> float:
    """Seconds per file of the old script: a plain GET, then sleep(2)."""
    started = time.monotonic()
    for url in urls:
        with urllib.request.urlopen(url) as response:  # noqa: S310 - loopback emulator URL
            response.read()
        time.sleep(2)
    return (time.monotonic() - started) / len(urls)


def variant(mode: RetryMode, args: argparse.Namespace) -> dict[str, float]:
    config = EmulatorConfig(
        frames=[FrameSpec(photos=args.photos, videos=0, live_photos=0, placeholders=0, hidden=0)],
        photo_size=args.photo_size,
        throttle=Throttle(rate=args.rate, burst=args.burst, retry_after=mode),
    )
    with emulator_in_thread(config) as emu:
        wall, summary = run_aura(emu.config_text(), args.concurrency, args.aura_args)
        counters = emu.counters
        media = counters.media_requests
        throttled = counters.throttled
        downloaded = summary["downloaded"]
        seconds = float(summary["seconds"])  # type: ignore[arg-type]
        old = None
        if args.old_sample:
            names = list(emu.library.images)[: args.old_sample]
            urls = [f"{emu.image_url}/u/{name}" for name in names]
            emu.config.throttle.rate = None  # the old script is far below any limit anyway
            old = old_script_pace(urls) * args.photos
    ideal = args.photos / args.rate
    result = {
        "elapsed": seconds,
        "wall": wall,
        "ideal": ideal,
        "ratio": seconds / ideal,
        "throttled_share": throttled / media if media else 0.0,
        "requests": float(media),
        "downloaded": float(downloaded),  # type: ignore[arg-type]
    }
    if old is not None:
        result["old"] = old
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=400)
    parser.add_argument("--photo-size", type=int, default=64 * 1024)
    parser.add_argument("--rate", type=float, default=20.0, help="server's allowed requests/s")
    parser.add_argument("--burst", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--variants", default="seconds,date,none")
    parser.add_argument(
        "--old-sample",
        type=int,
        default=10,
        help="files fetched at the old script's pace (0: skip)",
    )
    parser.add_argument(
        "--aura-args",
        nargs=argparse.REMAINDER,
        default=[],
        help="extra arguments for aura-async, e.g. --rate 30",
    )
    args = parser.parse_args()
    print(
        f"# {args.photos} photos, server allows {args.rate:g}/s (burst {args.burst}), "
        f"aura-async -j {args.concurrency} {' '.join(args.aura_args)}".rstrip()
    )
    print(
        f"{'Retry-After':<12} {'elapsed':>8} {'ideal':>6} {'ratio':>6} {'429 share':>10} "
        f"{'old/aura':>9}  target"
    )
    failed = False
    for mode in args.variants.split(","):
        r = variant(mode, args)
        max_ratio, max_share = TARGETS[mode]
        ok = r["ratio"] <= max_ratio and (max_share is None or r["throttled_share"] <= max_share)
        failed |= not ok or r["downloaded"] != args.photos
        old = f"{r['old'] / r['elapsed']:8.1f}x" if "old" in r else "       -"
        share_target = f", <= {max_share:.0%} 429" if max_share is not None else ""
        print(
            f"{mode:<12} {r['elapsed']:7.1f}s {r['ideal']:5.0f}s {r['ratio']:6.2f} "
            f"{r['throttled_share']:9.1%} {old}   <= {max_ratio}x{share_target}: "
            f"{'met' if ok else 'MISSED'}"
        )
    if args.old_sample:
        print(
            f"# old/aura: the old script's pace measured on {args.old_sample} files "
            f"(GET + sleep 2 s each), extrapolated to {args.photos}"
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
