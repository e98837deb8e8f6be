"""What the command does once its options are parsed: download, verify, list, count, demo.

Part of the CLI layer (with :mod:`aura_async.cli` and :mod:`aura_async.console`): it prints
results on stdout, reports through the :class:`~aura_async.console.Display`, and turns
outcomes into exit codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aura_async.cli.console import Display
from aura_async.config import FrameConfig, Settings
from aura_async.download.session import Runner
from aura_async.exceptions import AuraError, ExitCode, NotFound, RateLimited, WaitedTooLong
from aura_async.models import Asset, MediaKind
from aura_async.options import RunOptions
from aura_async.report import FrameReport
from aura_async.store.verify import verify_frame

__all__ = ["ExitCode", "Invocation", "execute", "run_demo"]


@dataclass
class Invocation:
    """What one invocation was asked to do."""

    settings: Settings
    names: list[str]
    options: RunOptions
    display: Display
    list_frames: bool = False
    count: bool = False
    verify: bool = False
    json_out: bool = False


def execute(job: Invocation) -> ExitCode:
    """Do what the command line asked; return the exit code."""
    if job.verify:
        try:
            return _verify(job)
        except KeyboardInterrupt:
            job.display.error("interrupted: --verify only reads, nothing was changed")
            return ExitCode.INTERRUPTED
    return _guarded(job.display, job.json_out, lambda unreported: _main(job, unreported))


def _guarded(
    display: Display,
    json_out: bool,
    start: Callable[[list[FrameReport]], Coroutine[Any, Any, ExitCode]],
) -> ExitCode:
    """Run ``start`` in an event loop; Ctrl-C, SIGTERM and bugs end in one clear way.

    ``start`` gets a list to keep the reports of frames begun but not yet summarised: the
    ones an interruption cuts short (even a second Ctrl-C, during their cleanup), whose
    summaries are printed here.
    """
    unreported: list[FrameReport] = []
    runner = asyncio.Runner()
    try:
        return runner.run(start(unreported))
    except (KeyboardInterrupt, asyncio.CancelledError):  # Ctrl-C, or SIGTERM
        display.stop()
        for report in unreported:
            report.interrupted = True
            display.summary(report)
            if json_out:
                _print_json(report)
        display.error(
            "interrupted: finished files are kept, unfinished ones stay as "
            ".part and are fetched again next run"
        )
        return ExitCode.INTERRUPTED
    except Exception as exc:  # a bug: one line, the traceback only with --debug
        display.stop()
        if display.debug_enabled:
            display.error(traceback.format_exc().rstrip())
        display.error(
            f"internal error: {type(exc).__name__}: {exc} (please report it; "
            "--debug shows the traceback)"
        )
        return ExitCode.FAILED
    finally:
        _close(runner, display)


WAIT_HINT_AFTER = 2.0
"""Seconds of waiting for disk work at the end before saying so."""


def _close(runner: asyncio.Runner, display: Display) -> None:
    """Close the event loop, after the summary: it waits for disk work still running in
    worker threads, and a write to a network share that stopped answering may never end.
    After :data:`WAIT_HINT_AFTER` seconds the wait is explained; a Ctrl-C then quits at
    once (finished files are complete; the rest stay ``.part``, as after any interruption).
    """
    hint = threading.Timer(
        WAIT_HINT_AFTER,
        display.warning,
        ["waiting for work in progress (a disk or share not answering?); Ctrl-C to quit now"],
    )
    hint.start()
    try:
        runner.close()
    except KeyboardInterrupt:
        display.error("quit without waiting for the disk")
        for stream in (sys.stdout, sys.stderr):  # os._exit skips Python's own flush
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(ExitCode.INTERRUPTED)
    finally:
        hint.cancel()


def _overall(codes: list[ExitCode]) -> ExitCode:
    """One exit code for several frames: a locked folder (another run is at work, which a
    scheduler may treat as benign) never hides a real failure of another frame."""
    real = [code for code in codes if code not in (ExitCode.OK, ExitCode.LOCKED)]
    if real:
        return max(real)
    return ExitCode.LOCKED if ExitCode.LOCKED in codes else ExitCode.OK


def _stop_on_sigterm() -> None:
    """Let SIGTERM (systemctl stop, timeout, shutdown) stop the run as Ctrl-C does."""
    task = asyncio.current_task()
    if task is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows has no such handler
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)


async def _main(job: Invocation, unreported: list[FrameReport]) -> ExitCode:
    display = job.display
    _stop_on_sigterm()
    try:
        async with Runner(job.settings, job.options, on_event=display.handle) as run:
            display.secrets.update(run.client.secrets())
            if job.list_frames:
                await _list_frames(run, job)
                return ExitCode.OK
            codes = []
            for name in job.names:
                code, stop = await _frame(run, job.settings.frame(name), job, unreported)
                codes.append(code)
                if stop:
                    break  # the account or the server, not this frame: the others would fail too
            return _overall(codes)
    except AuraError as exc:  # logging in, or listing the account's frames
        display.error(str(exc))
        return exc.exit_code


async def _frame(
    run: Runner, frame: FrameConfig, job: Invocation, unreported: list[FrameReport]
) -> tuple[ExitCode, bool]:
    """Do one frame; returns its exit code and whether the error stops the run."""
    display = job.display
    if job.count:
        try:
            assets = await run.assets(frame)
        except NotFound:
            display.error(_not_found(frame))
            return ExitCode.NOT_FOUND, False
        _print_count(frame, assets, job.json_out)
        return ExitCode.OK, False
    report = FrameReport(frame.name, frame.frame_id)
    unreported.append(report)  # until its summary below: an interruption prints it
    display.info(f"{frame.name}: listing frame {frame.frame_id} into {frame.file_path}")
    code = ExitCode.OK
    stop = False
    plan = None
    try:
        plan = await run.download(frame, report)
    except AuraError as exc:
        # This frame cannot go on. Login trouble and endless throttling stop the whole run
        # (see _main); anything else lets the other frames of an --all run go on.
        display.stop()
        if isinstance(exc, WaitedTooLong):
            report.error = (
                f"gave up: {exc}; files done are kept: run again later, or allow a longer "
                "wait with --max-wait"
            )
        elif isinstance(exc, RateLimited):
            report.error = (
                f"gave up: the server kept throttling ({exc}); try again later, or lower --rate"
            )
        else:
            report.error = _not_found(frame) if isinstance(exc, NotFound) else str(exc)
        display.error(report.error)
        code, stop = exc.exit_code, exc.stops_run
    unreported.remove(report)
    display.stop()
    display.secrets.update(run.client.secrets())  # a token renewed during the frame
    if plan is not None and job.options.download.dry_run and not job.json_out:
        for planned in plan.jobs:
            _out(f"would download {frame.file_path / planned.relpath}\n")
    if code in (ExitCode.OK, ExitCode.FAILED, ExitCode.THROTTLED):
        display.summary(report)
    if job.json_out:
        _print_json(report)
    return max(code, ExitCode.FAILED if report.failed else ExitCode.OK), stop


def _verify(job: Invocation) -> ExitCode:
    code = ExitCode.OK
    for name in job.names:
        try:
            frame = job.settings.frame(name)
            job.display.info(f"{name}: verifying the files recorded in {frame.file_path}")
            report = verify_frame(frame)
        except AuraError as exc:
            job.display.error(str(exc))
            code = ExitCode.FAILED
            continue
        for relpath in report.missing:
            job.display.warning(f"missing {relpath}")
        for relpath in report.changed:
            job.display.warning(f"changed {relpath}")
        if report.ok:
            job.display.info(report.summary_line())
        else:
            job.display.error(report.summary_line())
            code = ExitCode.FAILED
        if job.json_out:
            _out(json.dumps(report.to_json()) + "\n")
    return code


def _not_found(frame: FrameConfig) -> str:
    return (
        f"frame [{frame.name}] not found: Aura does not know frame_id {frame.frame_id} "
        "or this account cannot see it (check it with: aura-async --list-frames)"
    )


def _out(text: str) -> None:
    """Write to stdout; a reader that went away (``| head``) never stops a download."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Point stdout at /dev/null so later writes, and Python's own flush at exit, are
        # silent: the files still matter even if nobody reads the listing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _print_json(report: FrameReport) -> None:
    _out(json.dumps(report.to_json()) + "\n")


def _print_count(frame: FrameConfig, assets: list[Asset], json_out: bool) -> None:
    real = [a for a in assets if not a.is_placeholder]
    clips = [a.clip_kind for a in real]
    counts = {
        "frame": frame.name,
        "assets": len(real),
        "videos": clips.count(MediaKind.VIDEO),
        "live_photos": clips.count(MediaKind.LIVE),
        "placeholders": len(assets) - len(real),
    }
    if json_out:
        _out(json.dumps(counts) + "\n")
    else:
        _out(
            f"{frame.name}: {counts['assets']} photos ({counts['videos']} videos, "
            f"{counts['live_photos']} Live Photos; {counts['placeholders']} unfinished "
            "uploads not counted)\n"
        )


async def _list_frames(run: Runner, job: Invocation) -> None:
    frames = await run.frames()
    by_id = {
        job.settings.frame_sections[n].get("frame_id", ""): n for n in job.settings.frame_names
    }
    if job.json_out:
        for frame in frames:
            _out(
                json.dumps(
                    {
                        "id": frame.id,
                        "name": frame.name,
                        "num_assets": frame.num_assets,
                        "section": by_id.get(frame.id),
                    }
                )
                + "\n"
            )
        return
    if not frames:
        job.display.warning("this account has no frames")
    for frame in frames:
        section = f"[{by_id[frame.id]}]" if frame.id in by_id else "(not in config)"
        photos = "?" if frame.num_assets is None else str(frame.num_assets)
        _out(f"{frame.id}  {frame.name or '(unnamed)'}  {photos} photos  {section}\n")


def run_demo(demo_dir: Path, options: RunOptions, display: Display, json_out: bool) -> ExitCode:
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
            job = Invocation(settings, ["demo"], options, display, json_out=json_out)
            code = await _main(job, unreported)
        display.info(
            f"demo: done. Run it again: nothing is downloaded twice. Files are in {demo_dir}/"
        )
        return code

    return _guarded(display, json_out, run)
