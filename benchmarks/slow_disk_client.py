"""One aura-async download into a folder on an injected slow disk: the client that
:mod:`benchmarks.slowdisk` runs, once per build under test.

It imports nothing but ``aura_async`` (so any build's interpreter can run it by path) and
downloads the ``[myframe]`` section of ``CONFIG`` through the library's
:class:`~aura_async.download.session.Runner`, like ``aura-async CONFIG myframe --rate 0``
does, with a :class:`~aura_async.seams.Disk` whose files are slow: every ``write`` and
``close`` of a file takes ``--latency`` seconds plus its bytes at ``--bandwidth``, and every
``fsync`` ``--sync-latency`` seconds, spent in ``time.sleep`` (which lets go of the GIL, as
a real disk wait does). That is a network share or a USB disk as the run sees it: the
folder's :class:`~aura_async.seams.DiskPace` finds its first step slower than its limit and
sends the ``.part`` writes, closes and state commits to worker threads, the path this
benchmark measures. The state database itself (SQLite) is written to the real disk.

Usage (the benchmark runs it; by hand)::

    python benchmarks/slow_disk_client.py CONFIG -j 8 --latency 0.002
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from aura_async import DownloadOptions, FrameReport, RunOptions, load_settings
from aura_async.download.session import Runner
from aura_async.seams import Disk, File, Mode, Seams


class _SlowFile:
    """A real file whose writes and close wait like a slow disk's."""

    def __init__(self, disk: SlowDisk, real: File) -> None:
        self._disk, self._real = disk, real

    def read(self, size: int = -1, /) -> bytes:
        data = self._real.read(size)
        self._disk.wait(len(data))
        return data

    def write(self, data: bytes, /) -> int:
        self._disk.wait(len(data))
        return self._real.write(data)

    def close(self) -> None:
        self._disk.wait(0)
        self._real.close()


class SlowDisk(Disk):
    """The real disk, each operation of a download's files made to wait first.

    Args:
        latency: seconds every read, write and close waits.
        bandwidth: bytes per second a read or write moves on top of that.
        sync_latency: seconds every ``fsync`` of a file or folder waits.
    """

    def __init__(self, latency: float, bandwidth: float, sync_latency: float) -> None:
        self.latency, self.bandwidth, self.sync_latency = latency, bandwidth, sync_latency

    def wait(self, size: int) -> None:
        """Block like a slow disk moving ``size`` bytes."""
        time.sleep(self.latency + size / self.bandwidth)

    def open(self, path: Path, mode: Mode) -> File:
        self.wait(0)
        return _SlowFile(self, super().open(path, mode))

    def sync(self, path: Path) -> None:
        time.sleep(self.sync_latency)
        super().sync(path)

    def sync_folder(self, folder: Path) -> None:
        time.sleep(self.sync_latency)
        super().sync_folder(folder)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("config", type=Path, help="an aura-async config with a [myframe] section")
    p.add_argument("--concurrency", "-j", type=int, default=8, help="parallel downloads (8)")
    p.add_argument("--latency", type=float, default=0.002, help="seconds per operation")
    p.add_argument("--bandwidth", type=float, default=50e6, help="bytes per second (50e6)")
    p.add_argument("--sync-latency", type=float, default=0.005, help="seconds per fsync")
    p.add_argument("--sidecars", choices=("json", "xmp"), default=None, help="write sidecars")
    return p


async def _download(args: argparse.Namespace) -> int:
    settings = load_settings(args.config, {})
    options = RunOptions(
        download=DownloadOptions(concurrency=args.concurrency, sidecars=args.sidecars),
        rate=None,
    )
    seams = Seams(disk=SlowDisk(args.latency, args.bandwidth, args.sync_latency))
    report = FrameReport("myframe")
    async with Runner(settings, options, seams=seams) as run:
        await run.download(settings.frame("myframe"), report)
    if report.failed:
        print(f"{report.failed} files failed", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Download the frame; exit 1 if a file failed."""
    return asyncio.run(_download(_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
