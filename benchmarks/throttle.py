"""Throttling benchmark: how close to the least time each server policy allows?

aura-async downloads the same frame (300 photos of 64 KiB, ``-j 8``, default ``--rate``)
from an emulator that throttles media requests by each policy of
:mod:`aura_async.emulator.policies`, each with ``Retry-After`` in whole seconds, as an
HTTP date, or absent (``--variants``). Each policy's **least time** is the time its
allowance needs, as if requests took no time at all and the client knew the policy:

* token bucket (rate R, burst B): ``(N - B) / R``;
* fixed window, sliding window, long wait (quota Q per W seconds): ``(ceil(N / Q) - 1) x W``
  (a quota sent at once when each window opens);
* escalating ban over a bucket (R, B): ``(N - B) / R``: never banned.

Printed per variant: the run's own time (its JSON ``seconds``: listing included, process
start and login not), the least time, their ratio, the share of media requests answered
429, the bans and the quota windows the emulator counted, and the targets of issue 14 as
met or not met. Every file is compared with the emulator's bytes. ``--rate 0`` runs the
same variants without a ceiling (``--rate0``) and prints its time over the default's.
Rounds alternate the order of the variants; ratios are the medians over rounds.

Usage: python benchmarks/throttle.py [--rounds 2] [--photos 300] [--policies bucket,fixed]
       [--variants seconds,date,none] [--rate0 bucket,fixed,ban]
       [--server-rate 20 --burst 5 --quota 100 --window 10 --ban 2 --long-quota 200 --period 60]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from aura_async.emulator import (
    EmulatorConfig,
    EscalatingBan,
    FixedWindow,
    FrameSpec,
    LongWait,
    Policy,
    RetryAfterMode,
    SlidingWindow,
    Throttle,
    TokenBucket,
)
from aura_async.emulator.thread import emulator_in_thread

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import machine_line

NAMES = ("bucket", "fixed", "sliding", "ban", "long")


def policies(args: argparse.Namespace) -> dict[str, Policy]:
    """The policies of this run, from the flags (defaults: the benchmark's own)."""
    return {
        "bucket": TokenBucket(rate=args.server_rate, burst=args.burst),
        "fixed": FixedWindow(quota=args.quota, window=args.window),
        "sliding": SlidingWindow(quota=args.quota, window=args.window),
        "ban": EscalatingBan(
            rate=args.server_rate, burst=args.burst, ban=args.ban, repeat_within=10.0
        ),
        "long": LongWait(quota=args.long_quota, period=args.period),
    }


def describe(name: str, policy: Policy) -> str:
    """One line for the legend under the table."""
    if isinstance(policy, EscalatingBan):
        return (
            f"ban {policy.ban:g} s, doubled within {policy.repeat_within:g} s, forgiven after "
            f"{policy.forgive_after:g} s, over a bucket {policy.rate:g}/s, burst {policy.burst}"
        )
    if isinstance(policy, TokenBucket):
        return f"token bucket {policy.rate:g}/s, burst {policy.burst}"
    if isinstance(policy, LongWait):
        return f"long wait: {policy.quota} per {policy.period:g} s"
    kind = "fixed" if isinstance(policy, FixedWindow) else "sliding"
    return f"{kind} window {policy.quota} per {policy.window:g} s"


MAX_SHARE = 0.03
"""No more than 3 % of requests throttled, under any policy."""

MAX_RATE0 = 1.05
"""--rate 0 within 1.05 of the default."""


def least_time(policy: Policy, photos: int) -> float:
    """The least time ``policy`` allows for ``photos`` requests (see the module's text)."""
    if isinstance(policy, TokenBucket | EscalatingBan):
        return max(0, photos - policy.burst) / policy.rate
    if isinstance(policy, FixedWindow | SlidingWindow):
        return (math.ceil(photos / policy.quota) - 1) * policy.window
    return (math.ceil(photos / policy.quota) - 1) * policy.period


def allowance(policy: Policy) -> float:
    """Requests per second the policy allows in the long run."""
    if isinstance(policy, TokenBucket | EscalatingBan):
        return policy.rate
    if isinstance(policy, LongWait):
        return policy.quota / policy.period
    return policy.quota / policy.window


def ratio_target(name: str, mode: str) -> float | None:
    """The issue's target for elapsed / least (``None``: only the throttled share)."""
    if name in ("bucket", "fixed") and mode != "none":
        return 1.10
    if name == "fixed":
        return 1.3
    if name == "ban":
        return 1.3
    return None


@dataclass
class Run:
    """One download against one variant."""

    seconds: float
    share: float
    requests: int
    bans: int
    windows: int
    intact: bool
    exit_code: int
    lines: list[str]


def run_once(policy: Policy, mode: RetryAfterMode, photos: int, extra: list[str]) -> Run:
    """Start an emulator with the policy, run the CLI into a fresh folder, check the files."""
    config = EmulatorConfig(
        frames=[FrameSpec(photos=photos, videos=0, live_photos=0, placeholders=0, hidden=0)],
        photo_size=64 * 1024,
        throttle=Throttle(policy=policy, retry_after=mode),
    )
    with emulator_in_thread(config) as emu, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ini = folder / "credentials.ini"
        ini.write_text(emu.config_text(str(folder / "photos")), encoding="utf-8")
        ini.chmod(0o600)
        command = [sys.executable, "-m", "aura_async", "--config", str(ini), "myframe"]
        done = subprocess.run(
            [*command, "-j", "8", "--json", *extra],
            capture_output=True,
            text=True,
            check=False,
        )
        summary = json.loads(done.stdout.splitlines()[-1]) if done.stdout else {}
        frame = emu.library.frames[next(iter(emu.library.frames))]
        intact = True
        for asset in frame.assets:
            stem = asset["taken_at"].replace(":", "-") + "_" + asset["id"]
            path = folder / "photos" / (stem + Path(asset["file_name"]).suffix)
            intact &= path.is_file() and path.read_bytes() == emu.library.expected_bytes(asset)
        counters = emu.counters
        media = counters.media_requests
        return Run(
            seconds=float(summary.get("seconds", math.nan)),
            share=counters.throttled / media if media else 0.0,
            requests=media,
            bans=counters.policy.bans,
            windows=len(counters.quota_used),
            intact=intact,
            exit_code=done.returncode,
            lines=[line for line in done.stderr.splitlines() if "Aura " in line],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--policies", default=",".join(NAMES))
    parser.add_argument("--server-rate", type=float, default=20.0, help="bucket and ban: R/s")
    parser.add_argument("--burst", type=int, default=5, help="bucket and ban: burst")
    parser.add_argument("--quota", type=int, default=100, help="fixed, sliding: per window")
    parser.add_argument("--window", type=float, default=10.0, help="fixed, sliding: seconds")
    parser.add_argument("--ban", type=float, default=2.0, help="ban: first ban, seconds")
    parser.add_argument("--long-quota", type=int, default=200, help="long wait: per period")
    parser.add_argument("--period", type=float, default=60.0, help="long wait: seconds")
    parser.add_argument("--variants", default="seconds,date,none")
    parser.add_argument(
        "--rate0",
        default="bucket,fixed,ban",
        help="policies also run with --rate 0 (Retry-After in seconds, or the first of "
        "--variants without seconds); empty for none",
    )
    args = parser.parse_args()
    chosen = policies(args)
    names = [n for n in args.policies.split(",") if n]
    modes: list[RetryAfterMode] = [m for m in args.variants.split(",") if m]
    unknown = set(names) - set(NAMES) | set(modes) - set(get_args(RetryAfterMode))
    if unknown:
        parser.error(f"unknown policies or variants: {', '.join(sorted(unknown))}")
    plan: list[tuple[str, RetryAfterMode, bool]] = [(n, m, False) for n in names for m in modes]
    # beside a default run of the same mode (a KeyError without "seconds" in --variants)
    beside: RetryAfterMode = "seconds" if "seconds" in modes or not modes else modes[0]
    plan += [(n, beside, True) for n in args.rate0.split(",") if n in names]
    results: dict[tuple[str, str, bool], list[Run]] = {key: [] for key in plan}
    started = time.monotonic()
    for index in range(args.rounds):
        order = plan if index % 2 == 0 else list(reversed(plan))
        for name, mode, rate0 in order:
            extra = ["--rate", "0"] if rate0 else []
            results[(name, mode, rate0)].append(run_once(chosen[name], mode, args.photos, extra))
    print(f"# {machine_line()}")
    print(
        f"# {args.photos} photos of 64 KiB, aura-async -j 8, default --rate unless said; "
        f"{args.rounds} rounds in alternating order, medians; {time.monotonic() - started:.0f} s"
    )
    header = (
        f"{'policy':<8} {'Retry-After':<11} {'elapsed':>8} {'least':>6} {'ratio':>6} "
        f"{'throttled':>9} {'bans':>4} {'windows':>7}  targets"
    )
    print(header)
    failed = False
    for name, mode, rate0 in plan:
        if rate0:
            continue
        runs = results[(name, mode, False)]
        least = least_time(chosen[name], args.photos)
        seconds = statistics.median(r.seconds for r in runs)
        ratio = statistics.median(r.seconds / least for r in runs)
        share = statistics.median(r.share for r in runs)
        target = ratio_target(name, mode)
        checks = []
        if target is not None:
            checks.append((f"<= {target:.2f}x", ratio <= target))
        checks.append((f"<= {MAX_SHARE:.0%} throttled", share <= MAX_SHARE))
        intact = all(r.intact and r.exit_code == 0 for r in runs)
        checks.append(("files intact, exit 0", intact))
        failed |= not all(ok for _, ok in checks)
        verdict = "; ".join(f"{text}: {'met' if ok else 'NOT MET'}" for text, ok in checks)
        bans = max(r.bans for r in runs)
        windows = max(r.windows for r in runs)
        print(
            f"{name:<8} {mode:<11} {seconds:7.1f}s {least:5.1f}s {ratio:6.2f} "
            f"{share:9.1%} {bans:4d} {windows:7d}  {verdict}"
        )
    rate0_rows = [(n, m) for n, m, r in plan if r]
    if rate0_rows:
        columns = f"{'policy':<8} {'Retry-After':<11} {'--rate 0':>9} {'default':>8} {'ratio':>6}"
        print(f"\n{columns}  target")
        for name, mode in rate0_rows:
            fast = statistics.median(r.seconds for r in results[(name, mode, True)])
            default = statistics.median(r.seconds for r in results[(name, mode, False)])
            ok = fast / default <= MAX_RATE0 and all(
                r.intact and r.exit_code == 0 for r in results[(name, mode, True)]
            )
            failed |= not ok
            print(
                f"{name:<8} {mode:<11} {fast:8.1f}s {default:7.1f}s {fast / default:6.3f}  "
                f"<= {MAX_RATE0}x: {'met' if ok else 'NOT MET'}"
            )
    for name in names:
        above = allowance(chosen[name]) > 25.0
        note = " (allows more than the default --rate 25/s: the least time needs --rate 0)"
        print(f"# {name}: {describe(name, chosen[name])}{note if above else ''}")
    said = sorted(
        {
            line.split("INFO", 1)[-1].strip()
            for rs in results.values()
            for r in rs
            for line in r.lines
        }
    )
    for line in said[:3]:
        print(f"# said: {line}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
