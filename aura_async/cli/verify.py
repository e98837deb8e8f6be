"""``aura-async FRAME --verify [--repair]``: each frame's recorded files checked against the
state, no network; with ``--repair``, the changed ones set aside for a download.

Part of the CLI layer: it shows what :func:`~aura_async.store.verify.verify_frame` found,
prints one ``--json`` object per frame, and returns the exit code and the frames that a
repair downloads again (:func:`~aura_async.cli.actions.execute` runs that download).
"""

from __future__ import annotations

import time
from datetime import datetime

from aura_async.cli.invocation import Invocation
from aura_async.cli.stdout import stamped
from aura_async.exceptions import AuraError, ExitCode, LockHeld
from aura_async.store.verify import set_aside, verify_frame

__all__ = ["verify"]


def verify(job: Invocation) -> tuple[ExitCode, list[str]]:
    """Verify each frame; returns the exit code and the frames with files to repair (whose
    changed files ``--repair`` has set aside by then)."""
    code = ExitCode.OK
    display = job.display
    damaged: list[str] = []
    for name in job.names:
        started = time.time()
        try:
            frame = job.settings.frame(name)
            display.info(f"{name}: verifying the files recorded in {frame.file_path}")
            report = verify_frame(frame)
        except LockHeld as exc:
            display.error(f"{name}: the folder is busy: {exc}; verify it once that run ends")
            code = max(code, ExitCode.LOCKED)
            continue
        except AuraError as exc:
            display.error(str(exc))
            code = ExitCode.FAILED
            continue
        for relpath in report.missing:
            display.warning(f"missing {relpath}")
        for relpath in report.changed:
            display.warning(f"changed {relpath}")
        if report.ok:
            display.info(report.summary_line())
        else:
            display.error(report.summary_line())
            code = ExitCode.FAILED
            if not job.repair:
                display.info(
                    f"{name}: to download them again: aura-async {name} --verify --repair "
                    "(changed files are kept as NAME.changed-DATE; --no-keep deletes them)"
                )
        if job.json_out:
            frame_code = ExitCode.OK if report.ok else ExitCode.FAILED
            job.out.json(stamped(report.to_json(), started, frame_code))
        if job.repair and not report.ok:
            try:
                kept = set_aside(
                    frame.file_path,
                    report.changed,
                    datetime.now().astimezone().strftime("%Y-%m-%d"),
                    keep=job.keep_changed,
                )
            except AuraError as exc:
                display.error(str(exc))
                code = ExitCode.FAILED
                continue
            for path in kept:
                display.info(f"kept the changed file as {path}")
            damaged.append(name)
    return code, damaged
