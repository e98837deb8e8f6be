"""``aura-async --demo``: the whole job against the built-in emulated Aura, no account and
no network.

Part of the CLI layer: it starts an :class:`~aura_async.emulator.Emulator` with one frame on
loopback, points settings at it, and runs the same download as a real invocation
(:func:`~aura_async.cli.actions.run_invocation`) into ``--demo-dir``.
"""

from __future__ import annotations

from pathlib import Path

from aura_async.cli.actions import guarded, run_invocation
from aura_async.cli.console import Display
from aura_async.cli.invocation import Invocation
from aura_async.cli.stdout import Stdout
from aura_async.config import Settings
from aura_async.exceptions import ExitCode
from aura_async.options import RunOptions
from aura_async.report import FrameReport

__all__ = ["run_demo"]


def run_demo(
    demo_dir: Path, options: RunOptions, display: Display, out: Stdout, json_out: bool
) -> ExitCode:
    # Imported here: only --demo needs aiohttp.web, ~50 ms of every other run's start.
    from aura_async.emulator import Emulator, EmulatorConfig, FrameSpec

    async def run(unreported: list[FrameReport]) -> ExitCode:
        config = EmulatorConfig(
            frames=[
                FrameSpec(
                    name="Demo Family Frame",
                    photos=240,
                    videos=6,
                    live_photos=6,
                    placeholders=3,
                    hidden=2,
                )
            ],
            photo_size=96 * 1024,
            video_size=768 * 1024,
            media_latency=0.02,
        )
        async with Emulator(config) as emulator:
            frame_id = next(iter(emulator.library.frames))
            settings = Settings(
                email=config.email,
                password=config.password,
                api_url=emulator.api_url,
                image_url=emulator.image_url,
                config_path=Path("(demo)"),
                frame_sections={"demo": {"frame_id": frame_id, "file_path": str(demo_dir)}},
            )
            display.info(
                f"demo: an emulated Aura is serving on {emulator.base_url}; "
                f"downloading its frame into {demo_dir}/"
            )
            job = Invocation(settings, ["demo"], options, display, out, json_out=json_out)
            code = await run_invocation(job, unreported)
        if options.download.dry_run:
            display.info("demo: dry run done; nothing was written")
        else:
            display.info(
                f"demo: done. Run it again: nothing is downloaded twice. Files are in {demo_dir}/"
            )
        return code

    return guarded(display, out if json_out else None, run)
