"""The ``aura-async`` command: its options, checked, then handed to
:mod:`aura_async.cli.actions`.

The CLI layer (the modules of :mod:`aura_async.cli`) is the only code that prints, exits or
reads the environment.

Exit codes (DESIGN.md): 0 nothing failed; 1 some files failed; 2 usage or config error;
3 login failed; 4 frame not found; 5 gave up because the server kept throttling; 6 another
run holds the lock; 130 interrupted.
"""

from __future__ import annotations

import gc
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated, TextIO
from urllib.parse import urlsplit

import typer

from aura_async._version import __version__
from aura_async.cli.actions import execute
from aura_async.cli.console import Display
from aura_async.cli.demo import run_demo
from aura_async.cli.flags import check_flags, checked_selection
from aura_async.cli.help import (
    ACTIONS,
    LAYOUT,
    MAINTENANCE,
    METADATA,
    NETWORK,
    SCRIPTING,
    SELECTION,
    AuraCommand,
    error_line,
)
from aura_async.cli.invocation import Invocation
from aura_async.cli.logfile import open_log
from aura_async.cli.setup import run_setup, terminal_prompts
from aura_async.cli.status import show_status
from aura_async.cli.stdout import Stdout, run_object
from aura_async.config import Settings, default_config_path, load_settings
from aura_async.exceptions import ConfigError, ExitCode
from aura_async.options import DEFAULT_MAX_WAIT, DEFAULT_RATE, DownloadOptions, RunOptions, Timeouts
from aura_async.pacing.retry import RetryPolicy
from aura_async.plan.selection import Dedupe
from aura_async.plan.templates import DEFAULT_NAME, Templates
from aura_async.seams import Seams

__all__ = ["ExitCode", "app", "main"]


app = typer.Typer(
    add_completion=False,  # AuraCommand adds them only when they are used
    rich_markup_mode=None,
    pretty_exceptions_enable=False,  # never print locals (they hold the password)
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    """``aura-async 0.1.0 from /path/to/aura_async (Python 3.11.7)``: which install runs,
    as ``pip --version`` says (a venv's editable install may run another checkout)."""
    if value:
        package = Path(__file__).resolve().parents[1]
        typer.echo(f"aura-async {__version__} from {package} (Python {platform.python_version()})")
        raise typer.Exit()


@app.command(
    cls=AuraCommand,
    help="Download every photo, video and Live Photo of your Aura frames into local folders, "
    "and keep them up to date. FRAME is a section of the config file, an INI file with "
    "[login] (email, password) and one section per frame (frame_id, file_path); "
    "aura-async --setup writes it for you.",
    epilog="Exit codes: 0 ok, 1 some files failed, 2 usage/config error, 3 login failed, "
    "4 frame not found, 5 server kept throttling, 6 folder locked by another run, "
    "130 interrupted.",
)
def command(
    ctx: typer.Context,
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
            rich_help_panel=ACTIONS,
            metavar="FILE",
            help="Config file [default: $AURA_CONFIG or ~/etc/aura/credentials.ini].",
            show_default=False,
        ),
    ] = None,
    all_frames: Annotated[
        bool,
        typer.Option(
            "--all",
            rich_help_panel=ACTIONS,
            help="Download every frame in the config file, with one login.",
        ),
    ] = False,
    list_frames: Annotated[
        bool,
        typer.Option(
            "--list-frames",
            rich_help_panel=ACTIONS,
            help="Print the account's frames (name, id, photos) and exit; needs only [login].",
        ),
    ] = False,
    count: Annotated[
        bool,
        typer.Option(
            "--count",
            rich_help_panel=ACTIONS,
            help="Print the number of photos in each frame, then exit.",
        ),
    ] = False,
    years: Annotated[
        bool,
        typer.Option(
            "--years",
            help="Save files under FILE_PATH/YYYY/ by the year they were taken.",
            rich_help_panel=LAYOUT,
        ),
    ] = False,
    folder_template: Annotated[
        str | None,
        typer.Option(
            "--folder-template",
            rich_help_panel=LAYOUT,
            help="Sub-folders from tokens {year} {month} {day} {taken_at} {uploader} {frame} "
            "{id}, '/'-separated; --years is \"{year}\".",
            show_default=False,
        ),
    ] = None,
    name_template: Annotated[
        str,
        typer.Option(
            "--name-template",
            rich_help_panel=LAYOUT,
            help="File names from tokens, also {taken_at} and {ext}; must keep {id} and {ext}.",
        ),
    ] = DEFAULT_NAME,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            "-j",
            min=1,
            max=64,
            metavar="N",
            help="Files downloaded at once.",
            rich_help_panel=NETWORK,
        ),
    ] = 4,
    rate: Annotated[
        float,
        typer.Option(
            "--rate",
            rich_help_panel=NETWORK,
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
            rich_help_panel=NETWORK,
            min=0.0,
            metavar="SECONDS",
            help="Most time a run waits in all for Aura's throttling (Retry-After, closed "
            "quota windows) before it gives up with exit 5.",
        ),
    ] = DEFAULT_MAX_WAIT,
    include_hidden: Annotated[
        bool,
        typer.Option(
            "--include-hidden",
            rich_help_panel=SELECTION,
            help="Also download photos hidden from the slideshow.",
        ),
    ] = False,
    no_videos: Annotated[
        bool,
        typer.Option(
            "--no-videos", rich_help_panel=SELECTION, help="Skip video clips and Live Photo motion."
        ),
    ] = False,
    videos_only: Annotated[
        bool,
        typer.Option(
            "--videos-only",
            rich_help_panel=SELECTION,
            help="Only video clips and Live Photo motion, no stills.",
        ),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            rich_help_panel=SELECTION,
            help="Only photos taken on or after DATE (YYYY[-MM[-DD]]).",
            metavar="DATE",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            rich_help_panel=SELECTION,
            help="Only photos taken on or before DATE (YYYY[-MM[-DD]]).",
            metavar="DATE",
            show_default=False,
        ),
    ] = None,
    uploader: Annotated[
        list[str] | None,
        typer.Option(
            "--uploader",
            rich_help_panel=SELECTION,
            help="Only photos uploaded by NAME (repeatable).",
            metavar="NAME",
            show_default=False,
        ),
    ] = None,
    until_found: Annotated[
        int | None,
        typer.Option(
            "--until-found",
            rich_help_panel=SELECTION,
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
            rich_help_panel=SELECTION,
            help="Download again files you moved away or deleted after a download.",
        ),
    ] = False,
    dedupe: Annotated[
        Dedupe,
        typer.Option(
            "--dedupe",
            rich_help_panel=SELECTION,
            help="The same photo uploaded twice: hard-link the second "
            "name to the first copy, skip it, or download it (off).",
        ),
    ] = Dedupe.HARDLINK,
    sidecars: Annotated[
        str,
        typer.Option(
            "--sidecars",
            rich_help_panel=METADATA,
            metavar="<json|xmp|off>",
            help="Write a sidecar beside each file: json, xmp or off.",
        ),
    ] = "off",
    write_exif: Annotated[
        bool,
        typer.Option(
            "--write-exif",
            rich_help_panel=METADATA,
            help="Add date, place, uploader and caption to "
            "downloaded JPEGs without EXIF (no re-encoding).",
        ),
    ] = False,
    save_assets: Annotated[
        Path | None,
        typer.Option(
            "--save-assets",
            rich_help_panel=METADATA,
            metavar="FILE",
            help="Save the frame's raw listing as JSON to FILE.",
            show_default=False,
        ),
    ] = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            rich_help_panel=MAINTENANCE,
            help="Re-hash local files against the state and report "
            "missing or changed ones (no network); exit 1 if any.",
        ),
    ] = False,
    setup: Annotated[
        bool,
        typer.Option(
            "--setup",
            rich_help_panel=ACTIONS,
            help="Write the config file: log in, list the account's frames, pick a folder "
            "for each; run again to add frames. Asks nothing with AURA_EMAIL and "
            "AURA_PASSWORD set. With --config -, print the file instead.",
        ),
    ] = False,
    status: Annotated[
        bool,
        typer.Option(
            "--status",
            rich_help_panel=ACTIONS,
            help="Print each frame's last run, last complete listing, files recorded and "
            "missing, and whether a run holds its folder now (no network; all frames "
            "without FRAME).",
        ),
    ] = False,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            rich_help_panel=MAINTENANCE,
            help="With --verify: download again every missing or changed file; a changed "
            "file is kept beside it as NAME.changed-DATE.",
        ),
    ] = False,
    no_keep: Annotated[
        bool,
        typer.Option(
            "--no-keep",
            rich_help_panel=MAINTENANCE,
            help="With --verify --repair: delete changed files instead of keeping them.",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            rich_help_panel=ACTIONS,
            help="Print what would be downloaded; write nothing.",
        ),
    ] = False,
    json_out: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON summary per frame on stdout (logs go to stderr).",
            rich_help_panel=SCRIPTING,
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="Only warnings, errors, and the summary of a run that failed.",
            rich_help_panel=SCRIPTING,
        ),
    ] = False,
    log_file: Annotated[
        Path | None,
        typer.Option(
            "--log-file",
            help="Also append plain log lines to this file.",
            show_default=False,
            rich_help_panel=SCRIPTING,
        ),
    ] = None,
    connect_timeout: Annotated[
        float,
        typer.Option(
            "--connect-timeout",
            rich_help_panel=NETWORK,
            min=1.0,
            metavar="SECONDS",
            help="Seconds to wait for a connection.",
        ),
    ] = 30.0,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            rich_help_panel=NETWORK,
            min=1.0,
            metavar="SECONDS",
            help="Seconds of network silence before a retry.",
        ),
    ] = 60.0,
    retries: Annotated[
        int,
        typer.Option(
            "--retries",
            min=1,
            max=100,
            metavar="N",
            help="Attempts per file before it fails.",
            rich_help_panel=NETWORK,
        ),
    ] = 8,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", rich_help_panel=SCRIPTING, help="Show per-file detail and retries."
        ),
    ] = False,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Run against a built-in emulated Aura: no account, no network.",
            rich_help_panel=ACTIONS,
        ),
    ] = False,
    demo_dir: Annotated[
        Path,
        typer.Option("--demo-dir", rich_help_panel=ACTIONS, help="Where --demo saves its files."),
    ] = Path("aura-demo"),
    version: Annotated[
        bool | None,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Print the version and exit.",
            rich_help_panel=MAINTENANCE,
        ),
    ] = None,
) -> None:
    out = Stdout()
    started = time.time()
    display: Display | None = None
    log_handle: TextIO | None = None
    error: str | None = None
    try:
        names = list(frames or [])
        layout = Templates(folder="{year}" if years else folder_template or "", name=name_template)
        selection = checked_selection(videos_only, no_videos, since, until, uploader)
        check_flags(
            names,
            no_videos=no_videos,
            videos_only=videos_only,
            years=years,
            folder_template=folder_template,
            sidecars=sidecars,
            demo=demo,
            all_frames=all_frames,
            list_frames=list_frames,
            count=count,
            verify=verify,
            status=status,
            dry_run=dry_run,
            setup=setup,
            repair=repair,
            no_keep=no_keep,
        )
        layout.validate()
        log_handle = open_log(log_file)
        display = Display(
            sys.stderr,
            interactive=sys.stderr.isatty(),
            quiet=quiet,
            debug=debug,
            log_file=log_handle,
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
        if setup:
            try:
                code = run_setup(config, os.environ, display, out, terminal_prompts())
            except KeyboardInterrupt:
                typer.echo(err=True)  # off the line of the question
                display.error("interrupted: nothing was written")
                code = ExitCode.INTERRUPTED
        elif demo:
            code = run_demo(demo_dir, options, display, out, json_out)
        else:
            settings = _settings(config, display)
            if all_frames or (status and not names):  # --status alone: every frame
                names = settings.frame_names
                if not names:
                    raise settings.no_frames()
            for name in names:
                settings.frame(name)  # every name checked before any request
            options = _one_listing_per_frame(options, len(names))
            if status:
                code = show_status(settings, names, display, out, json_out=json_out)
            else:
                code = execute(
                    Invocation(
                        settings,
                        names,
                        options,
                        display,
                        out,
                        list_frames=list_frames,
                        count=count,
                        verify=verify,
                        repair=repair,
                        keep_changed=not no_keep,
                        json_out=json_out,
                        uploaders=tuple(uploader or ()),
                        seams=_seams(ctx),
                    )
                )
    except ConfigError as exc:
        error, code = str(exc), exc.exit_code
        if display is not None:
            display.stop()
            display.log_only("ERROR", error)
        typer.echo(error_line(error), err=True)
    finally:
        if display is not None:
            display.stop()
        if log_handle is not None:
            log_handle.close()
    if json_out and not out.json_lines:  # nothing got started: one object for the run
        last = error or (display.last_error if display is not None else None)
        out.json(run_object(started, time.time(), code, last))
    raise typer.Exit(code)


def _seams(ctx: typer.Context) -> Seams | None:
    """The run's seams when the caller gave some as Click's context object (tests:
    ``CliRunner().invoke(app, args, obj=Seams(sleep=...))``), else ``None`` (the real ones)."""
    return ctx.obj if isinstance(ctx.obj, Seams) else None


def _one_listing_per_frame(options: RunOptions, frames: int) -> RunOptions:
    """With several frames, ``--save-assets x.json`` writes ``x-{frame}.json`` each, so no
    frame's listing overwrites another's."""
    target = options.download.save_assets
    if target is None or frames < 2 or "{frame}" in target.name:
        return options
    named = target.with_name(f"{target.stem}-{{frame}}{target.suffix}")
    return replace(options, download=replace(options.download, save_assets=named))


def _settings(config: Path | None, display: Display) -> Settings:
    path = config.expanduser() if config is not None else default_config_path(os.environ)
    settings = load_settings(path, os.environ)
    display.secrets.add(settings.password)
    for url in (settings.api_url, settings.image_url):  # http://user:password@host
        password = urlsplit(url).password
        if password:
            display.secrets.add(password)
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
