"""The ``aura-async`` command: its options, checked, then handed to :mod:`aura_async.actions`.

The CLI layer (this module, :mod:`~aura_async.actions` and :mod:`~aura_async.console`) is
the only code that prints, exits or reads the environment.

Exit codes (DESIGN.md): 0 nothing failed; 1 some files failed; 2 usage or config error;
3 login failed; 4 frame not found; 5 gave up because the server kept throttling; 6 another
run holds the lock; 130 interrupted.
"""

from __future__ import annotations

import gc
import os
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Annotated, TextIO

import typer

from aura_async._version import __version__
from aura_async.cli.actions import Invocation, execute, run_demo
from aura_async.cli.console import Display
from aura_async.config import Settings, default_config_path, load_settings
from aura_async.exceptions import ConfigError, ExitCode
from aura_async.options import DEFAULT_MAX_WAIT, DEFAULT_RATE, DownloadOptions, RunOptions, Timeouts
from aura_async.pacing.retry import RetryPolicy
from aura_async.plan.selection import Dedupe, Selection
from aura_async.plan.templates import DEFAULT_NAME, Templates

__all__ = ["ExitCode", "app", "main"]


app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,  # never print locals (they hold the password)
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
            metavar="[FRAME]...",
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
            help="Sub-folders from tokens {year} {month} {day} {taken_at} {uploader} {frame} "
            "{id}, '/'-separated; --years is \"{year}\".",
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
        int,
        typer.Option(
            "--concurrency", "-j", min=1, max=64, metavar="N", help="Files downloaded at once."
        ),
    ] = 4,
    rate: Annotated[
        float,
        typer.Option(
            "--rate",
            min=0.0,
            metavar="PER_SECOND",
            help="Most media requests per second (0: no ceiling); lowered automatically "
            "while Aura throttles.",
        ),
    ] = DEFAULT_RATE,
    max_wait: Annotated[
        float,
        typer.Option(
            "--max-wait",
            min=0.0,
            metavar="SECONDS",
            help="Most time a run waits in all for Aura's throttling (Retry-After, closed "
            "quota windows) before it gives up with exit 5.",
        ),
    ] = DEFAULT_MAX_WAIT,
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
        typer.Option(
            "--sidecars",
            metavar="<json|xmp|off>",
            help="Write a sidecar beside each file: json, xmp or off.",
        ),
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
        typer.Option(
            "--connect-timeout",
            min=1.0,
            metavar="SECONDS",
            help="Seconds to wait for a connection.",
        ),
    ] = 30.0,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=1.0,
            metavar="SECONDS",
            help="Seconds of network silence before a retry.",
        ),
    ] = 60.0,
    retries: Annotated[
        int,
        typer.Option(
            "--retries", min=1, max=100, metavar="N", help="Attempts per file before it fails."
        ),
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
    if demo and (names or all_frames or list_frames or count or verify):
        raise _fail(
            "--demo runs on its own; drop the frame names and other actions", ExitCode.USAGE
        )
    if list_frames and (names or all_frames or count or verify):
        raise _fail("--list-frames takes no frame names and no other action", ExitCode.USAGE)
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
        sys.stderr, interactive=interactive, quiet=quiet, debug=debug, log_file=log_handle
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
        max_wait=max_wait,
        timeouts=Timeouts(connect=connect_timeout, read=timeout),
    )
    try:
        if demo:
            code = run_demo(demo_dir, options, display, json_out)
        else:
            settings = _settings(config, display)
            if all_frames:
                names = settings.frame_names
                if not names:
                    raise ConfigError(f"config file {settings.config_path}: no frame sections")
            for name in names:
                settings.frame(name)  # every name checked before any request
            options = _one_listing_per_frame(options, len(names))
            code = execute(
                Invocation(
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


def _one_listing_per_frame(options: RunOptions, frames: int) -> RunOptions:
    """With several frames, ``--save-assets x.json`` writes ``x-{frame}.json`` each, so no
    frame's listing overwrites another's."""
    target = options.download.save_assets
    if target is None or frames < 2 or "{frame}" in target.name:
        return options
    named = target.with_name(f"{target.stem}-{{frame}}{target.suffix}")
    return replace(options, download=replace(options.download, save_assets=named))


def _date(value: str | None, flag: str) -> str | None:
    """Check a YYYY, YYYY-MM or YYYY-MM-DD date (compared with taken_at's prefix)."""
    if value is None:
        return None
    formats = {4: "%Y", 7: "%Y-%m", 10: "%Y-%m-%d"}
    try:
        datetime.strptime(value, formats[len(value)])
    except (KeyError, ValueError):
        raise ConfigError(
            f"{flag} takes a date like 2024, 2024-06 or 2024-06-30, not {value!r}"
        ) from None
    return value


def _settings(config: Path | None, display: Display) -> Settings:
    path = config.expanduser() if config is not None else default_config_path(os.environ)
    settings = load_settings(path, os.environ)
    display.secrets.add(settings.password)
    for warning in settings.warnings:
        display.warning(warning)
    return settings


GC_THRESHOLD = (10_000, 20, 20)
"""The collector runs after this many new objects (Python's default: 700, 10, 10)."""


def main() -> None:
    """Console-script entry point."""
    # The collector's passes were 4-5 % of a 1,000-photo run's CPU (perf, issue 6): it kept
    # rescanning the ~40,000 objects of the imported modules, and ran every 700 objects
    # while aiohttp makes a few hundred per request. Freeze what startup made, collect less
    # often: 4.6 % less CPU in benchmarks/peers.py; peak RSS the same within 1 MB on clean
    # runs, up to 10 MB more in a run where 40 % of requests fail (tracebacks wait longer).
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
    app(prog_name="aura-async")
