"""The ``aura-async`` command: the only module that prints, exits or reads the environment.

Exit codes (DESIGN.md): 0 nothing failed; 1 some files failed; 2 usage or config error;
3 login failed; 4 frame not found; 5 gave up because the server kept throttling; 6 another
run holds the lock; 130 interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import traceback
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console

from . import __version__
from .client import Timeouts
from .config import FrameConfig, Settings, default_config_path, load_settings
from .console import Display
from .downloader import DownloadOptions
from .exceptions import (
    AuraError,
    AuthError,
    ConfigError,
    LockHeld,
    NotFound,
    RateLimited,
    StorageError,
)
from .models import Asset, MediaKind
from .plan import Dedupe, Selection
from .report import FrameReport
from .retry import RetryPolicy
from .run import DEFAULT_RATE, Runner, RunOptions
from .templates import DEFAULT_NAME, Templates
from .verify import verify_frame

__all__ = ["ExitCode", "app", "main"]


class ExitCode(IntEnum):
    """The command's exit codes."""

    OK = 0
    FAILED = 1
    USAGE = 2
    LOGIN = 3
    NOT_FOUND = 4
    THROTTLED = 5
    LOCKED = 6
    INTERRUPTED = 130


app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,  # never print locals (they hold the password)
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class _Job:
    """What one invocation was asked to do."""

    settings: Settings
    names: list[str]
    options: RunOptions
    display: Display
    list_frames: bool = False
    count: bool = False
    verify: bool = False
    json_out: bool = False


def _fail(message: str, code: ExitCode) -> typer.Exit:
    typer.echo(f"aura-async: error: {message}", err=True)
    return typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aura-async {__version__}")
        raise typer.Exit()


@app.command(
    help="Download every photo, video and Live Photo of your Aura frames, and keep the copy "
    "up to date. FRAME is a section of the config file; see README.md for the config format.",
    epilog="Exit codes: 0 ok, 1 some files failed, 2 usage/config error, 3 login failed, "
    "4 frame not found, 5 server kept throttling, 6 folder locked by another run, "
    "130 interrupted.",
)
def command(
    frames: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="FRAME",
            help="Frame sections of the config file to download.",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Config file [default: $AURA_CONFIG or ~/etc/aura/credentials.ini].",
            show_default=False,
        ),
    ] = None,
    all_frames: Annotated[
        bool, typer.Option("--all", help="Download every frame in the config file, with one login.")
    ] = False,
    list_frames: Annotated[
        bool,
        typer.Option(
            "--list-frames",
            help="Print the account's frames (name, id, photos) and exit; needs only [login].",
        ),
    ] = False,
    count: Annotated[
        bool, typer.Option("--count", help="Print the number of photos in each frame, then exit.")
    ] = False,
    years: Annotated[
        bool,
        typer.Option(
            "--years", help="Save files under FILE_PATH/YYYY/ by the year they were taken."
        ),
    ] = False,
    folder_template: Annotated[
        str | None,
        typer.Option(
            "--folder-template",
            help="Sub-folders from tokens {year} {month} {day} {uploader} {frame} {id}, "
            "'/'-separated; --years is \"{year}\".",
            show_default=False,
        ),
    ] = None,
    name_template: Annotated[
        str,
        typer.Option(
            "--name-template",
            help="File names from tokens, also {taken_at} and {ext}; must keep {id} and {ext}.",
        ),
    ] = DEFAULT_NAME,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-j", min=1, max=64, help="Files downloaded at once.")
    ] = 4,
    rate: Annotated[
        float,
        typer.Option(
            "--rate",
            min=0.0,
            help="Most media requests per second (0: no ceiling); lowered automatically "
            "while Aura throttles.",
        ),
    ] = DEFAULT_RATE,
    include_hidden: Annotated[
        bool,
        typer.Option("--include-hidden", help="Also download photos hidden from the slideshow."),
    ] = False,
    no_videos: Annotated[
        bool, typer.Option("--no-videos", help="Skip video clips and Live Photo motion.")
    ] = False,
    videos_only: Annotated[
        bool,
        typer.Option("--videos-only", help="Only video clips and Live Photo motion, no stills."),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only photos taken on or after DATE (YYYY[-MM[-DD]]).",
            metavar="DATE",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            help="Only photos taken on or before DATE (YYYY[-MM[-DD]]).",
            metavar="DATE",
            show_default=False,
        ),
    ] = None,
    uploader: Annotated[
        list[str] | None,
        typer.Option(
            "--uploader",
            help="Only photos uploaded by NAME (repeatable).",
            metavar="NAME",
            show_default=False,
        ),
    ] = None,
    until_found: Annotated[
        int | None,
        typer.Option(
            "--until-found",
            min=1,
            metavar="N",
            help="Stop listing after N photos in a row that are already here (fast nightly "
            "runs; older gaps wait for a full run).",
            show_default=False,
        ),
    ] = None,
    restore_missing: Annotated[
        bool,
        typer.Option(
            "--restore-missing",
            help="Download again files you moved away or deleted after a download.",
        ),
    ] = False,
    dedupe: Annotated[
        Dedupe,
        typer.Option(
            "--dedupe",
            help="The same photo uploaded twice: hard-link the second "
            "name to the first copy, skip it, or download it (off).",
        ),
    ] = Dedupe.HARDLINK,
    sidecars: Annotated[
        str,
        typer.Option("--sidecars", help="Write a sidecar beside each file: json, xmp or off."),
    ] = "off",
    write_exif: Annotated[
        bool,
        typer.Option(
            "--write-exif",
            help="Add date, place, uploader and caption to "
            "downloaded JPEGs without EXIF (no re-encoding).",
        ),
    ] = False,
    save_assets: Annotated[
        Path | None,
        typer.Option(
            "--save-assets",
            metavar="FILE",
            help="Save the frame's raw listing as JSON to FILE.",
            show_default=False,
        ),
    ] = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Re-hash local files against the state and report "
            "missing or changed ones (no network); exit 1 if any.",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be downloaded; write nothing.")
    ] = False,
    json_out: Annotated[
        bool,
        typer.Option(
            "--json", help="Print one JSON summary per frame on stdout (logs go to stderr)."
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="Only warnings, errors, and the summary of a run that failed."
        ),
    ] = False,
    log_file: Annotated[
        Path | None,
        typer.Option(
            "--log-file", help="Also append plain log lines to this file.", show_default=False
        ),
    ] = None,
    connect_timeout: Annotated[
        float,
        typer.Option("--connect-timeout", min=1.0, help="Seconds to wait for a connection."),
    ] = 30.0,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1.0, help="Seconds of network silence before a retry.")
    ] = 60.0,
    retries: Annotated[
        int,
        typer.Option("--retries", min=1, max=100, help="Attempts per file before it fails."),
    ] = 8,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show per-file detail and retries.")
    ] = False,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Run against a built-in emulated Aura: no account, no network."
        ),
    ] = False,
    demo_dir: Annotated[
        Path, typer.Option("--demo-dir", help="Where --demo saves its files.")
    ] = Path("aura-demo"),
    version: Annotated[
        bool | None,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = None,
) -> None:
    names = list(frames or [])
    if no_videos and videos_only:
        raise _fail("--no-videos and --videos-only exclude each other", ExitCode.USAGE)
    if years and folder_template is not None:
        raise _fail('--years is --folder-template "{year}": give one of them', ExitCode.USAGE)
    if sidecars not in ("json", "xmp", "off"):
        raise _fail(f"--sidecars takes json, xmp or off, not {sidecars!r}", ExitCode.USAGE)
    layout = Templates(folder="{year}" if years else folder_template or "", name=name_template)
    try:
        layout.validate()
        selection = Selection(
            stills=not videos_only,
            clips=not no_videos,
            since=_date(since, "--since"),
            until=_date(until, "--until"),
            uploaders=frozenset(n.casefold() for n in uploader or []),
        )
    except ConfigError as exc:
        raise _fail(str(exc), ExitCode.USAGE) from None
    if demo and (names or all_frames or list_frames):
        raise _fail("--demo runs on its own; drop the frame names", ExitCode.USAGE)
    if all_frames and names:
        raise _fail("give frame names or --all, not both", ExitCode.USAGE)
    if not (demo or names or all_frames or list_frames):
        raise _fail(
            "name a frame from the config file (or use --all, --list-frames, --demo); see --help",
            ExitCode.USAGE,
        )

    interactive = sys.stderr.isatty() and not json_out and not debug
    log_handle: TextIO | None = None
    if log_file is not None:
        log_file = log_file.expanduser()
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            log_handle = log_file.open("a", encoding="utf-8")
        except OSError as exc:
            raise _fail(f"cannot open log file {log_file}: {exc.strerror}", ExitCode.USAGE) from exc
    display = Display(
        Console(stderr=True), interactive=interactive, quiet=quiet, debug=debug, log_file=log_handle
    )
    options = RunOptions(
        download=DownloadOptions(
            concurrency=concurrency,
            layout=layout,
            selection=selection,
            include_hidden=include_hidden,
            until_found=until_found,
            restore_missing=restore_missing,
            dedupe=dedupe,
            sidecars=None if sidecars == "off" else sidecars,
            write_exif=write_exif,
            save_assets=save_assets,
            dry_run=dry_run,
            policy=RetryPolicy(attempts=retries),
        ),
        rate=rate,
        timeouts=Timeouts(connect=connect_timeout, read=timeout),
    )
    try:
        if demo:
            code = _demo(demo_dir, options, display, json_out)
        else:
            settings = _settings(config, display)
            if all_frames:
                names = settings.frame_names
                if not names:
                    raise ConfigError(f"config file {settings.config_path}: no frame sections")
            for name in names:
                settings.frame(name)  # every name checked before any request
            code = _execute(
                _Job(
                    settings,
                    names,
                    options,
                    display,
                    list_frames=list_frames,
                    count=count,
                    verify=verify,
                    json_out=json_out,
                )
            )
    except ConfigError as exc:
        raise _fail(str(exc), ExitCode.USAGE) from None
    finally:
        display.stop()
        if log_handle is not None:
            log_handle.close()
    raise typer.Exit(code)


def _date(value: str | None, flag: str) -> str | None:
    """Check a YYYY, YYYY-MM or YYYY-MM-DD date (compared with taken_at's prefix)."""
    if value is None:
        return None
    if not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", value):
        raise ConfigError(f"{flag} takes a date like 2024, 2024-06 or 2024-06-30, not {value!r}")
    return value


def _settings(config: Path | None, display: Display) -> Settings:
    path = config.expanduser() if config is not None else default_config_path(os.environ)
    settings = load_settings(path, os.environ)
    display.secrets.add(settings.password)
    for warning in settings.warnings:
        display.warning(warning)
    return settings


def _execute(job: _Job) -> ExitCode:
    if job.verify:
        return _verify(job)
    reports: list[FrameReport] = []
    try:
        return asyncio.run(_main(job, reports))
    except (KeyboardInterrupt, asyncio.CancelledError):  # Ctrl-C, or SIGTERM
        job.display.stop()
        for report in reports:
            if not report.interrupted:
                continue  # finished frames had their summary already
            job.display.summary(report)
            if job.json_out:
                _print_json(report)
        job.display.error(
            "interrupted: finished files are kept, unfinished ones stay as "
            ".part and are fetched again next run"
        )
        return ExitCode.INTERRUPTED
    except Exception as exc:  # a bug: one line, the traceback only with --debug
        job.display.stop()
        if job.display.debug_enabled:
            job.display.error(traceback.format_exc().rstrip())
        job.display.error(
            f"internal error: {type(exc).__name__}: {exc} (please report it; "
            "--debug shows the traceback)"
        )
        return ExitCode.FAILED


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


async def _main(job: _Job, reports: list[FrameReport]) -> ExitCode:
    display = job.display
    _stop_on_sigterm()
    try:
        async with Runner(job.settings, job.options, on_event=display.handle) as run:
            display.secrets.update(run.client.secrets())
            if job.list_frames:
                await _list_frames(run, job)
                return ExitCode.OK
            codes = [
                await _frame(run, job.settings.frame(name), job, reports) for name in job.names
            ]
            return _overall(codes)
    except AuthError as exc:
        display.error(str(exc))
        return ExitCode.LOGIN
    except RateLimited as exc:
        display.error(
            f"gave up: the server kept throttling ({exc}); try again later, or lower --rate"
        )
        return ExitCode.THROTTLED
    except AuraError as exc:
        display.error(str(exc))
        return ExitCode.FAILED


async def _frame(
    run: Runner, frame: FrameConfig, job: _Job, reports: list[FrameReport]
) -> ExitCode:
    display = job.display
    if job.count:
        try:
            assets = await run.assets(frame)
        except NotFound:
            display.error(_not_found(frame))
            return ExitCode.NOT_FOUND
        _print_count(frame, assets, job.json_out)
        return ExitCode.OK
    report = FrameReport(frame.name, frame.frame_id)
    reports.append(report)
    display.info(f"{frame.name}: listing frame {frame.frame_id} into {frame.file_path}")
    code = ExitCode.OK
    plan = None
    try:
        plan = await run.download(frame, report)
    except asyncio.CancelledError:
        report.interrupted = True
        raise
    except RateLimited:
        display.stop()
        display.summary(report)
        raise
    except (NotFound, LockHeld, StorageError) as exc:
        # This frame cannot go on; the others of an --all run still can.
        display.stop()
        report.error = _not_found(frame) if isinstance(exc, NotFound) else str(exc)
        display.error(report.error)
        code = {NotFound: ExitCode.NOT_FOUND, LockHeld: ExitCode.LOCKED}.get(
            type(exc), ExitCode.FAILED
        )
    display.stop()
    if plan is not None and job.options.download.dry_run and not job.json_out:
        for planned in plan.jobs:
            sys.stdout.write(f"would download {frame.file_path / planned.relpath}\n")
    if code in (ExitCode.OK, ExitCode.FAILED):
        display.summary(report)
    if job.json_out:
        _print_json(report)
    return max(code, ExitCode.FAILED if report.failed else ExitCode.OK)


def _verify(job: _Job) -> ExitCode:
    code = ExitCode.OK
    for name in job.names:
        try:
            report = verify_frame(job.settings.frame(name))
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
            sys.stdout.write(json.dumps(report.to_json()) + "\n")
    return code


def _not_found(frame: FrameConfig) -> str:
    return (
        f"frame [{frame.name}] not found: Aura does not know frame_id {frame.frame_id} "
        "or this account cannot see it (check it with: aura-async --list-frames)"
    )


def _print_json(report: FrameReport) -> None:
    sys.stdout.write(json.dumps(report.to_json()) + "\n")
    sys.stdout.flush()


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
        sys.stdout.write(json.dumps(counts) + "\n")
    else:
        sys.stdout.write(
            f"{frame.name}: {counts['assets']} photos ({counts['videos']} videos, "
            f"{counts['live_photos']} Live Photos; {counts['placeholders']} unfinished "
            "uploads not counted)\n"
        )


async def _list_frames(run: Runner, job: _Job) -> None:
    frames = await run.frames()
    by_id = {
        job.settings.frame_sections[n].get("frame_id", ""): n for n in job.settings.frame_names
    }
    if job.json_out:
        for frame in frames:
            sys.stdout.write(
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
        sys.stdout.write(f"{frame.id}  {frame.name or '(unnamed)'}  {photos} photos  {section}\n")


def _demo(demo_dir: Path, options: RunOptions, display: Display, json_out: bool) -> ExitCode:
    # Imported here: only --demo needs aiohttp.web, ~50 ms of every other run's start.
    from .emulator import Emulator, EmulatorConfig, FrameSpec

    async def run() -> ExitCode:
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
            reports: list[FrameReport] = []
            job = _Job(settings, ["demo"], options, display, json_out=json_out)
            code = await _main(job, reports)
        display.info(
            f"demo: done. Run it again: nothing is downloaded twice. Files are in {demo_dir}/"
        )
        return code

    try:
        return asyncio.run(run())
    except KeyboardInterrupt:
        display.stop()
        display.error("interrupted")
        return ExitCode.INTERRUPTED


def main() -> None:
    """Console-script entry point."""
    app(prog_name="aura-async")
