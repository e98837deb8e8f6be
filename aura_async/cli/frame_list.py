"""``aura-async --list-frames``: the account's frames (id, name, assets, config section) as
an aligned table on stdout, or one JSON object per frame.

Part of the CLI layer: it needs only ``[login]``; the frames come from the run's client,
and each is matched with the config section that names its id.
"""

from __future__ import annotations

from collections.abc import Sequence

from aura_async.cli.invocation import Invocation
from aura_async.download.session import Runner

__all__ = ["list_frames", "table"]


async def list_frames(run: Runner, job: Invocation) -> None:
    frames = await run.frames()
    by_id = {
        job.settings.frame_sections[n].get("frame_id", ""): n for n in job.settings.frame_names
    }
    if job.json_out:
        for frame in frames:
            job.out.json(
                {
                    "id": frame.id,
                    "name": frame.name,
                    "num_assets": frame.num_assets,
                    "section": by_id.get(frame.id),
                }
            )
        return
    if not frames:
        job.display.warning("this account has no frames")
        return
    rows = [("FRAME ID", "NAME", "ASSETS", "CONFIG SECTION")]
    for frame in frames:
        rows.append(
            (
                frame.id,
                frame.name or "(unnamed)",
                "?" if frame.num_assets is None else str(frame.num_assets),
                f"[{by_id[frame.id]}]" if frame.id in by_id else "(not in config)",
            )
        )
    job.out.write(table(rows))


def table(rows: Sequence[Sequence[str]]) -> str:
    """Rows as aligned columns, two spaces apart (numbers right-aligned), one per line."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    numeric = [
        all(row[i].isdigit() or row[i] == "?" for row in rows[1:]) for i in range(len(widths))
    ]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(row, widths, numeric, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"
