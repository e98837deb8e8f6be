"""What the command does once its options are parsed: download or count each frame, in one
event loop that Ctrl-C, SIGTERM and bugs end in one clear way.

Part of the CLI layer (with :mod:`aura_async.cli` and :mod:`aura_async.cli.console`): it
prints results on stdout, reports through the :class:`~aura_async.cli.console.Display`, and
turns outcomes into exit codes. ``--verify`` (:mod:`~aura_async.cli.verify`),
``--list-frames`` (:mod:`~aura_async.cli.frame_list`) and ``--demo``
(:mod:`~aura_async.cli.demo`) are beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from aura_async.cli.console import Display, Said
from aura_async.cli.frame_list import list_frames
from aura_async.cli.invocation import Invocation
from aura_async.cli.stdout import Stdout, stamped
from aura_async.cli.verify import verify
from aura_async.config import FrameConfig, Settings
from aura_async.download.session import Runner
from aura_async.exceptions import (
    AuraError,
    AuthError,
    ExitCode,
    NotFound,
    RateLimited,
    StorageError,
    WaitedTooLong,
)
from aura_async.plan.counting import AssetCount
from aura_async.plan.planner import Plan
from aura_async.report import FrameReport, plural

__all__ = ["ExitCode", "execute", "guarded", "run_invocation"]


def execute(job: Invocation) -> ExitCode:
    """Do what the command line asked; return the exit code."""
    if job.verify:
        try:
            code, damaged = verify(job)
        except KeyboardInterrupt:
            job.display.error("interrupted: --verify only reads, nothing was changed")
            return ExitCode.INTERRUPTED
        if not (job.repair and damaged):
            return code
        # Every missing file, and every changed one now set aside, is missing: a download
        # that restores missing files fetches them all again.
        download = replace(job.options.download, restore_missing=True)
        job = replace(
            job, names=damaged, verify=False, options=replace(job.options, download=download)
        )
    return guarded(job.display, job.out if job.json_out else None, lambda u: run_invocation(job, u))


def guarded(
    display: Display,
    json_out: Stdout | None,
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
            report.exit_code = ExitCode.INTERRUPTED
            report.finished_at = report.finished_at or time.time()
            display.summary(report)
            if json_out is not None:
                json_out.json(report.to_json())
        display.error(
            "interrupted: downloaded files are kept; the next run fetches the rest, "
            "resuming any .part"
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
    """Let SIGTERM (systemctl stop, timeout, shutdown) and SIGHUP (the SSH session or the
    terminal closed) stop the run as Ctrl-C does: a summary, exit 130, ``.part`` kept. A
    signal the run was started ignoring stays ignored (``nohup`` ignores SIGHUP)."""
    task = asyncio.current_task()
    if task is None:
        return
    loop = asyncio.get_running_loop()
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)  # Windows has no SIGHUP
        if number is not None and signal.getsignal(number) is not signal.SIG_IGN:
            with contextlib.suppress(NotImplementedError, RuntimeError):  # nor such handlers
                loop.add_signal_handler(number, task.cancel)


async def run_invocation(job: Invocation, unreported: list[FrameReport]) -> ExitCode:
    display = job.display
    _stop_on_sigterm()
    try:
        async with Runner(job.settings, job.options, on_event=job.on_event, seams=job.seams) as run:
            display.secrets.update(run.client.secrets())
            if job.list_frames:
                await list_frames(run, job)
                return ExitCode.OK
            codes = []
            for name in job.names:
                code, stop = await _frame(run, job.settings.frame(name), job, unreported)
                codes.append(code)
                if stop:
                    break  # the account or the server, not this frame: the others would fail too
            else:
                codes.append(job.unmatched_uploaders())
            return _overall(codes)
    except AuraError as exc:  # logging in, or listing the account's frames
        display.error(_login_hint(exc, job.settings))
        return exc.exit_code


def _login_hint(exc: AuraError, settings: Settings) -> str:
    """A refused login says what to check, and where the credentials came from."""
    if not (isinstance(exc, AuthError) and exc.status == 475):
        return str(exc)
    where = f"[login] of {settings.config_path}"
    if settings.login_from:
        where = f"{settings.login_from} (set, so they override {where})"
    return Said(
        "login refused (HTTP 475): wrong email or password, or Aura locked the account for "
        f"a while after refused logins; check the email and password in {where}"
    )


async def _frame(
    run: Runner, frame: FrameConfig, job: Invocation, unreported: list[FrameReport]
) -> tuple[ExitCode, bool]:
    """Do one frame; returns its exit code and whether the error stops the run."""
    display = job.display
    if job.count:
        started = time.time()
        try:
            counted = await run.count(frame)
        except NotFound:
            display.error(_not_found(frame))
            if job.json_out:
                failed = {"frame": frame.name, "error": _not_found(frame)}
                job.out.json(stamped(failed, started, ExitCode.NOT_FOUND))
            return ExitCode.NOT_FOUND, False
        _print_count(counted, job, started)
        return ExitCode.OK, False
    report = FrameReport(frame.name, frame.frame_id)
    started = time.time()
    unreported.append(report)  # until its summary below: an interruption prints it
    display.info(f"{frame.name}: listing frame {frame.frame_id} into {frame.file_path}")
    code = ExitCode.OK
    stop = False
    plan: Plan | None = None
    try:
        plan = await run.download(frame, report)
    except AuraError as exc:
        # This frame cannot go on. Login trouble and endless throttling stop the whole run
        # (see run_invocation); anything else lets the other frames of an --all run go on.
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
        elif isinstance(exc, NotFound):
            report.error = _not_found(frame)
        elif isinstance(exc, StorageError):
            report.error = (
                f"{exc}: check that this user can write to {frame.file_path} (file_path of "
                f"[{frame.name}] in {job.settings.config_path}), and that its disk has room"
            )
        else:
            report.error = str(exc)
        display.error(report.error)
        code, stop = exc.exit_code, exc.stops_run
    unreported.remove(report)
    display.stop()
    display.secrets.update(run.client.secrets())  # a token renewed during the frame
    dry_run = plan is not None and job.options.download.dry_run
    code = max(code, ExitCode.FAILED if report.failed else ExitCode.OK)
    report.exit_code = code
    report.started_at = report.started_at or started
    report.finished_at = report.finished_at or time.time()
    if plan is not None and dry_run:
        display.info(_dry_run_line(report, plan))
    elif code in (ExitCode.OK, ExitCode.FAILED, ExitCode.THROTTLED):
        display.summary(report)
    if job.json_out:
        summary = report.to_json()
        if plan is not None and dry_run:
            summary["would_download"] = plan.job_count
        job.out.json(summary)
    return code, stop


def _dry_run_line(report: FrameReport, plan: Plan) -> str:
    """The last line of a ``--dry-run``: what a download would fetch (the listing has no
    sizes, so files, not bytes)."""
    line = (
        f"{report.frame}: dry run: {plural(plan.job_count, 'file')} would be downloaded, "
        f"{report.skipped} already here"
    )
    for count, what in (
        (report.missing, "missing locally (not fetched without --restore-missing)"),
        (report.excluded, "left out by the selection"),
        (report.placeholders, "placeholders"),
    ):
        if count:
            line += f", {count} {what}"
    return line + "; nothing was written"


def _not_found(frame: FrameConfig) -> str:
    return (
        f"frame [{frame.name}] not found: Aura does not know frame_id {frame.frame_id} "
        "or this account cannot see it (check it with: aura-async --list-frames)"
    )


def _print_count(counted: AssetCount, job: Invocation, started: float) -> None:
    job.note_uploaders(counted.frame, counted.uploaders)
    if job.json_out:
        job.out.json(stamped(counted.to_json(), started, ExitCode.OK))
        return
    line = (
        f"{counted.frame}: {plural(counted.assets, 'asset')} "
        f"({plural(counted.photos, 'photo')}, {plural(counted.videos, 'video')}, "
        f"{plural(counted.live_photos, 'Live Photo')}): {plural(counted.files, 'file')}"
    )
    if counted.excluded:
        line += f" selected, {counted.excluded} left out by the selection"
    if counted.placeholders:
        line += f"; {plural(counted.placeholders, 'placeholder')} (unfinished uploads) not counted"
    job.out.write(line + "\n")
