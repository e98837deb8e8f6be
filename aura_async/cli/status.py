"""``aura-async --status``: each frame's folder as its state describes it, no network.

Part of the CLI layer: it renders :class:`~aura_async.store.status.FolderStatus` as lines
on stdout, or one JSON object per frame.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from aura_async.cli.console import Display
from aura_async.cli.stdout import Stdout
from aura_async.config import Settings
from aura_async.exceptions import AuraError, ExitCode
from aura_async.report import human_bytes, local_time
from aura_async.store.status import FolderStatus, read_status, run_exit_code

__all__ = ["show_status", "status_json", "status_text"]


def show_status(
    settings: Settings, names: list[str], display: Display, out: Stdout, *, json_out: bool
) -> ExitCode:
    """Print the status of each frame; exit 1 if a state could not be read."""
    code = ExitCode.OK
    now = time.time()
    for name in names:
        frame = settings.frame(name)
        try:
            status = read_status(frame.file_path, name)
        except AuraError as exc:
            display.error(str(exc))
            code = ExitCode.FAILED
            continue
        if json_out:
            out.json(status_json(name, status))
        else:
            out.write(("\n" if name != names[0] else "") + status_text(name, status, now))
    return code


def _when(when: float, now: float) -> str:
    stamp = datetime.fromtimestamp(when).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    ago = now - when
    if ago < 0:
        return stamp
    for unit, seconds in (("d", 86400), ("h", 3600), ("min", 60)):
        if ago >= seconds:
            return f"{stamp} ({ago / seconds:.0f} {unit} ago)"
    return f"{stamp} ({ago:.0f} s ago)"


def status_text(name: str, status: FolderStatus, now: float) -> str:
    """The lines ``--status`` prints for one frame."""
    rows = [(f"{name}", str(status.folder))]
    if not status.has_state:
        rows.append(("state", "none yet: nothing was downloaded into this folder"))
    else:
        rows.append(("last run", _last_run(name, status, now)))
        rows.append(("complete listing", _listing(status, now)))
        if status.caught_up is not None:
            rows.append(
                (
                    "caught up",
                    "yes: nothing was left to fetch; --until-found may stop listing early"
                    if status.caught_up
                    else "no: files are left to fetch, or no listing was read whole; the "
                    "next run lists the whole frame",
                )
            )
        removed = f" ({status.removed} removed from the frame)" if status.removed else ""
        rows.append(("files recorded", f"{status.files}{removed}"))
        missing = len(status.missing)
        rows.append(
            ("missing locally", f"{missing} (--restore-missing fetches them)" if missing else "0")
        )
    rows.append(
        (
            "lock",
            f"held by {status.lock_holder}: a run is under way"
            if status.lock_holder
            else "free: no run is under way",
        )
    )
    width = max(len(label) for label, _ in rows[1:]) + 1
    head, *rest = rows
    lines = [f"{head[0]}  {head[1]}"] + [f"  {label + ':':<{width}} {text}" for label, text in rest]
    return "\n".join(lines) + "\n"


def _last_run(name: str, status: FolderStatus, now: float) -> str:
    run = status.last_run
    if run is None:
        return "none recorded"
    summary = run.summary
    code, recorded = run_exit_code(summary)
    if code is None:
        outcome = "exit code not recorded (the run stopped on an error)"
    elif recorded:
        outcome = f"exit {code}"
    else:
        outcome = f"exit {code} (derived: this run predates recorded exit codes)"
    text = (
        f"{_when(run.started, now)}, {run.finished - run.started:.1f} s, {outcome}: "
        f"{summary.get('downloaded', 0)} downloaded, {summary.get('skipped', 0)} skipped, "
        f"{summary.get('failed', 0)} failed, {human_bytes(int(summary.get('bytes', 0)))}"
    )
    if summary.get("interrupted"):
        text += ", interrupted"
    if run.frame != name:
        text += f" (recorded as [{run.frame}])"
    if summary.get("error"):
        text += f"; {summary['error']}"
    return text


def _listing(status: FolderStatus, now: float) -> str:
    if status.complete_listing is not None:
        return _when(status.complete_listing, now)
    if status.complete_listing_recorded:
        return "none yet (every run stopped listing early: --until-found, or cut short)"
    seen = (
        f"; every file still listed was seen in a listing since {_when(status.seen_since, now)}"
        if status.seen_since is not None
        else ""
    )
    return f"not recorded in this folder's state{seen}"


def status_json(name: str, status: FolderStatus) -> dict[str, Any]:
    """The ``--status --json`` object of one frame."""
    run = status.last_run
    last: dict[str, Any] | None = None
    if run is not None:
        code, recorded = run_exit_code(run.summary)
        last = {
            "started_at": local_time(run.started),
            "finished_at": local_time(run.finished),
            "seconds": round(run.finished - run.started, 3),
            "exit_code": code,
            "exit_code_recorded": recorded,
            **{
                key: run.summary.get(key)
                for key in ("downloaded", "skipped", "failed", "bytes", "interrupted", "error")
            },
        }
    return {
        "frame": name,
        "folder": str(status.folder),
        "has_state": status.has_state,
        "last_run": last,
        "last_complete_listing": local_time(status.complete_listing),
        "last_complete_listing_recorded": status.complete_listing_recorded,
        "caught_up": status.caught_up,
        "files_seen_since": local_time(status.seen_since),
        "files_recorded": status.files,
        "removed_from_frame": status.removed,
        "missing_locally": len(status.missing),
        "locked": status.lock_holder is not None,
        "lock_holder": status.lock_holder,
    }
