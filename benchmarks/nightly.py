"""Nightly-run benchmark: a 20,000-asset frame that is already downloaded.

The emulator (in this process, so its request counters can be read) serves a frame of
``--assets`` small photos. A folder holding every file is prepared (files created under
the names the planner gives, then adopted into the state by one untimed run). Then, with
``os.wait4`` around each ``aura-async`` process, alternating, ``--runs`` times:

* listing alone: ``aura-async --count`` (log in, fetch and parse the whole listing);
* full no-op rerun: ``aura-async myframe`` (list, plan against disk and state, fetch
  nothing, record what was seen, the run, and removals);
* ``aura-async myframe --until-found 50``: pages fetched and wall time.

Targets: rerun / listing <= 1.3 (medians); ``--until-found 50`` fetches one page and takes
under 1 s.

Usage::

    python -m benchmarks.nightly                  # 20,000 assets, 3 rounds
    python -m benchmarks.nightly --assets 50000 --runs 1
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from aura_async.config import Settings
from aura_async.download.session import Runner
from aura_async.emulator import EmulatorConfig, FrameSpec
from aura_async.emulator.thread import emulator_in_thread
from aura_async.plan.planner import Planner
from benchmarks.common import add_workdir, aura_async_command, machine_line, measure, median

RATIO_TARGET = 1.3
UNTIL_FOUND_SECONDS = 1.0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", "-n", type=int, default=3, help="rounds (default 3)")
    p.add_argument("--assets", type=int, default=20_000, help="photos in the frame (20000)")
    add_workdir(p)
    return p


def _prepare(settings: Settings, folder: Path) -> int:
    """Create every file of the frame under its planned name; return how many."""
    import asyncio

    async def jobs() -> list[str]:
        planner = Planner(image_base=settings.image_url)
        async with Runner(settings) as run:
            async for page in run.client.asset_pages(settings.frame("myframe").frame_id):
                for asset in page.assets:
                    planner.add(asset)
        return [job.relpath for job in planner.plan.jobs]

    relpaths = asyncio.run(jobs())
    for relpath in relpaths:
        (folder / relpath).parent.mkdir(parents=True, exist_ok=True)
        (folder / relpath).write_bytes(b"x")
    return len(relpaths)


def main() -> int:
    args = _parser().parse_args()
    aura = aura_async_command()
    if aura is None:
        print("aura-async is not installed in this environment", file=sys.stderr)
        return 2
    config = EmulatorConfig(
        frames=[FrameSpec(photos=args.assets, videos=0, live_photos=0, placeholders=0, hidden=0)],
        photo_size=1024,
    )
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp, emulator_in_thread(config) as emu:
        folder = Path(tmp) / "photos"
        cfg = Path(tmp) / "credentials.ini"
        cfg.write_text(emu.config_text(str(folder)), encoding="utf-8")
        cfg.chmod(0o600)
        settings = Settings(
            email=emu.config.email,
            password=emu.config.password,
            api_url=emu.api_url,
            image_url=emu.image_url,
            frame_sections={
                "myframe": {"frame_id": next(iter(emu.library.frames)), "file_path": str(folder)}
            },
        )
        count = _prepare(settings, folder)
        base = [aura, "--config", str(cfg), "myframe", "--quiet", "--json"]
        subprocess.run(base, check=True, capture_output=True)  # adopt the folder: untimed
        print(machine_line())
        print(f"# {count} assets already downloaded, {args.runs} rounds")
        listing, rerun, until = [], [], []
        pages = []
        for round_ in range(args.runs):
            listing.append(measure([aura, "--config", str(cfg), "myframe", "--count"]).wall)
            sample = measure(base)
            rerun.append(sample.wall)
            emu.counters.reset()
            until.append(measure([*base, "--until-found", "50"]).wall)
            pages.append(emu.counters.count("assets"))
            print(
                f"round {round_ + 1}: listing {listing[-1]:.2f}s, rerun {rerun[-1]:.2f}s, "
                f"--until-found 50 {until[-1]:.2f}s ({pages[-1]} page)"
            )
        check = subprocess.run(base, capture_output=True, text=True, check=True)
        summary = json.loads(check.stdout.splitlines()[-1])
        assert summary["downloaded"] == 0, summary
    ratio = median(rerun) / median(listing)
    ok_ratio = ratio <= RATIO_TARGET
    ok_until = max(pages) == 1 and median(until) < UNTIL_FOUND_SECONDS
    print(
        f"\nno-op rerun / listing alone: {median(rerun):.2f}s / {median(listing):.2f}s = "
        f"x{ratio:.3f} (target <= {RATIO_TARGET}: {'met' if ok_ratio else 'MISSED'})"
    )
    print(
        f"--until-found 50: {max(pages)} page(s), {median(until):.2f}s (target one page, "
        f"< {UNTIL_FOUND_SECONDS:.0f}s: {'met' if ok_until else 'MISSED'})"
    )
    return 0 if ok_ratio and ok_until else 1


if __name__ == "__main__":
    sys.exit(main())
